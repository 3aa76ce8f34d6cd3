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
