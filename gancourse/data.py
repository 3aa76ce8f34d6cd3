"""Target distributions. Lesson 1: a 1D Gaussian, whose density is known in closed form."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Gaussian1D:
    """The normal distribution N(mean, std^2) on the real line, as a sampler and a density."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and math.isfinite(self.std) and self.std > 0):
            raise ValueError(
                f"need a finite mean and std > 0, got mean={self.mean}, std={self.std}"
            )

    def sample(self, n: int, device: torch.device | str = "cpu") -> Tensor:
        """``n`` samples shaped (n, 1), drawn with PyTorch's global generator (seeded by setup)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        return self.mean + self.std * torch.randn(n, 1, device=device)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The density p(x) = exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))."""
        x = np.asarray(x, dtype=float)
        return np.exp(-0.5 * ((x - self.mean) / self.std) ** 2) / (
            self.std * math.sqrt(2 * math.pi)
        )
