import pytest
import torch

from gancourse import nets


def test_builders_give_the_expected_shapes():
    g = nets.mlp_generator(latent_dim=3, data_dim=2, hidden=(8, 8))
    d = nets.mlp_discriminator(data_dim=2, hidden=(8,))
    x = g(torch.randn(5, 3))
    assert x.shape == (5, 2) and d(x).shape == (5, 1)


def test_activation_is_used():
    assert any(isinstance(m, torch.nn.Tanh) for m in nets.mlp(1, 1, (4,), activation="tanh"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_dim": 0, "out_dim": 1}, "in_dim must be a positive integer"),
        ({"in_dim": 1, "out_dim": 1, "hidden": (4, -1)}, "every hidden width"),
        ({"in_dim": 1, "out_dim": 1, "activation": "relu6"}, "unknown activation 'relu6'"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nets.mlp(**kwargs)


def naive_minibatch_features(layer: nets.MinibatchDiscrimination, f: torch.Tensor) -> torch.Tensor:
    """Salimans et al. 2016, section 3.2, one pair at a time."""
    m = (f @ layer.T).view(len(f), layer.kernels, layer.kernel_dim)
    o = torch.zeros(len(f), layer.kernels, dtype=f.dtype)
    for i in range(len(f)):
        for j in range(len(f)):
            if i != j:
                o[i] += torch.exp(-(m[i] - m[j]).abs().sum(dim=1))
    return torch.cat([f, o], dim=1)


def test_minibatch_discrimination_matches_the_paper_pair_by_pair():
    torch.manual_seed(0)
    layer = nets.MinibatchDiscrimination(6, kernels=4, kernel_dim=3, average=False)
    f = torch.randn(7, 6)
    out = layer(f)
    assert out.shape == (7, 6 + 4)
    torch.testing.assert_close(out, naive_minibatch_features(layer, f))
    # the course's default divides the sum by the N - 1 other samples
    averaged = nets.MinibatchDiscrimination(6, kernels=4, kernel_dim=3)
    averaged.load_state_dict(layer.state_dict())
    torch.testing.assert_close(averaged(f)[:, 6:], out[:, 6:] / 6)
    torch.testing.assert_close(averaged(f)[:, :6], f)


def test_minibatch_discrimination_gradients_match_the_pair_by_pair_layer():
    # the layer's own backward pass (symmetrised, one cdist backward) against autograd through
    # the paper's pair-by-pair sum, for the features and for T
    torch.manual_seed(0)
    layer = nets.MinibatchDiscrimination(6, kernels=4, kernel_dim=3).double()
    f = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(9, 4, dtype=torch.float64)
    fast = torch.autograd.grad((layer(f)[:, 6:] * weights).sum(), (f, layer.T))
    slow = torch.autograd.grad(
        (naive_minibatch_features(layer, f)[:, 6:] / 8 * weights).sum(), (f, layer.T)
    )
    for ours, reference in zip(fast, slow, strict=True):
        torch.testing.assert_close(ours, reference)
    m = layer.kernel_points(f.detach()).requires_grad_()
    assert torch.autograd.gradcheck(nets._PairwiseCloseness.apply, (m,))


def test_minibatch_features_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    layer = nets.MinibatchDiscrimination(2, kernels=5, kernel_dim=2, average=False)
    x = torch.randn(1, 2)
    alone = layer(x)[0, 2:]
    with_copies = layer(torch.cat([x, x, x]))[0, 2:]
    with_strangers = layer(torch.cat([x, 1000 + torch.randn(2, 2)]))[0, 2:]
    assert torch.equal(alone, torch.zeros(5))  # no pair with itself
    torch.testing.assert_close(with_copies, torch.full((5,), 2.0))  # exp(0) for two copies
    assert with_strangers.max() < 1e-3  # far samples add almost nothing
    layer.average = True  # a mean over the others: two copies of x give 1, not 2
    torch.testing.assert_close(layer(torch.cat([x, x, x]))[0, 2:], torch.ones(5))
    assert torch.equal(layer(x)[0, 2:], torch.zeros(5))  # a batch of one: no division by 0
    # gradients reach T through the pairwise distances
    layer(torch.randn(8, 2)).sum().backward()
    assert layer.T.grad is not None and layer.T.grad.abs().sum() > 0


def test_packed_discriminator_sees_m_samples_at_once():
    inner = nets.mlp_discriminator(data_dim=2 * 3)
    packed = nets.Packed(inner, m=3)
    x = torch.randn(12, 2)
    logits = packed(x)
    assert logits.shape == (4, 1)
    torch.testing.assert_close(logits[1], inner(x[3:6].reshape(1, 6))[0])
    with pytest.raises(ValueError, match="multiple of 3"):
        packed(torch.randn(10, 2))


def test_minibatch_discrimination_rejects_the_wrong_feature_size():
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        nets.MinibatchDiscrimination(6)(torch.randn(4, 5))
