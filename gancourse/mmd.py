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
from .data import Mixture2D, mixture, tensor_sampler
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


# --- MNIST: the MMD in an autoencoder's code space (GMMN+AE) ------------------------------------


class ReconstructionGame(OneSided):
    """An autoencoder's training as a one-sided game: the autoencoder sits in the generator
    slot, its "noise" is a batch of digits, and it descends the mean squared error of its
    reconstructions of them."""

    name = "reconstruction"

    def g_loss(self, players: Players, noise: Tensor, sample_data: Callable[[], Tensor]) -> Tensor:
        return (players.generator(noise) - noise).square().mean()


@dataclass(frozen=True)
class CodeMMDRecipe:
    """GMMN+AE on MNIST (Li, Swersky and Zemel 2015, section 3.2): a dropout autoencoder
    784 -> ``ae_hidden`` -> ``code_dim`` (sigmoid codes) -> ``ae_hidden`` -> 784 trains first,
    for ``ae_share`` of the time; then a GMMN from z (``latent_dim``, Gaussian) through ReLU
    layers ``g_widths`` to the codes (sigmoid) trains on the MMD between its codes and the
    digits' codes, with the kernel of ``bandwidths`` (in code units), batches of ``batch_size``
    (GMMN's 1,000), Adam at ``lr`` falling to 0. A sample is the decoder's image of G's code.
    Full budget: ``full_seconds`` in all, lesson 3's; quick: a few steps of each."""

    name: str = "mmd_mnist"
    code_dim: int = 16
    ae_hidden: int = 1024
    ae_dropout: float = 0.1
    ae_lr: float = 1e-3
    ae_batch: int = 128
    ae_share: float = 0.25
    latent_dim: int = 10
    g_widths: tuple[int, ...] = (64, 256, 256, 1024)
    bandwidths: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    lr: float = 1e-3
    batch_size: int = 1000
    full_seconds: float = 600.0
    quick_ae_steps: int = 60
    quick_steps: int = 30

    def __post_init__(self) -> None:
        check_bandwidths(self.bandwidths)
        for name in ("code_dim", "ae_hidden", "ae_batch", "latent_dim", "batch_size",
                     "quick_ae_steps", "quick_steps"):  # fmt: skip
            check_count(getattr(self, name), name)
        for width in self.g_widths:
            check_count(width, "every width of g_widths")
        check_learning_rate(self.ae_lr, "ae_lr")
        check_learning_rate(self.lr, "lr")
        if not 0 < self.ae_share < 1 or not 0 <= self.ae_dropout < 1:
            raise ValueError(
                f"ae_share must lie in (0, 1) and ae_dropout in [0, 1), got {self.ae_share} and "
                f"{self.ae_dropout}"
            )

    def limits(self, budget: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """``train_gan``'s stopping keywords for the autoencoder and for the GMMN at
        ``budget``: steps when quick, seconds (shared as ``ae_share``) when full."""
        seconds = self.full_seconds
        full = ({"time_limit": self.ae_share * seconds},
                {"time_limit": (1 - self.ae_share) * seconds})  # fmt: skip
        quick = ({"steps": self.quick_ae_steps}, {"steps": self.quick_steps})
        return for_budget(budget, quick, full)


MMD_MNIST = CodeMMDRecipe()


class Autoencoder(nn.Module):
    """x -> code -> x: ``encode`` to sigmoid codes in (0, 1)^code_dim, ``decode`` to tanh
    images in [-1, 1] (the course's digits); dropout on the input while training (GMMN+AE)."""

    def __init__(self, recipe: CodeMMDRecipe) -> None:
        super().__init__()
        pixels = 28 * 28
        self.encode = nn.Sequential(
            nn.Flatten(), nn.Dropout(recipe.ae_dropout),
            mlp(pixels, recipe.code_dim, (recipe.ae_hidden,), "relu"), nn.Sigmoid(),
        )  # fmt: skip
        self.decode = nn.Sequential(
            mlp(recipe.code_dim, pixels, (recipe.ae_hidden,), "relu"), nn.Tanh(),
            nn.Unflatten(1, (1, 28, 28)),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


def code_generator(recipe: CodeMMDRecipe) -> nn.Module:
    """GMMN's generator: z -> ReLU layers -> a sigmoid code (the autoencoder's code space)."""
    return nn.Sequential(
        mlp(recipe.latent_dim, recipe.code_dim, recipe.g_widths, "relu"), nn.Sigmoid()
    )


@dataclass
class CodeGMMN:
    """A trained GMMN+AE: the autoencoder, the code generator, and the digits' image generator
    ``generator`` = decode(G(z)), with the steps and seconds of each part."""

    autoencoder: Autoencoder
    code_generator: nn.Module
    generator: nn.Module
    steps: dict[str, int]
    seconds: dict[str, float]


@torch.no_grad()
def encode_all(autoencoder: Autoencoder, images: Tensor, batch: int = 1000) -> Tensor:
    """The codes of ``images`` (evaluation mode: no dropout), on the images' device."""
    autoencoder.eval()
    codes = torch.cat(
        [autoencoder.encode(images[i : i + batch]) for i in range(0, len(images), batch)]
    )
    autoencoder.train()
    return codes


def train_code_gmmn(
    recipe: CodeMMDRecipe,
    images: Tensor,
    seed: int,
    budget: str,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> CodeGMMN:
    """GMMN+AE on ``images`` (N, 1, 28, 28) in [-1, 1]: the autoencoder first
    (:class:`ReconstructionGame`), then the GMMN on the codes (:class:`MMDGame`), both on the
    one loop, for the budget's steps or seconds (:meth:`CodeMMDRecipe.limits`)."""
    seed_everything(seed)
    data = tensor_sampler(images, device)
    ae_limit, g_limit = recipe.limits(budget)
    autoencoder = Autoencoder(recipe).to(device)
    opt = torch.optim.Adam(autoencoder.parameters(), lr=recipe.ae_lr)
    start = time.perf_counter()
    ae_history = train_gan(
        Players(autoencoder, None, opt), ReconstructionGame(), sample_data=data,
        sample_noise=data, batch_size=recipe.ae_batch, progress=progress and "autoencoder",
        **ae_limit,
    )  # fmt: skip
    ae_seconds = time.perf_counter() - start
    codes = encode_all(autoencoder, images.to(device))
    generator = code_generator(recipe).to(device)
    opt = torch.optim.Adam(generator.parameters(), lr=recipe.lr, betas=(0.5, 0.999))
    start = time.perf_counter()
    g_history = train_gan(
        Players(generator, None, opt), MMDGame(recipe.bandwidths),
        sample_data=tensor_sampler(codes, device),
        sample_noise=lambda m: torch.randn(m, recipe.latent_dim, device=device),
        batch_size=recipe.batch_size, lr_schedule=linear_to_zero,
        progress=progress and "GMMN on the codes", **g_limit,
    )  # fmt: skip
    autoencoder.eval()
    return CodeGMMN(
        autoencoder,
        generator,
        nn.Sequential(generator, autoencoder.decode).eval(),
        {"autoencoder": len(ae_history), "gmmn": len(g_history)},
        {"autoencoder": ae_seconds, "gmmn": time.perf_counter() - start},
    )


def median_distances(images: Tensor, codes: Tensor, n: int = 1000) -> dict[str, float]:
    """The median heuristic's bandwidth in pixels and in codes, on the first ``n`` digits: why
    GMMN's kernels must be chosen for the space they measure in."""
    return {
        "pixels": median_bandwidth(images[:n].cpu()),
        "codes": median_bandwidth(codes[:n].cpu()),
    }


def mnist_benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """GMMN+AE on the GAN's 3,000 training digits in lesson 3's ten minutes (full budget):
    the evaluator's Frechet ratio, Inception-style score and classes of 10,000 samples, beside
    the decoder's images of the training digits' own codes (the best a G of codes can do) and
    lesson 3's shipped DCGAN measured now by the same evaluator; samples.npy holds the
    GMMN's 10,000 digits."""
    from . import shipped  # here: shipped imports the lessons' modules
    from .data import load_mnist
    from .evaluator import gan_training_digits, load_or_train_evaluator

    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    images = gan_training_digits(digits).images
    run = train_code_gmmn(MMD_MNIST, images, seed, budget, device)
    samples = sample_generator(run.generator, BENCH_SAMPLES, seed=seed + 1)
    figures = evaluator.evaluate(samples)
    codes = encode_all(run.autoencoder, images.to(device))
    with torch.no_grad():  # the digits it trained on, decoded from their codes: G's ceiling
        reconstructed = torch.cat([run.autoencoder.decode(c) for c in codes.split(1000)]).cpu()
    dcgan = shipped.load("dcgan-improved", device)
    lesson3 = evaluator.evaluate(sample_generator(dcgan, BENCH_SAMPLES, seed=1))
    return Outcome(
        samples=samples.numpy(),
        metrics={
            "frechet_ratio": figures["frechet_ratio"],
            "inception_score": figures["inception_score"],
            "min_class_fraction": min(figures["class_histogram"]),
            "class_histogram": figures["class_histogram"],
            "reconstruction_frechet_ratio": evaluator.evaluate(reconstructed)["frechet_ratio"],
            "lesson3_dcgan": {
                "frechet_ratio": lesson3["frechet_ratio"],
                "inception_score": lesson3["inception_score"],
                "min_class_fraction": min(lesson3["class_histogram"]),
            },
            "median_distance": median_distances(images, codes),
            "steps_each": run.steps,
            "seconds_each": {k: round(v, 1) for k, v in run.seconds.items()},
            "data": digits.source,
            "gan_training_digits": len(images),
            "evaluator_accuracy": evaluator.accuracy,
            "recipe": asdict(MMD_MNIST),
        },
        steps=sum(run.steps.values()),
        train_seconds=sum(run.seconds.values()),
    )
