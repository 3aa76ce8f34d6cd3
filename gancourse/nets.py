"""Generator and discriminator builders.

Discriminators return logits, one per sample (shape (N, 1)); D(x) = sigmoid(logit). Keeping the
sigmoid out of the network lets the losses stay finite at any confidence (see ``losses``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


def _check_positive_int(value: int, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (64, 64),
    activation: str = "leaky_relu",
) -> nn.Sequential:
    """A multilayer perceptron: Linear, activation, ..., Linear (no activation on the output)."""
    _check_positive_int(in_dim, "in_dim")
    _check_positive_int(out_dim, "out_dim")
    for width in hidden:
        _check_positive_int(width, "every hidden width")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}: choose one of {', '.join(ACTIVATIONS)}"
        )
    layers: list[nn.Module] = []
    width_in = in_dim
    for width in hidden:
        layers += [nn.Linear(width_in, width), ACTIVATIONS[activation]()]
        width_in = width
    layers.append(nn.Linear(width_in, out_dim))
    return nn.Sequential(*layers)


def mlp_generator(
    latent_dim: int = 1,
    data_dim: int = 1,
    hidden: Sequence[int] = (32, 32),
    activation: str = "leaky_relu",
) -> nn.Sequential:
    """G: R^latent_dim -> R^data_dim, an MLP with a linear output (data need not be bounded)."""
    return mlp(latent_dim, data_dim, hidden, activation)


def mlp_discriminator(
    data_dim: int = 1,
    hidden: Sequence[int] = (32, 32),
    activation: str = "leaky_relu",
) -> nn.Sequential:
    """D: R^data_dim -> R, an MLP returning one logit per sample; D(x) = sigmoid(logit)."""
    return mlp(data_dim, 1, hidden, activation)
