"""Lesson 6 on MNIST: WGAN-GP in lesson 3's budget, and what its critic says about W1.

Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv 1704.00028, with lesson
3's generator (``recipes.WGAN_GP``). A critic that takes one step per generator step lags
behind G, so its running estimate of W1 is checked against a refined one
(:func:`refined_critic_estimate`) and both against the evaluator's Frechet ratio.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from . import config, recipes
from .data import load_mnist
from .dcgan import frechet_record, record_moments, result_figures
from .evaluator import gan_training_digits, load_or_train_evaluator
from .losses import gradient_penalty, wasserstein_critic_loss
from .nets import sample_generator
from .recipes import DCGAN_LATENT_DIM, WGAN_GP, Recipe
from .record import BENCH_SAMPLES, Outcome


def refined_critic_estimate(
    critic: nn.Module,
    generator: nn.Module,
    sample_data: Callable[[int], Tensor],
    recipe: Recipe,
    steps: int = 200,
    lr: float = 1e-4,
    probe: int = 1000,
    seed: int = 5,
) -> float:
    """The critic's estimate of W1 between the data and the generator now, made trustworthy:
    a copy of the critic trains ``steps`` more steps against the frozen generator (Adam at
    ``lr``, the recipe's betas, penalty and batch), then E_data f - E_g f on ``probe`` fresh
    samples of each. The running estimate of a critic that takes one step per generator step
    lags behind G; the WGAN paper's estimates came from a critic trained close to optimal
    (Arjovsky et al. 2017, section 4.2). Leaves the models and the random state as they were."""
    device = next(generator.parameters()).device
    generator = copy.deepcopy(generator)  # its batch norm statistics would move
    copy_ = copy.deepcopy(critic).train()
    optimizer = torch.optim.Adam(copy_.parameters(), lr=lr, betas=(recipe.beta1, recipe.beta2))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seeded(seed))
        for _ in range(steps):
            real = sample_data(recipe.batch_size)
            with torch.no_grad():
                fake = generator(torch.randn(recipe.batch_size, DCGAN_LATENT_DIM, device=device))
            loss = wasserstein_critic_loss(copy_(real), copy_(fake))
            loss = loss + gradient_penalty(copy_, real, fake, recipe.gp_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            real = sample_data(probe)
            fake = generator(torch.randn(probe, DCGAN_LATENT_DIM, device=device))
            return (copy_(real).mean() - copy_(fake).mean()).item()


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 6: WGAN-GP on MNIST (dcgan.WGAN_GP) in lesson 3's budget; the Frechet ratio, and
    the critic's W1 estimates against it over the run (rank correlation).

    Trains at the recipe's budget (full: 600 seconds of training, as the improved DCGAN of
    ``dcgan``; quick: its quick steps) on the GAN's part of the digits and measures 3,000
    samples with the held-out evaluator and a second one. At each eighth of the run the Frechet
    ratio is paired with the critic's running estimate (mean over the 50 steps before) and a
    refined one (``refined_critic_estimate``, 200 more critic steps on a copy).
    """
    from scipy.stats import spearmanr

    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    second = load_or_train_evaluator(digits, seed=1)
    training = gan_training_digits(digits)
    run = recipes.build(WGAN_GP, training, seed, device)
    generator, critic = run.generator, run.discriminator

    def refined() -> dict[str, float]:
        estimate = refined_critic_estimate(critic, generator, run.sample_data, WGAN_GP)
        return {"refined_estimate": round(estimate, 4)}

    curve = frechet_record(
        generator, evaluator, **record_moments(WGAN_GP, budget), verbose=True, also=refined
    )
    history = recipes.train(run, WGAN_GP, budget, callback=curve)
    steps = history.step[-1]
    curve.finish(steps)
    samples = sample_generator(generator, BENCH_SAMPLES, seed=seed + 1)
    figures = result_figures(WGAN_GP, samples, steps, curve, evaluator)
    running = [history.wasserstein_estimate(p["step"], window=50) for p in curve.points]
    refined_estimates = [p["refined_estimate"] for p in curve.points]
    ratios = [p["frechet_ratio"] for p in curve.points]
    return Outcome(
        samples=samples.numpy(),
        metrics={
            "frechet_ratio": figures["frechet_ratio"],
            "second_evaluator_frechet_ratio": second.evaluate(samples)["frechet_ratio"],
            "min_class_fraction": min(figures["class_histogram"]),
            "inception_score": figures["inception_score"],
            "running_estimates": [round(e, 4) for e in running],
            "rank_correlation_refined_estimate_frechet_ratio": float(
                spearmanr(refined_estimates, ratios)[0]
            ),
            "rank_correlation_running_estimate_frechet_ratio": float(spearmanr(running, ratios)[0]),
            "data": digits.source,
            "gan_training_digits": len(training),
            "evaluator_accuracy": evaluator.accuracy,
            "wgan_gp": figures,
        },
        steps=steps,
        train_seconds=curve.train_seconds(),
        generator=generator,
        recipe=WGAN_GP,
    )
