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
