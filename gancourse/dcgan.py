"""Lesson 3: DCGAN on MNIST. What the lesson measures with, and the saved generators.

Radford, Metz and Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv 1511.06434. ``PLAIN`` is the paper's recipe adapted to
28x28; ``IMPROVED`` is what fits the best digits into the same ten minutes of a 2-core CPU, each
change measured in notebooks/03_dcgan_mnist.ipynb and in ``python -m gancourse.bench dcgan``.
The recipes themselves are in ``recipes``, with every other lesson's.

The notebook trains both and saves them under data/; later lessons load a saved generator with
:func:`load_generator` instead of training again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import config
from .checkpoint import load_checkpoint
from .evaluator import Evaluator
from .losses import gradient_penalty, wasserstein_critic_loss
from .nets import fast_layout, sample_generator
from .recipes import (  # noqa: F401  (the lesson's recipes, by the names the notebooks use)
    DCGAN_LATENT_DIM,
    IMPROVED,
    PLAIN,
    WGAN_GP,
    Recipe,
    models,
    recipe_named,
)

LATENT_DIM = DCGAN_LATENT_DIM


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """Exponential moving average of weights for sampling (Yazici et al. 2018, arXiv
    1806.04498): theta_avg <- decay * theta_avg + (1 - decay) * theta; buffers are copied."""
    for kept, current in zip(average.parameters(), model.parameters(), strict=True):
        kept.lerp_(current, 1.0 - decay)
    for kept, current in zip(average.buffers(), model.buffers(), strict=True):
        kept.copy_(current)


def record_moments(recipe: Recipe, budget: str) -> dict[str, Any]:
    """When a :class:`TrainingRecord` measures a run of ``recipe`` at ``budget``: after each
    eighth of its seconds when it has a time budget, else of its steps (the last at the end)."""
    seconds = recipe.seconds(budget)
    if seconds is not None:
        return {"at_seconds": tuple(seconds * i / 8 for i in range(1, 8))}
    return {"every_steps": -(-recipe.steps(budget) // 8)}


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
    generator = models(recipe)[0]
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
