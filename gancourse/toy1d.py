"""The 1D setting of lessons 1 and 2: the target N(2, 0.5^2), the players, and their experiments.

Lesson 1 writes these out; later lessons, the benchmarks and the instructor panels reuse them
from here (tests/test_lesson02.py checks that this code reproduces notebook 02's written-out
experiment).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import config, metrics, recipes
from .games import Players
from .losses import discriminator_loss, generator_loss
from .recipes import GAUSSIAN_1D, LESSON1, models
from .record import BENCH_SAMPLES, Outcome
from .train import TrainingDiverged, train_gan

TARGET = GAUSSIAN_1D


def players(device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """Lesson 1's players (``recipes.LESSON1``): G 1 -> 32 -> 32 -> 1 (tanh), D 1 -> 64 -> 64
    -> 1 logit (LeakyReLU), from the global random state."""
    return models(LESSON1, device, data_dim=1)


def noise_sampler(device: torch.device | str = "cpu") -> Callable[[int], torch.Tensor]:
    """z ~ N(0, 1), shaped (m, 1)."""
    return lambda m: torch.randn(m, 1, device=device)


def logit_gradient(game: str, d_of_gz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A generator cost J(G) and its derivative dJ/da with respect to D's logit a, at each D(G(z)).

    The derivative with respect to the logit is what flows back into the generator:
    minimax -D/2, non-saturating -(1 - D)/2, maximum likelihood -D / (2 (1 - D)).
    """
    d = np.asarray(d_of_gz, dtype=np.float64)
    if np.any((d <= 0) | (d >= 1)):
        raise ValueError("D(G(z)) must lie strictly between 0 and 1")
    cost_fn = generator_loss(game)
    logits = torch.tensor(np.log(d) - np.log1p(-d), dtype=torch.float64, requires_grad=True)
    costs = torch.stack([cost_fn(a.reshape(1)) for a in logits])
    (grads,) = torch.autograd.grad(costs.sum(), logits)
    return costs.detach().numpy(), grads.numpy()


@dataclass
class SaturationRun:
    """One game trained from a discriminator that rejects the generator."""

    game: str
    steps: list[int]  # the generator steps at which the mean was measured
    means: list[float]  # mean of p_g at those steps (estimated from 2,000 samples)
    start_gradient_norm: float  # ||dJ(G)/dtheta_G|| on the first batch
    start_d_of_gz: float  # mean D(G(z)) when the generator starts
    diverged_at: int | None  # the step after the last recorded one, if a loss became NaN or inf


def saturated_start(
    seed: int = 0, pretrain_steps: int = 300, device: torch.device | str = "cpu"
) -> tuple[nn.Module, nn.Module]:
    """A poor generator (freshly initialised, samples near 0) and a D pretrained to reject it."""
    config.seed_everything(seed)
    generator, discriminator = players(device)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    noise = noise_sampler(device)
    for _ in range(pretrain_steps):
        real, fake = TARGET.sample(256, device), generator(noise(256)).detach()
        loss = discriminator_loss(discriminator(real), discriminator(fake))
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    return generator, discriminator


def saturation_run(
    game: str,
    start: tuple[nn.Module, nn.Module],
    steps: int,
    seed: int = 1,
    lr_g: float = 0.005,
    every: int = 10,
    device: torch.device | str = "cpu",
) -> SaturationRun:
    """Train a copy of ``start`` with one game: G by plain SGD (so the raw gradient sets the step),
    D by Adam as in lesson 1, k = 1. Records the mean of p_g every ``every`` steps.
    """
    generator, discriminator = copy.deepcopy(start)
    noise = noise_sampler(device)
    config.seed_everything(seed)
    cost = generator_loss(game)(discriminator(generator(noise(256))))
    grads = torch.autograd.grad(cost, list(generator.parameters()))
    grad_norm = float(torch.sqrt(sum((g**2).sum() for g in grads)))
    probe = torch.randn(2000, 1, device=device, generator=config.rng(0, device))
    with torch.no_grad():
        d_of_gz = float(torch.sigmoid(discriminator(generator(probe))).mean())
        steps_seen, means = [0], [float(generator(probe).mean())]

    def record(step: int) -> None:
        if step % every == 0 or step == steps:
            with torch.no_grad():
                steps_seen.append(step)
                means.append(float(generator(probe).mean()))

    opt_g = torch.optim.SGD(generator.parameters(), lr=lr_g)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    diverged_at = None
    try:
        train_gan(
            Players(generator, discriminator, opt_g, opt_d),
            game,
            sample_data=lambda m: TARGET.sample(m, device),
            sample_noise=noise,
            steps=steps,
            batch_size=256,
            k=1,
            callback=record,
            progress=False,
        )
    except TrainingDiverged:
        # The maximum-likelihood cost can blow up once samples reach where D is near 1.
        diverged_at = steps_seen[-1] + 1
    return SaturationRun(game, steps_seen, means, grad_norm, d_of_gz, diverged_at)


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 1's GAN: an MLP generator learns N(2, 0.5^2) from 1D standard normal noise.

    The same models and hyperparameters as notebooks/01_gan_1d_gaussians.ipynb
    (``recipes.LESSON1``).
    """
    steps = LESSON1.steps(budget)
    start = time.perf_counter()
    run = recipes.build(LESSON1, "gaussian1d", seed, device)
    recipes.train(run, LESSON1, budget, progress=f"1D GAN, k={LESSON1.n_critic}, seed {seed}")
    generator = run.generator
    train_seconds = time.perf_counter() - start
    with torch.no_grad():
        samples = generator(torch.randn(BENCH_SAMPLES, 1, device=device)).cpu().numpy()
    target = TARGET
    x = np.linspace(target.mean - 12 * target.std, target.mean + 12 * target.std, 2401)
    p_data = target.pdf(x)
    return Outcome(
        samples=samples,
        metrics={
            "target_mean": target.mean,
            "target_std": target.std,
            "mean": float(samples.mean()),
            "std": float(samples.std()),
            "jsd_kde": metrics.jensen_shannon(p_data, metrics.gaussian_kde(samples, x), x),
        },
        steps=steps,
        train_seconds=train_seconds,
    )
