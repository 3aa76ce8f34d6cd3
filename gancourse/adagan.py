"""Lesson 12: AdaGAN, boosting a mixture of GANs towards the modes it misses.

Tolstikhin, Gelly, Bousquet, Simon-Gabriel and Schoelkopf 2017, "AdaGAN: Boosting Generative
Models", arXiv 1701.02386. The model is a mixture P_t = (1 - beta_t) P_{t-1} + beta_t Q_t of
GANs. Each new component Q_t trains on the data reweighted towards what P_{t-1} has not been
able to generate:

1. a classifier D tells the training points (label 1) from the mixture's samples (label 0);
   at its optimum D = p_data / (p_data + p_mix), so the ratio p_mix / p_data at a training
   point x_i is r_i = (1 - D(x_i)) / D(x_i) = exp(-a_i), a_i being D's logit
   (:func:`density_ratios`);
2. the weights of the paper's Theorem (eqs. 17-18, ``theory_star`` in the authors' code),
   w_i = (lambda* - (1 - beta) r_i)_+ / (N beta), with lambda* the one value that makes them
   sum to 1 (:func:`adagan_weights`): points the mixture already covers (r_i large) get
   weight 0, the ones it misses (r_i near 0) the most;
3. Q_t trains on minibatches drawn from the training points with probabilities w, and joins
   the mixture with weight beta_t: the authors' code offers 1 / t (a uniform mixture, its
   default) or a constant. The lesson's recipe takes the constant 1/4, at or below the share of
   the data one component misses on the grid: with beta_t = 1/2 (t = 2) the weights may give
   the missed modes at most twice their share, and the new GAN must cover everything again;
   with beta at or below the missed share they can give them nearly all the weight.

The baseline, "bagging", trains every component on the data as it is and mixes them uniformly.
Every GAN and the classifier train on the course's one loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from . import recipes
from .config import check_count, for_budget, rng, seed_everything
from .data import Mixture2D, mixture
from .games import OneSided, Players
from .losses import discriminator_loss
from .metrics import ModeCoverage, mode_coverage
from .nets import Scale, mlp, sample_generator
from .recipes import Recipe
from .record import BENCH_SAMPLES, Outcome
from .train import train_gan
from .workers import run_in_workers

EVAL_SAMPLES = 2500  # VEEGAN's protocol, as lessons 4 and 5


def density_ratios(logits: Tensor | np.ndarray) -> np.ndarray:
    """r_i = p_mix(x_i) / p_data(x_i) = (1 - D(x_i)) / D(x_i) = exp(-a_i) from the ratio
    classifier's logits a_i (data labelled 1, the mixture's samples 0)."""
    a = np.asarray(logits.detach().cpu() if isinstance(logits, Tensor) else logits, float)
    if not np.all(np.isfinite(a)):
        raise ValueError("the classifier's logits hold NaN or infinite values: it has diverged")
    return np.exp(-a.reshape(-1))


def adagan_weights(ratios: np.ndarray, beta: float) -> np.ndarray:
    """AdaGAN's weights over the N training points (Tolstikhin et al. 2017, Theorem 1 and eqs.
    17-18): w_i = (lambda* - (1 - beta) r_i)_+ / (N beta), where lambda* makes sum_i w_i = 1.

    The sum is increasing in lambda, so lambda* is found exactly: with the ratios sorted,
    r_(1) <= ... <= r_(N), and the k smallest taking weight, lambda_k = (N beta + (1 - beta)
    sum_{j<=k} r_(j)) / k, and the right k is the one with (1 - beta) r_(k) < lambda_k <=
    (1 - beta) r_(k+1). With beta = 1 (the first component) every weight is 1/N."""
    r = np.asarray(ratios, dtype=float).reshape(-1)
    if len(r) == 0 or not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("ratios must be one or more finite numbers >= 0 (p_mix / p_data)")
    if not 0 < beta <= 1:
        raise ValueError(f"beta is the new component's share of the mixture, in (0, 1]: {beta}")
    n = len(r)
    scaled = np.sort((1 - beta) * r)
    lambdas = (n * beta + np.cumsum(scaled)) / np.arange(1, n + 1)
    above_next = np.append(scaled[1:], np.inf)
    k = int(np.flatnonzero((scaled < lambdas) & (lambdas <= above_next))[0])
    weights = np.clip(lambdas[k] - (1 - beta) * r, 0, None) / (n * beta)
    return weights / weights.sum()  # exact up to rounding: renormalised as the authors' code


def weighted_sampler(
    points: Tensor, weights: np.ndarray | None, device: torch.device | str
) -> Callable[[int], Tensor]:
    """``sample_data(m)``: m training points drawn with replacement with probabilities
    ``weights`` (uniform when None), on ``device``."""
    points = points.to(device)
    if weights is None:
        return lambda m: points[torch.randint(len(points), (m,), device=device)]
    probabilities = torch.as_tensor(weights, dtype=torch.float32, device=device)
    return lambda m: points[torch.multinomial(probabilities, m, replacement=True)]


@dataclass
class GeneratorMixture:
    """A mixture of generators: component j with weight ``weights[j]``. A sample picks a
    component by its weight, then draws from it (never an average of their outputs)."""

    generators: list[nn.Module]
    weights: list[float]

    def add(self, generator: nn.Module, beta: float) -> None:
        """P_t = (1 - beta) P_{t-1} + beta Q_t."""
        self.weights = [w * (1 - beta) for w in self.weights] + [beta]
        self.generators.append(generator)

    def sample(self, n: int, seed: int) -> Tensor:
        """``n`` points on the CPU: how many from each component is a multinomial draw from the
        weights (seeded), and each component draws its share with its own seed."""
        if not self.generators:
            raise ValueError("the mixture is empty: add a generator first")
        counts = torch.multinomial(
            torch.tensor(self.weights), n, replacement=True, generator=rng(seed)
        ).bincount(minlength=len(self.generators))
        parts = [
            sample_generator(g, int(c), seed=seed + 1000 * (j + 1))
            for j, (g, c) in enumerate(zip(self.generators, counts, strict=True))
            if c > 0
        ]
        return torch.cat(parts)[torch.randperm(n, generator=rng(seed))]


class RatioGame(OneSided):
    """The ratio classifier's training as a one-sided game: the classifier sits in the
    generator slot, its "noise" is a batch of the mixture's samples, and it descends the
    cross-entropy of data (label 1) against those samples (label 0)."""

    name = "ratio_classifier"

    def g_loss(self, players: Players, noise: Tensor, sample_data: Callable[[], Tensor]) -> Tensor:
        classifier = players.generator
        return discriminator_loss(classifier(sample_data()), classifier(noise))


@dataclass(frozen=True)
class AdaGANRecipe:
    """AdaGAN on a 2D mixture: each component is ``component`` (a recipe of ``recipes``) trained
    for ``component_steps`` steps; the ratio classifier is an MLP of ``classifier_layers`` x
    ``classifier_hidden`` on points in units of the mixture's spread, trained for
    ``classifier_steps`` steps (kept short: an overconfident classifier drives every r to 0 or
    infinity), batch ``classifier_batch``, Adam ``classifier_lr``; ``components`` in all; the
    training set holds ``points`` draws of the mixture. ``beta``: each new component's share of
    the mixture, constant (the authors' "constant" heuristic); None gives beta_t = 1 / t (their
    "uniform" one, a uniform mixture). The first component always takes beta = 1."""

    name: str = "adagan_grid"
    component: Recipe = recipes.GAN_GRID_2D
    component_steps: int = 8000
    components: int = 8
    classifier_hidden: int = 64
    classifier_layers: int = 2
    classifier_steps: int = 500
    classifier_batch: int = 256
    classifier_lr: float = 1e-3
    points: int = 25_000
    quick_component_steps: int = 300
    quick_components: int = 3
    beta: float | None = None

    def __post_init__(self) -> None:
        if self.beta is not None and not 0 < self.beta < 1:
            raise ValueError(f"beta must lie in (0, 1), or be None for 1 / t: {self.beta}")
        for name in ("component_steps", "components", "classifier_hidden", "classifier_layers",
                     "classifier_steps", "classifier_batch", "points", "quick_component_steps",
                     "quick_components"):  # fmt: skip
            check_count(getattr(self, name), name)

    def at(self, budget: str) -> AdaGANRecipe:
        """The recipe at ``budget``: quick trains fewer, shorter components."""
        quick = replace(
            self, component_steps=self.quick_component_steps, components=self.quick_components
        )
        return for_budget(budget, quick, self)

    def beta_at(self, t: int) -> float:
        """The share of the mixture that component ``t`` (from 1) takes."""
        return 1.0 if t == 1 else (1.0 / t if self.beta is None else self.beta)


# Lesson 12's AdaGAN: the components are small GANs on the grid (z in 2 dimensions, G and D 3 x
# 128, in units of the grid's spread, batch 128, Adam falling to 0 from 1e-3 for G and 3e-3 for
# D): sharp, and each drops a few modes, the GANs AdaGAN was made for. Each new one takes a
# constant quarter of the mixture (the README's screening against 1 / t).
ADAGAN_GRID = AdaGANRecipe(
    component=replace(recipes.GAN_GRID_2D, name="adagan_component", g_hidden=128, g_layers=3,
                      d_hidden=128, d_layers=3, lr_d=3e-3),
    component_steps=8000,
    beta=0.25,
)  # fmt: skip


def train_classifier(
    recipe: AdaGANRecipe,
    sample_data: Callable[[int], Tensor],
    sample_other: Callable[[int], Tensor],
    scale: float,
    seed: int,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """D: data (label 1) against another distribution's samples (label 0), an MLP on points in
    units of ``scale``, trained on the one loop (:class:`RatioGame`). At its optimum
    D = p_data / (p_data + p_other): its logit estimates log p_data / p_other."""
    seed_everything(seed)
    widths = (recipe.classifier_hidden,) * recipe.classifier_layers
    classifier = nn.Sequential(Scale(1 / scale), mlp(2, 1, widths)).to(device)
    opt = torch.optim.Adam(classifier.parameters(), lr=recipe.classifier_lr, betas=(0.5, 0.999))
    train_gan(
        Players(classifier, None, opt),
        RatioGame(),
        sample_data=sample_data,
        sample_noise=sample_other,
        steps=recipe.classifier_steps,
        batch_size=recipe.classifier_batch,
        progress=False,
    )
    return classifier


def train_ratio_classifier(
    recipe: AdaGANRecipe,
    points: Tensor,
    mixture_: GeneratorMixture,
    scale: float,
    seed: int,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """AdaGAN's classifier: the training points against a pool of the mixture's samples (the
    authors' code also draws each component's samples once, then resamples them)."""
    pool = mixture_.sample(20 * recipe.classifier_batch, seed).to(device)
    return train_classifier(
        recipe,
        weighted_sampler(points, None, device),
        weighted_sampler(pool, None, device),
        scale,
        seed,
        device,
    )


@torch.no_grad()
def classifier_logits(classifier: nn.Module, points: Tensor, batch: int = 5000) -> Tensor:
    """The classifier's logits on every training point, on the CPU."""
    device = next(classifier.parameters()).device
    classifier.eval()
    out = torch.cat(
        [classifier(points[i : i + batch].to(device)).cpu() for i in range(0, len(points), batch)]
    )
    classifier.train()
    return out.reshape(-1)


def train_component(
    recipe: AdaGANRecipe,
    target: Mixture2D,
    points: Tensor,
    weights: np.ndarray | None,
    seed: int,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """One GAN of the mixture: ``recipe.component`` built from ``seed``, trained on the training
    points drawn with ``weights`` (uniform when None) for ``component_steps`` steps."""
    run = recipes.build(recipe.component, target, seed, device)
    run.sample_data = weighted_sampler(points, weights, device)
    recipes.train(run, recipe.component, steps=recipe.component_steps, progress=False)
    return run.generator


def coverage_of(mixture_: GeneratorMixture, target: Mixture2D, seed: int) -> ModeCoverage:
    """VEEGAN's mode metrics of 2,500 of the mixture's samples."""
    samples = mixture_.sample(EVAL_SAMPLES, seed).numpy()
    return mode_coverage(samples, target.means.numpy(), target.std)


@dataclass
class Boosted:
    """A run of AdaGAN or bagging: the mixture, its coverage after each component is added,
    the weights each component trained on (None: uniform), and the seconds."""

    mixture: GeneratorMixture
    curve: list[ModeCoverage]
    weights: list[np.ndarray | None]
    seconds: float

    def table(self) -> list[dict[str, Any]]:
        return [
            {"generators": t + 1, "modes_captured": c.modes_captured,
             "high_quality": round(c.high_quality, 4), "reverse_kl": round(c.reverse_kl, 4)}
            for t, c in enumerate(self.curve)
        ]  # fmt: skip


def training_points(target: Mixture2D, n: int, seed: int) -> Tensor:
    """The fixed training set: ``n`` draws of the mixture (seeded), which AdaGAN reweights."""
    return target.sample(n, generator=rng(seed))


def boost(
    recipe: AdaGANRecipe,
    target: str | Mixture2D,
    seed: int,
    bagging: bool = False,
    device: torch.device | str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> Boosted:
    """AdaGAN (or, with ``bagging``, independent GANs on the data as it is) on ``target``:
    ``recipe.components`` GANs added one by one with beta_t (:meth:`AdaGANRecipe.beta_at`;
    bagging: 1 / t, a uniform mixture), the mixture's coverage
    measured after each. Component t is built from seed ``seed + t``."""
    target = mixture(target) if isinstance(target, str) else target
    start = time.perf_counter()
    points = training_points(target, recipe.points, seed)
    mix, curve, used = GeneratorMixture([], []), [], []
    for t in range(1, recipe.components + 1):
        beta = 1.0 / t if bagging else recipe.beta_at(t)
        weights = None
        if t > 1 and not bagging:
            classifier = train_ratio_classifier(
                recipe, points, mix, target.coordinate_std, seed + 100 * t, device
            )
            ratios = density_ratios(classifier_logits(classifier, points))
            weights = adagan_weights(ratios, beta)
        generator = train_component(recipe, target, points, weights, seed + t, device)
        mix.add(generator.cpu(), beta)
        curve.append(coverage_of(mix, target, seed + 1))
        used.append(weights)
        if progress is not None:
            c = curve[-1]
            progress(f"{'bagging' if bagging else 'AdaGAN'} t={t}: {c.modes_captured} modes, "
                     f"{c.high_quality:.1%} high quality")  # fmt: skip
    return Boosted(mix, curve, used, time.perf_counter() - start)


def _boost_in_worker(
    recipe: AdaGANRecipe, target: str, seed: int, bagging: bool, device: str
) -> dict[str, Any]:
    """:func:`boost` in a worker process; hands back the curve, the mixture's 10,000 samples,
    the generators' weights on the CPU (``GeneratorMixture`` rebuilds from them) and the
    training weights."""
    run = boost(
        recipe, target, seed, bagging, device, progress=lambda line: print(line, flush=True)
    )
    return {
        "curve": run.curve,
        "table": run.table(),
        "samples": run.mixture.sample(BENCH_SAMPLES, seed + 2).numpy(),
        "states": [{k: v.cpu() for k, v in g.state_dict().items()} for g in run.mixture.generators],
        "mixture_weights": run.mixture.weights,
        "weights": run.weights,
        "seconds": run.seconds,
    }


def adagan_and_bagging(
    recipe: AdaGANRecipe, target: str, seed: int, device: torch.device | str = "cpu"
) -> dict[str, dict[str, Any]]:
    """AdaGAN and bagging from the same seed, side by side in two worker processes of one
    thread each (one after the other on a GPU)."""
    device = str(torch.device(device))
    jobs = [(recipe, target, seed, bagging, device) for bagging in (False, True)]
    done = run_in_workers(_boost_in_worker, jobs, in_process=device != "cpu", desc="mixtures")
    return dict(zip(("adagan", "bagging"), done, strict=True))


def generators_needed(curve: Sequence[ModeCoverage], modes: int, high_quality: float) -> int | None:
    """The fewest components after which the mixture captures at least ``modes`` modes with at
    least ``high_quality`` of its samples high quality; None if it never does."""
    for t, c in enumerate(curve, start=1):
        if c.modes_captured >= modes and c.high_quality >= high_quality:
            return t
    return None


TARGET_MODES, TARGET_HIGH_QUALITY = 24, 0.80  # the bar for the grid of 25


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """AdaGAN against bagging on the grid of 25, the same seed, components and steps: both
    curves (modes, high quality, reverse KL after each component), and how many components each
    needs to reach 24 modes with 80% high quality; samples.npy holds AdaGAN's 10,000."""
    recipe = ADAGAN_GRID.at(budget)
    start = time.perf_counter()
    runs = adagan_and_bagging(recipe, "grid", seed, device)
    seconds = time.perf_counter() - start
    final = runs["adagan"]["curve"][-1]
    return Outcome(
        samples=runs["adagan"]["samples"],
        metrics={
            "target": "grid",
            "samples_measured": EVAL_SAMPLES,
            **final.as_dict(),
            "curves": {name: run["table"] for name, run in runs.items()},
            "generators_needed": {
                name: generators_needed(run["curve"], TARGET_MODES, TARGET_HIGH_QUALITY)
                for name, run in runs.items()
            },
            "bar": {"modes": TARGET_MODES, "high_quality": TARGET_HIGH_QUALITY},
            "train_seconds_each": {name: round(run["seconds"], 1) for name, run in runs.items()},
            "recipe": {**asdict(recipe), "component": recipe.component.as_dict()},
        },
        steps=recipe.components * recipe.component_steps,
        train_seconds=seconds,
    )
