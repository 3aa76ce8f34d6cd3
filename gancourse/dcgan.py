"""Lesson 3: DCGAN on MNIST. The recipes, their training, and the saved generators.

Radford, Metz and Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv 1511.06434. ``PLAIN`` is the paper's recipe adapted to
28x28; ``IMPROVED`` is what fits the best digits into the same ten minutes of a 2-core CPU, each
change measured in notebooks/03_dcgan_mnist.ipynb and in ``python -m gancourse.bench dcgan``.

The notebook trains both and saves them under data/; later lessons load a saved generator with
:func:`load_generator` instead of training again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import config
from .data import Digits, tensor_sampler
from .evaluator import Evaluator
from .losses import (
    LazyPenalty,
    check_every,
    discriminator_loss,
    gradient_penalty,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from .nets import dcgan_discriminator, dcgan_generator, sample_generator
from .train import History, load_checkpoint, train_gan

LATENT_DIM = 100
UNLIMITED_STEPS = 10**8  # a step count for runs that the clock stops


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The hinge loss for D (Lim and Ye 2017, arXiv 1705.02894; used with spectral norm by
    Miyato et al. 2018): E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], D(.) the logit. D stops
    pushing on samples it already scores beyond the margin, which keeps it from overconfidence."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """The hinge game's generator cost: -E[D(G(z))], raise the logit of the samples."""
    return -fake_logits.mean()


def diff_augment(images: Tensor, shift: int = 3, cutout: int = 14) -> Tensor:
    """Differentiable augmentation (Zhao et al. 2020, arXiv 2006.10738), sized for 28x28 digits:
    move each image by up to ``shift`` pixels each way (the border filled with background, -1),
    then blank a random ``cutout`` x ``cutout`` square. Both are indexing and masking, so
    gradients flow through to G. Applied to real and fake images alike, every time D looks, it
    shows D many versions of each of the few real digits, which slows D's memorising them."""
    n, _, height, width = images.shape
    device = images.device
    padded = F.pad(images, (shift, shift, shift, shift), value=-1.0)
    dy = torch.randint(0, 2 * shift + 1, (n, 1, 1), device=device)
    dx = torch.randint(0, 2 * shift + 1, (n, 1, 1), device=device)
    rows = torch.arange(height, device=device).view(1, -1, 1) + dy
    cols = torch.arange(width, device=device).view(1, 1, -1) + dx
    batch = torch.arange(n, device=device).view(-1, 1, 1)
    moved = padded[batch, 0, rows, cols].unsqueeze(1)
    half = cutout // 2
    cy = torch.randint(0, height, (n, 1, 1), device=device)
    cx = torch.randint(0, width, (n, 1, 1), device=device)
    ys = torch.arange(height, device=device).view(1, -1, 1)
    xs = torch.arange(width, device=device).view(1, 1, -1)
    inside = (ys >= cy - half) & (ys < cy + half) & (xs >= cx - half) & (xs < cx + half)
    return torch.where(inside.unsqueeze(1), torch.full_like(moved, -1.0), moved)


class AugmentedDiscriminator(nn.Module):
    """D that sees every image through :func:`diff_augment` while training (not in eval)."""

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, images: Tensor) -> Tensor:
        return self.discriminator(diff_augment(images) if self.training else images)


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """Exponential moving average of weights for sampling (Yazici et al. 2018, arXiv
    1806.04498): theta_avg <- decay * theta_avg + (1 - decay) * theta; buffers are copied."""
    for kept, current in zip(average.parameters(), model.parameters(), strict=True):
        kept.lerp_(current, 1.0 - decay)
    for kept, current in zip(average.buffers(), model.buffers(), strict=True):
        kept.copy_(current)


# name -> (D's loss, G's loss): the games a recipe may play
GAMES: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], str | Callable[[Tensor], Tensor]]] = {
    "non_saturating": (discriminator_loss, "non_saturating"),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
    # WGAN-GP (Gulrajani et al. 2017): the Wasserstein losses; the penalty is added in
    # train_models, since it needs the critic and the images, not only the scores.
    "wgan_gp": (wasserstein_critic_loss, wasserstein_generator_loss),
}


def linear_to_zero(progress: float) -> float:
    """The learning-rate schedule of a fixed budget: the rate falls linearly from its initial
    value to zero as ``progress`` goes from 0 to 1 (Li, Yumer and Ramanan 2020, "Budgeted
    Training", arXiv 1905.04753). As the steps shrink, the players stop circling and settle."""
    return 1.0 - progress


@dataclass(frozen=True)
class Recipe:
    """One way to train the DCGAN: the models, the game, the optimiser and the budget."""

    name: str
    width: int = 64  # channels: G's last hidden layer has 2 * width, D's first layer width
    d_norm: str = "batch"  # "batch" (the paper) or "spectral" (Miyato et al. 2018)
    minibatch_std: bool = False  # D sees the batch's spread (Karras et al. 2017)
    game: str = "non_saturating"
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5  # Adam's first-moment decay: the paper lowers it from 0.9 to 0.5
    beta2: float = 0.999
    n_critic: int = 1  # D steps per G step (k of Algorithm 1)
    gp_weight: float = 10.0  # lambda of the wgan_gp game
    gp_every: int = 1  # the penalty on one critic step in gp_every, times gp_every (LazyPenalty)
    lr_decay: bool = False  # both rates fall linearly to zero over the run (linear_to_zero)
    augment: bool = False  # DiffAugment on everything D sees (Zhao et al. 2020)
    quick_steps: int = 150
    full_steps: int = 2000  # with full_seconds, the most steps (a fast GPU stops here)
    full_seconds: float | None = None  # the full budget in seconds of training, if it has one

    def __post_init__(self) -> None:
        if self.game not in GAMES:
            raise ValueError(f"unknown game {self.game!r}: choose one of {', '.join(GAMES)}")
        check_every(self.gp_every, "gp_every")
        if self.game == "wgan_gp" and self.d_norm == "batch":
            raise ValueError(
                "the gradient penalty is per sample, and batch norm makes each score depend on "
                "the whole batch (Gulrajani et al. 2017, section 4): use d_norm='none'"
            )

    def steps(self) -> int:
        """Training steps at the current budget (GANCOURSE_BUDGET); with :meth:`seconds`, the
        most steps, since the clock usually stops the run first."""
        return config.budgeted(quick=self.quick_steps, full=self.full_steps)

    def seconds(self) -> float | None:
        """Seconds of training at the current budget, or None where the steps alone decide."""
        return config.budgeted(quick=None, full=self.full_seconds)

    def lr_schedule(self) -> Callable[[float], float] | None:
        """The schedule for ``train_gan(lr_schedule=...)``: linear_to_zero, or None (constant)."""
        return linear_to_zero if self.lr_decay else None

    def record_moments(self) -> dict[str, Any]:
        """When a :class:`TrainingRecord` measures a run at the current budget: after each eighth
        of its seconds when it has a time budget, else of its steps (the last at the end)."""
        seconds = self.seconds()
        if seconds is not None:
            return {"at_seconds": tuple(seconds * i / 8 for i in range(1, 8))}
        return {"every_steps": -(-self.steps() // 8)}


# The paper's recipe; its full budget (about 5 minutes on the reference 2-core CPU) shows its
# plateau, and the benchmark trains it for as long as IMPROVED.
PLAIN = Recipe("plain", quick_steps=150, full_steps=2000)
# The best digits for ten minutes of a 2-core CPU, each change measured by
# `python -m gancourse.bench dcgan-levers` (notebook 03, section 5).
IMPROVED = Recipe(
    "improved",
    width=24,
    d_norm="spectral",
    lr_g=1e-3,
    lr_d=1e-3,
    lr_decay=True,
    quick_steps=600,
    full_steps=40_000,  # a cap for fast machines; on the reference CPU the clock stops it
    full_seconds=600.0,
)
# Lesson 6: WGAN-GP (Gulrajani et al. 2017, arXiv 1704.00028) in the same ten minutes: the
# improved recipe's G, width and falling learning rate, a critic with no normalisation, the
# Wasserstein losses and the gradient penalty. The paper's n_critic = 5 and lr 1e-4 are far too
# slow for a CPU budget: measured on the reference CPU, seed 0, 150 s on one thread, n_critic 5
# at lr 1e-4 gave a Frechet ratio of 574, n_critic 2 at lr 1e-3 31.8, n_critic 1 20.8; beta1 = 0
# (the paper's other choice) and lambda = 1 brought it to 17.9, the improved recipe's 18.5.
# Over the full 600 s on two threads (seed 0) the penalty's second backward pass cost a quarter
# of the steps: 10,420 steps and a ratio of 6.34 against the improved recipe's 14,223 and 4.38.
# Lazy regularisation (Karras et al. 2020) gives most of them back: the penalty on one critic
# step in 4 (weight x 4) gave 13,995 steps and 4.60 (seed 1: 13,537 and 5.02, against the
# improved recipe's 4.26); one in 8 gave 4.20 on seed 0 but 6.87 on seed 1, unstable mid-run.
# With one critic step per G step the critic lagged behind G; a critic learning twice as fast
# (lr_d 2e-3, the two time-scale rule of Heusel et al. 2017, arXiv 1706.08500) closed the gap
# for free: seed 0, 600 s on one thread, 7.09 -> 4.25; over the benchmark's 600 s on two
# threads, 3.61, 4.41 and 3.87 on seeds 0-2 (mean 3.96) against the improved recipe's 4.38,
# 4.26 and 4.21 (mean 4.28). The README has the table.
WGAN_GP = replace(
    IMPROVED,
    name="wgan_gp",
    d_norm="none",
    game="wgan_gp",
    beta1=0.0,
    beta2=0.9,
    lr_d=2e-3,
    n_critic=1,
    gp_weight=1.0,
    gp_every=4,
)
RECIPES = {recipe.name: recipe for recipe in (PLAIN, IMPROVED, WGAN_GP)}


def recipe_named(name: str | Recipe) -> Recipe:
    """The recipe called ``name`` (a Recipe passes through)."""
    if isinstance(name, Recipe):
        return name
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}") from None


def fast_layout(model: nn.Module, device: torch.device | str) -> nn.Module:
    """``model`` on ``device``, its convolution weights in the channels-last memory layout where
    the convolution libraries prefer it (oneDNN on CPUs, cuDNN on GPUs): the same arithmetic in
    another order in memory, faster (``python -m gancourse.bench dcgan`` measures it). A library
    may choose another kernel for another layout, so two layouts can differ in the last bits."""
    device = torch.device(device)
    if device.type in ("cpu", "cuda"):
        return model.to(device, memory_format=torch.channels_last)
    return model.to(device)


def build_models(recipe: Recipe, device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """The recipe's generator and discriminator, initialised N(0, 0.02), on ``device``."""
    generator = dcgan_generator(LATENT_DIM, recipe.width)
    discriminator = dcgan_discriminator(
        recipe.width, norm=recipe.d_norm, minibatch_std=recipe.minibatch_std
    )
    if recipe.augment:
        discriminator = AugmentedDiscriminator(discriminator)
    return fast_layout(generator, device), fast_layout(discriminator, device)


def build_optimizers(
    recipe: Recipe, generator: nn.Module, discriminator: nn.Module
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for each player, with the recipe's learning rates and betas."""
    betas = (recipe.beta1, recipe.beta2)
    return (
        torch.optim.Adam(generator.parameters(), lr=recipe.lr_g, betas=betas),
        torch.optim.Adam(discriminator.parameters(), lr=recipe.lr_d, betas=betas),
    )


def checkpoint_path(recipe: str | Recipe, budget: str | None = None) -> Path:
    """Where the notebook keeps the recipe's trained models: data/dcgan_<recipe>_<budget>.pt,
    or data/dcgan_<recipe>_<budget>_seed<N>.pt under ``GANCOURSE_SEED=N`` (N > 0), so that a
    run on other seeds never loads the models of seed 0."""
    offset = config.seed_offset()
    suffix = f"_seed{offset}" if offset else ""
    return (
        config.data_dir()
        / f"dcgan_{recipe_named(recipe).name}_{budget or config.budget()}{suffix}.pt"
    )


def train_models(
    recipe: Recipe,
    generator: nn.Module,
    discriminator: nn.Module,
    sample_data: Callable[[int], Tensor],
    *,
    device: torch.device | str = "cpu",
    steps: int | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = True,
    time_limit: float | None = None,
    callback: Callable[[int], None] | None = None,
    progress: bool = True,
) -> History:
    """Train built models with the recipe's game, optimisers and learning-rate schedule, in the
    shared loop of lesson 1.

    With neither ``steps`` nor ``time_limit``, the recipe's budget decides (:meth:`Recipe.steps`,
    :meth:`Recipe.seconds`); with only ``time_limit``, the clock alone stops the run. The other
    keywords are :func:`gancourse.train.train_gan`'s.
    """
    if steps is None and time_limit is None:
        steps, time_limit = recipe.steps(), recipe.seconds()
    elif steps is None:
        steps = UNLIMITED_STEPS
    opt_g, opt_d = build_optimizers(recipe, generator, discriminator)
    d_loss, g_loss = GAMES[recipe.game]
    wasserstein = recipe.game == "wgan_gp"
    return train_gan(
        generator,
        discriminator,
        sample_data=sample_data,
        sample_noise=lambda m: torch.randn(m, LATENT_DIM, device=device),
        opt_g=opt_g,
        opt_d=opt_d,
        steps=steps,
        batch_size=recipe.batch_size,
        k=recipe.n_critic,
        g_loss=g_loss,
        d_loss=d_loss,
        d_penalty=(
            LazyPenalty(partial(gradient_penalty, weight=recipe.gp_weight), recipe.gp_every)
            if wasserstein
            else None
        ),
        scores=wasserstein,
        checkpoint=checkpoint,
        resume=resume,
        callback=callback,
        progress=progress,
        desc=f"DCGAN {recipe.name}",
        time_limit=time_limit,
        lr_schedule=recipe.lr_schedule(),
    )


def train_recipe(
    recipe: str | Recipe,
    digits: Digits,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    **kwargs,
) -> tuple[nn.Module, nn.Module, History]:
    """Seed, build the recipe's models and train them on ``digits``, which go to the device once
    (``data.tensor_sampler``). Keywords are :func:`train_models`'. Returns G, D and the history."""
    recipe = recipe_named(recipe)
    config.seed_everything(seed)
    generator, discriminator = build_models(recipe, device)
    sample_data = tensor_sampler(digits.images, device)
    history = train_models(recipe, generator, discriminator, sample_data, device=device, **kwargs)
    return generator, discriminator, history


def load_generator(
    recipe: str | Recipe = "improved",
    budget: str | None = None,
    device: torch.device | str | None = None,
    path: str | Path | None = None,
) -> nn.Module:
    """The generator that notebook 03 trained and saved, in evaluation mode, for later lessons.

    Reads ``path``, by default :func:`checkpoint_path` for the recipe and budget (the current one
    unless given). Raises FileNotFoundError saying which notebook makes the file.
    """
    recipe = recipe_named(recipe)
    path = Path(path) if path is not None else checkpoint_path(recipe, budget)
    if not path.is_file():
        raise FileNotFoundError(
            f"no trained DCGAN generator at {path}: run notebooks/03_dcgan_mnist.ipynb (budget "
            f"{budget or config.budget()}) to train and save it, or pass the path of one"
        )
    generator = build_models(recipe)[0]
    load_checkpoint(path, generator)
    # the layout the notebook trained in, so that on a GPU the same kernels draw the same digits
    return fast_layout(generator, config.device() if device is None else device).eval()


class TrainingRecord:
    """A :func:`train_gan` callback that watches a DCGAN learn: at chosen moments it measures
    the evaluator's Frechet ratio on 3,000 fixed latent codes and keeps a snapshot of G on 16
    other fixed codes. Its own time is kept out of the training seconds it reports.

    Moments are every ``every_steps`` steps, or (for comparing recipes at equal time) the first
    step past each of ``at_seconds``. :meth:`finish` adds the final step and, with ``path`` (a
    checkpoint's path), saves the record beside it; with ``resume`` a record saved there before
    is loaded, so a notebook that loads a finished checkpoint also gets its record back.
    ``also()``, if given, returns more figures to keep at each moment (its time is kept out too).
    """

    def __init__(
        self,
        generator: nn.Module,
        evaluator: Evaluator,
        *,
        every_steps: int = 0,
        at_seconds: Sequence[float] = (),
        probe: int = 3000,
        path: str | Path | None = None,
        resume: bool = True,
        verbose: bool = False,
        also: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        if not every_steps and not at_seconds:
            raise ValueError("give every_steps or at_seconds: when to measure the generator")
        self.generator, self.evaluator = generator, evaluator
        self.every_steps, self.marks, self.probe = every_steps, list(at_seconds), probe
        self.points: list[dict[str, float]] = []
        self.snapshots: list[Tensor] = []
        self.start, self.paused = time.perf_counter(), 0.0
        self.finished: float | None = None  # training seconds, frozen by finish()
        self.verbose, self.also = verbose, also
        self.path = None if path is None else Path(path).with_name(Path(path).stem + "_record.pt")
        if resume and self.path is not None and self.path.is_file():
            state = torch.load(self.path, weights_only=True)
            self.points, self.snapshots = list(state["points"]), list(state["snapshots"])

    def train_seconds(self) -> float:
        """Seconds since the record was made, less the time spent measuring, until finish()."""
        if self.finished is not None:
            return self.finished
        return time.perf_counter() - self.start - self.paused

    def measure(self, step: int) -> None:
        """Record the Frechet ratio and a snapshot now."""
        paused = time.perf_counter()
        figures = self.evaluator.evaluate(generate(self.generator, self.probe, seed=1))
        self.snapshots.append(generate(self.generator, 16, seed=2))
        extra = self.also() if self.also is not None else {}
        self.paused += time.perf_counter() - paused
        self.points.append(
            {
                "step": step,
                "train_seconds": round(self.train_seconds(), 1),
                "frechet_ratio": figures["frechet_ratio"],
                "smallest_class": min(figures["class_histogram"]),
                **extra,
            }
        )
        if self.verbose:
            point = self.points[-1]
            print(
                f"step {step}, {point['train_seconds']:.0f} s of training: "
                f"Frechet ratio {point['frechet_ratio']:.2f}",
                flush=True,
            )

    def __call__(self, step: int) -> None:
        if self.every_steps and step % self.every_steps == 0:
            self.measure(step)
        elif self.marks and self.train_seconds() >= self.marks[0]:
            self.marks.pop(0)
            self.measure(step)

    def finish(self, step: int) -> None:
        """Measure the final generator unless that step is already recorded; save the record."""
        if not self.points or self.points[-1]["step"] != step:
            self.measure(step)
        self.finished = self.points[-1]["train_seconds"]
        if self.path is not None:
            config.save_atomically({"points": self.points, "snapshots": self.snapshots}, self.path)


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
                fake = generator(torch.randn(recipe.batch_size, LATENT_DIM, device=device))
            loss = wasserstein_critic_loss(copy_(real), copy_(fake))
            loss = loss + gradient_penalty(copy_, real, fake, recipe.gp_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            real = sample_data(probe)
            fake = generator(torch.randn(probe, LATENT_DIM, device=device))
            return (copy_(real).mean() - copy_(fake).mean()).item()


def generate(generator: nn.Module, n: int, seed: int = 0, batch: int = 1000) -> Tensor:
    """``n`` digits from ``generator`` in evaluation mode, on the CPU, shaped (n, 1, 28, 28),
    from seeded noise (``nets.sample_generator``)."""
    return sample_generator(generator, n, LATENT_DIM, seed, batch)


def recipe_settings(recipe: Recipe) -> dict:
    """The recipe as a plain dict, for result files."""
    return asdict(recipe)
