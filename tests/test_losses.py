import math

import pytest
import torch

from gancourse import losses


def naive_value(real_logits, fake_logits):
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()


def test_value_function_matches_hand_computed_value():
    # D(x) = sigmoid(0) = 1/2 on both: V = log(1/2) + log(1/2) = -log 4.
    assert losses.value_function(torch.zeros(5), torch.zeros(5)).item() == pytest.approx(
        -math.log(4)
    )
    real, fake = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    assert losses.value_function(real, fake).item() == pytest.approx(naive_value(real, fake).item())


def test_discriminator_loss_is_minus_half_v_and_binary_cross_entropy():
    real, fake = torch.randn(16, 1), torch.randn(16, 1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = 0.5 * (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)))
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(
        -0.5 * losses.value_function(real, fake).item()
    )


@pytest.mark.parametrize(
    ("name", "d_of_gz", "expected"),
    [
        ("minimax", 0.25, 0.5 * math.log(0.75)),
        ("non_saturating", 0.25, -0.5 * math.log(0.25)),
        ("maximum_likelihood", 0.25, -0.5 * 0.25 / 0.75),  # exp(logit) = D / (1 - D)
    ],
)
def test_generator_costs_against_hand_computed_values(name, d_of_gz, expected):
    logit = torch.tensor([math.log(d_of_gz / (1 - d_of_gz))])
    assert losses.generator_loss(name)(logit).item() == pytest.approx(expected, rel=1e-6)


def test_generator_gradients_with_respect_to_the_logit():
    # d/da of 1/2 log(1 - sigmoid(a)) = -sigmoid(a)/2; of -1/2 log sigmoid(a) = -(1 - sigmoid(a))/2.
    a = torch.tensor([-4.6], requires_grad=True)  # D(G(z)) = 0.01: D rejects the sample
    (grad_minimax,) = torch.autograd.grad(losses.minimax(a), a)
    (grad_ns,) = torch.autograd.grad(losses.non_saturating(a), a)
    d = torch.sigmoid(a).item()
    assert grad_minimax.item() == pytest.approx(-d / 2, rel=1e-5)
    assert grad_ns.item() == pytest.approx(-(1 - d) / 2, rel=1e-5)
    assert abs(grad_ns.item()) > 50 * abs(grad_minimax.item())  # minimax saturates


@pytest.mark.parametrize("name", list(losses.GENERATOR_LOSSES))
@pytest.mark.parametrize("logit", [-1e4, -100.0, 100.0, 1e4])
def test_losses_and_gradients_stay_finite_at_extreme_logits(name, logit):
    a = torch.tensor([logit], requires_grad=True)
    cost = losses.generator_loss(name)(a)
    (grad,) = torch.autograd.grad(cost, a)
    assert torch.isfinite(cost) and torch.isfinite(grad)
    d = losses.discriminator_loss(torch.tensor([logit]), torch.tensor([-logit]))
    assert torch.isfinite(d)


def test_unknown_generator_loss_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown generator loss 'minmax': choose one of minimax"):
        losses.generator_loss("minmax")


@pytest.mark.parametrize("shape", [(4, 2), (2, 3, 1), (0,)])
def test_wrong_logit_shapes_are_clear_errors(shape):
    with pytest.raises(ValueError, match=r"fake_logits (has shape|is empty)"):
        losses.non_saturating(torch.zeros(shape))


def test_logits_must_be_tensors():
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        losses.minimax([0.0, 1.0])


def test_wasserstein_losses_are_differences_of_means():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([[0.5], [-0.5]])
    assert losses.wasserstein_critic_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert losses.wasserstein_generator_loss(fake).item() == pytest.approx(0.0)


def test_interpolates_use_one_epsilon_per_sample():
    torch.manual_seed(0)
    real, fake = torch.ones(64, 1, 4, 4), torch.zeros(64, 1, 4, 4)
    x_hat = losses.interpolates(real, fake)
    # between ones and zeros, x_hat is eps itself: constant within a sample, varying across them
    per_sample = x_hat.flatten(1)
    assert torch.equal(per_sample.min(dim=1).values, per_sample.max(dim=1).values)
    assert per_sample[:, 0].std() > 0.2
    assert per_sample.min() >= 0 and per_sample.max() <= 1


def test_gradient_penalty_is_zero_for_a_unit_slope_linear_critic():
    torch.manual_seed(0)
    w = torch.tensor([0.6, 0.8])  # |w| = 1
    penalty = losses.gradient_penalty(lambda x: x @ w, torch.randn(32, 2), torch.randn(32, 2))
    assert penalty.item() == pytest.approx(0.0, abs=1e-10)
    steep = losses.gradient_penalty(lambda x: x @ (3 * w), torch.randn(32, 2), torch.randn(32, 2))
    assert steep.item() == pytest.approx(10 * (3 - 1) ** 2)


def test_gradient_penalty_reaches_the_critics_weights():
    critic = torch.nn.Linear(2, 1)
    losses.gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2)).backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_clip_weights_clamps_every_parameter():
    critic = torch.nn.Linear(4, 3)
    with torch.no_grad():
        critic.weight.mul_(100)
    losses.clip_weights(critic, c=0.01)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    with pytest.raises(ValueError, match="positive"):
        losses.clip_weights(critic, c=0)
    with pytest.raises(ValueError, match="same shape"):
        losses.interpolates(torch.zeros(2, 3), torch.zeros(3, 3))


def test_gradient_penalty_measures_slope_in_the_given_unit():
    torch.manual_seed(0)
    w = torch.tensor([0.6, 0.8]) / 2.0  # slope 1/2 per data unit: 1 per unit of 2
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert losses.gradient_penalty(lambda x: x @ w, real, fake, unit=2.0).item() < 1e-10
    assert losses.gradient_penalty(lambda x: x @ w, real, fake).item() == pytest.approx(2.5)
    norms = losses.interpolate_gradient_norms(lambda x: x @ w, real, fake)
    assert norms.shape == (16,) and torch.allclose(norms, torch.full((16,), 0.5))
    with pytest.raises(ValueError, match="unit > 0"):
        losses.gradient_penalty(lambda x: x @ w, real, fake, unit=0.0)


def test_lazy_penalty_applies_every_kth_step_at_k_times_the_weight():
    torch.manual_seed(0)
    w = torch.tensor([1.2, 1.6])  # slope 2: penalty (2 - 1)^2 = 1 per sample
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    lazy = losses.LazyPenalty(losses.gradient_penalty, every=3)
    values = [lazy(lambda x: x @ w, real, fake).item() for _ in range(7)]
    assert values == pytest.approx([30.0, 0, 0, 30.0, 0, 0, 30.0])  # lambda 10, times 3
    # every = 1 is the plain penalty on each step
    plain = losses.LazyPenalty(losses.gradient_penalty, every=1)
    assert [plain(lambda x: x @ w, real, fake).item() for _ in range(2)] == pytest.approx([10, 10])
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="every must be a positive integer"):
            losses.LazyPenalty(losses.gradient_penalty, every=bad)
