"""Lesson 12: a generator with no discriminator, trained on the maximum mean discrepancy.

Li, Swersky and Zemel 2015, "Generative Moment Matching Networks", arXiv 1502.02761;
Dziugaite, Roy and Ghahramani 2015, "Training generative neural networks via Maximum Mean
Discrepancy optimization", arXiv 1505.03906. With a characteristic kernel k, the squared MMD

    MMD^2(P, Q) = E k(x, x') - 2 E k(x, y) + E k(y, y'),   x, x' ~ P,  y, y' ~ Q,

is zero exactly when P = Q. Its biased estimate on a batch of N data points and M samples is

    MMD^2_b = 1/N^2 sum_ij k(x_i, x_j) - 2/(NM) sum_ij k(x_i, y_j) + 1/M^2 sum_ij k(y_i, y_j),

and a generator descends sqrt(MMD^2_b) (GMMN's loss) with no adversary at all: the kernel is a
fixed "discriminator" that never learns. Here k is a sum of Gaussian kernels,
k(x, y) = sum_s exp(-||x - y||^2 / (2 s^2)), over bandwidths s chosen for the data's scale.

The game is one-sided (:class:`MMDGame`) and trains on the course's one loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .config import check_count, check_learning_rate, for_budget, seed_everything
from .data import Mixture2D, mixture
from .games import OneSided, Players, generate
from .metrics import mode_coverage
from .nets import Scale, mlp, sample_generator
from .record import BENCH_SAMPLES, Outcome
from .train import linear_to_zero, train_gan
from .workers import run_in_workers

EVAL_SAMPLES = 2500  # VEEGAN's protocol, as lessons 4 and 5


def check_bandwidths(bandwidths: Sequence[float]) -> tuple[float, ...]:
    """The kernel's bandwidths as a tuple of positive numbers, or a clear error."""
    values = tuple(float(s) for s in bandwidths)
    if not values or not all(np.isfinite(s) and s > 0 for s in values):
        raise ValueError(
            f"bandwidths must be one or more positive numbers (the Gaussian kernels' s, in the "
            f"data's units), got {bandwidths!r}"
        )
    return values


def gaussian_kernel(x: Tensor, y: Tensor, bandwidths: Sequence[float]) -> Tensor:
    """The kernel matrix K_ij = sum_s exp(-||x_i - y_j||^2 / (2 s^2)) of batches x (N, d) and
    y (M, d), one Gaussian kernel per bandwidth s, summed with equal weights (GMMN)."""
    squared = torch.cdist(x.flatten(1), y.flatten(1)).square()
    return sum(torch.exp(-squared / (2 * s * s)) for s in check_bandwidths(bandwidths))


def mmd_squared(x: Tensor, y: Tensor, bandwidths: Sequence[float]) -> Tensor:
    """The biased estimate MMD^2_b of two batches (module docstring): the mean of k over data
    pairs, minus twice its mean over data-sample pairs, plus its mean over sample pairs.
    Never negative (it is the squared distance of two kernel mean embeddings)."""
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(
            f"the two batches must hold points of one shape, got {tuple(x.shape[1:])} and "
            f"{tuple(y.shape[1:])}"
        )
    with torch.set_grad_enabled(x.requires_grad):  # data: its own term needs no graph
        k_xx = gaussian_kernel(x, x, bandwidths).mean()
    k_xy = gaussian_kernel(x, y, bandwidths).mean()
    k_yy = gaussian_kernel(y, y, bandwidths).mean()
    return k_xx - 2 * k_xy + k_yy


def mmd(x: Tensor, y: Tensor, bandwidths: Sequence[float]) -> Tensor:
    """sqrt(MMD^2_b), GMMN's loss; clamped at a tiny positive value first, because rounding can
    take the estimate a hair below zero and the square root's slope is infinite at zero."""
    return mmd_squared(x, y, bandwidths).clamp_min(1e-12).sqrt()


def median_bandwidth(x: Tensor) -> float:
    """The median heuristic: the median distance between two points of ``x`` (Gretton et al.
    2012), a kernel's usual default scale."""
    distances = torch.pdist(x.flatten(1).float())
    return float(distances.median())


@dataclass(frozen=True)
class MMDGame(OneSided):
    """The generator descends sqrt(MMD^2_b) between its samples and a fresh data batch, with the
    kernel of ``bandwidths``; no discriminator, so the loop takes no D steps."""

    bandwidths: tuple[float, ...]
    name: str = "mmd"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bandwidths", check_bandwidths(self.bandwidths))

    def g_loss(self, players: Players, noise: Tensor, sample_data: Callable[[], Tensor]) -> Tensor:
        return mmd(sample_data(), generate(players.generator, noise), self.bandwidths)


@dataclass(frozen=True)
class MMDRecipe:
    """A GMMN on a 2D mixture: G an MLP from z (``latent_dim``) through ``g_layers`` x
    ``g_hidden`` ReLU layers to the plane, in units of the mixture's spread (lesson 6's
    ``standardize``); Adam at ``lr`` falling to 0; batches of ``batch_size`` (the estimate's
    variance falls with the batch, so GMMN used 1,000); the kernel's ``bandwidths`` in the
    data's units."""

    name: str = "mmd_grid"
    bandwidths: tuple[float, ...] = (0.05, 0.2, 1.0, 4.0)
    latent_dim: int = 16
    g_hidden: int = 256
    g_layers: int = 4
    lr: float = 1e-3
    batch_size: int = 512
    quick_steps: int = 300
    full_steps: int = 6000

    def __post_init__(self) -> None:
        check_bandwidths(self.bandwidths)
        for name in ("latent_dim", "g_hidden", "g_layers", "batch_size", "quick_steps"):
            check_count(getattr(self, name), name)
        check_learning_rate(self.lr, "lr")

    def steps(self, budget: str) -> int:
        return for_budget(budget, self.quick_steps, self.full_steps)


MMD_GRID = MMDRecipe()
# The bandwidth lesson: one kernel far narrower than the gaps between modes, one far wider
# than the whole grid, and the sum that spans both (the recipe).
BANDWIDTHS = {
    "too small (0.01)": (0.01,),
    "too large (20)": (20.0,),
    "the sum (0.05 to 4)": MMD_GRID.bandwidths,
}
CHOSEN = "the sum (0.05 to 4)"


def mmd_generator(recipe: MMDRecipe, target: Mixture2D, device: torch.device | str) -> nn.Module:
    """G: z -> the plane, an MLP whose output is scaled by the mixture's spread."""
    widths = (recipe.g_hidden,) * recipe.g_layers
    body = mlp(recipe.latent_dim, 2, widths, "relu")
    return nn.Sequential(body, Scale(target.coordinate_std)).to(device)


def train_mmd(
    recipe: MMDRecipe,
    target: str | Mixture2D,
    seed: int,
    steps: int,
    device: torch.device | str = "cpu",
    progress: bool | str = False,
) -> nn.Module:
    """Train a GMMN on ``target`` for ``steps`` steps from ``seed`` on the one loop
    (``train.train_gan`` with :class:`MMDGame`); returns the generator."""
    target = mixture(target) if isinstance(target, str) else target
    seed_everything(seed)
    generator = mmd_generator(recipe, target, device)
    opt = torch.optim.Adam(generator.parameters(), lr=recipe.lr, betas=(0.5, 0.999))
    train_gan(
        Players(generator, None, opt),
        MMDGame(recipe.bandwidths),
        sample_data=target.sampler(device),
        sample_noise=lambda m: torch.randn(m, recipe.latent_dim, device=device),
        steps=steps,
        batch_size=recipe.batch_size,
        lr_schedule=linear_to_zero,
        progress=progress,
    )
    return generator


def _run_and_measure(
    recipe: MMDRecipe, target: str, seed: int, steps: int, device: str
) -> dict[str, Any]:
    """One GMMN, trained and measured (a top-level function, for the worker processes)."""
    start = time.perf_counter()
    generator = train_mmd(recipe, target, seed, steps, device)
    seconds = time.perf_counter() - start
    samples = sample_generator(generator, BENCH_SAMPLES, seed=seed + 1).numpy()
    mix = mixture(target)
    coverage = mode_coverage(samples[:EVAL_SAMPLES], mix.means.numpy(), mix.std)
    return {"samples": samples, "coverage": coverage, "seconds": seconds, "steps": steps}


def train_gmmns(
    setups: dict[str, tuple[MMDRecipe, str]],
    seed: int,
    steps: int,
    device: torch.device | str = "cpu",
) -> dict[str, dict[str, Any]]:
    """One GMMN per setup (a recipe and a target, "ring" or "grid"), the same seed and steps,
    side by side in worker processes (one after the other on a GPU): each one's 10,000 samples,
    its mode coverage on the first 2,500, and its seconds."""
    device = str(torch.device(device))
    jobs = [(recipe, target, seed, steps, device) for recipe, target in setups.values()]
    done = run_in_workers(
        _run_and_measure, jobs, in_process=device != "cpu", cost=_relative_cost, desc="GMMNs"
    )
    return dict(zip(setups, done, strict=True))


def _relative_cost(job: tuple) -> float:
    """A job's rough cost, so the dearest starts first: the kernel's exponentials, one per pair
    and per bandwidth, dominate a step."""
    recipe, _, _, steps, _ = job
    return steps * recipe.batch_size**2 * len(recipe.bandwidths)


def bandwidth_setups(
    target: str = "grid", recipe: MMDRecipe = MMD_GRID
) -> dict[str, tuple[MMDRecipe, str]]:
    """The bandwidth lesson's setups on ``target``: the recipe with each kernel of
    :data:`BANDWIDTHS`."""
    return {name: (replace(recipe, bandwidths=b), target) for name, b in BANDWIDTHS.items()}


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """GMMN on the grid of 25: the recipe's kernel (a sum of bandwidths) beside one too small
    and one too large, the same seed and steps; samples.npy holds the recipe's 10,000."""
    steps = MMD_GRID.steps(budget)
    start = time.perf_counter()
    runs = train_gmmns(bandwidth_setups("grid", MMD_GRID), seed, steps, device)
    seconds = time.perf_counter() - start
    chosen = runs[CHOSEN]
    return Outcome(
        samples=chosen["samples"],
        metrics={
            "target": "grid",
            "samples_measured": EVAL_SAMPLES,
            **chosen["coverage"].as_dict(),
            "kernels": {
                name: {
                    "bandwidths": list(BANDWIDTHS[name]),
                    **run["coverage"].as_dict(),
                    "train_seconds": round(run["seconds"], 1),
                }
                for name, run in runs.items()
            },
            "recipe": asdict(MMD_GRID),
        },
        steps=steps,
        train_seconds=seconds,
    )
