"""The 2D setting of lessons 4 to 6: GANs on the ring of 8 and the grid of 25, measured over seeds.

Lesson 5 sets three discriminators against the same generator: a plain MLP, the same MLP with
minibatch discrimination before its last layer (Salimans et al. 2016, arXiv 1606.03498), and
PacGAN-2 (Lin et al. 2018, arXiv 1712.04086), which judges two samples at a time
(``recipes.Recipe.d_kind``). Runs are measured with VEEGAN's mode metrics on 2,500 samples.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from . import metrics, recipes
from .data import Mixture2D, mixture
from .history import History
from .metrics import ModeCoverage, mode_coverage
from .nets import sample_generator
from .recipes import LESSON5_GRID, LESSON5_RING, Recipe
from .record import BENCH_SAMPLES, Measurement, Outcome, Recorder
from .workers import run_in_workers

EVAL_SAMPLES = 2500  # VEEGAN's protocol
TARGETS = ("ring", "grid")


def lesson5(target: str, kind: str = "plain") -> Recipe:
    """Lesson 5's GAN on ``target`` with a ``kind`` of discriminator: "plain", "minibatch" or
    "pacgan2". The same players on the ring and the grid; the grid's 25 modes train longer."""
    _check_target(target)
    return replace(LESSON5_RING if target == "ring" else LESSON5_GRID, d_kind=kind)


def evaluate(generator: nn.Module, target: str | Mixture2D, seed: int = 1) -> ModeCoverage:
    """VEEGAN's and PacGAN's mode metrics on ``EVAL_SAMPLES`` samples of ``generator``."""
    target = mixture(target) if isinstance(target, str) else target
    samples = sample_generator(generator, EVAL_SAMPLES, seed).numpy()
    return mode_coverage(samples, target.means.numpy(), target.std)


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: choose one of {TARGETS}")


def mode_record(
    generator: nn.Module, target: str | Mixture2D, every: int, keep: int = 500
) -> Recorder:
    """A :class:`~gancourse.record.Recorder` that, every ``every`` steps, measures the mode
    metrics of ``EVAL_SAMPLES`` samples from fixed noise (seed 1) (``coverage``, a
    ``metrics.ModeCoverage``, and its ``histogram``: the share of samples nearest to each mode),
    and keeps ``keep`` of those samples as a snapshot."""
    target = mixture(target) if isinstance(target, str) else target

    def measure() -> Measurement:
        samples = sample_generator(generator, EVAL_SAMPLES, seed=1).numpy()
        coverage = mode_coverage(samples, target.means.numpy(), target.std)
        figures = {"coverage": coverage, "histogram": coverage.histogram}
        return Measurement(figures, samples[:keep])

    return Recorder(measure, every_steps=every)


@dataclass(frozen=True)
class SeedResult:
    """One seed's run: its coverage on ``EVAL_SAMPLES`` samples, those samples and the time;
    the history, the trained players' weights (``recipes.models(recipe)`` rebuilds them) and, where
    asked for, ``EVAL_SAMPLES`` samples at regular steps: ``snapshots[step]``."""

    seed: int
    coverage: ModeCoverage
    samples: np.ndarray
    seconds: float
    history: History | None = None
    generator_state: dict | None = None
    critic_state: dict | None = None
    snapshots: dict[int, np.ndarray] | None = None
    encoder_state: dict | None = None  # ALI / BiGAN's E (``recipes.encoder_model`` rebuilds it)


def _train_and_measure(
    target: str, recipe: Recipe, steps: int, seed: int, device: str, snapshot_every: int = 0
) -> SeedResult:
    """One seed, start to finish; a top-level function so that worker processes can run it."""
    snapshots: dict[int, np.ndarray] = {}
    start = time.perf_counter()
    run = recipes.build(recipe, target, seed, device)

    def snapshot(step: int) -> None:
        if snapshot_every and step % snapshot_every == 0:
            snapshots[step] = sample_generator(run.generator, EVAL_SAMPLES, seed=1).numpy()

    history = recipes.train(run, recipe, steps=steps, callback=snapshot, progress=False)
    seconds = time.perf_counter() - start
    samples = sample_generator(run.generator, EVAL_SAMPLES, seed=seed + 1).numpy()
    mix = mixture(target)
    on_cpu = {name: {k: v.cpu() for k, v in model.state_dict().items()}
              for name, model in run.players.modules().items()}  # fmt: skip
    return SeedResult(
        seed,
        mode_coverage(samples, mix.means.numpy(), mix.std),
        samples,
        seconds,
        history,
        on_cpu["generator"],
        on_cpu["discriminator"],
        snapshots or None,
        on_cpu.get("encoder"),
    )


def _relative_cost(job: tuple) -> float:
    """A rough cost of a job (target, recipe, steps, ...), to start the slowest first:
    minibatch discrimination compares every pair in the batch, and a critic step with the
    gradient penalty costs about three plain ones (double backward)."""
    _, recipe, steps = job[:3]
    pairs = recipe.batch_size**2 / 1e3 if recipe.d_kind == "minibatch" else 0.0
    critic_steps = recipe.n_critic * (3 if recipe.game == "wgan_gp" else 1)
    width = recipe.g_layers * recipe.g_hidden + critic_steps * recipe.d_layers * recipe.d_hidden
    return steps * (recipe.batch_size * width / 1e4 + pairs)


@dataclass(frozen=True)
class Job:
    """One training run: ``recipe`` on ``target`` for ``steps`` steps from ``seed``."""

    target: str
    recipe: Recipe
    steps: int
    seed: int


def train_runs(
    jobs: Sequence[Job],
    device: torch.device | str = "cpu",
    workers: int | None = None,
    snapshot_every: int = 0,
    desc: str = "2D GANs",
) -> list[SeedResult]:
    """Train and measure each job, in the order given (any mix of targets and recipes).

    On the CPU the jobs go to worker processes of one thread each (``workers.run_in_workers``:
    one thread is fastest for these small networks); on a GPU they run one after the other in
    this process. Each job is exactly ``recipes.build`` then ``recipes.train`` for its steps,
    so its numbers match a run made alone. With ``snapshot_every``, each result also holds
    samples from every that many steps.
    """
    for job in jobs:
        _check_target(job.target)
    device = str(torch.device(device))
    arguments = [(j.target, j.recipe, j.steps, j.seed, device, snapshot_every) for j in jobs]
    return run_in_workers(
        _train_and_measure,
        arguments,
        in_process=device != "cpu",
        workers=workers,
        cost=_relative_cost,
        desc=desc,
    )


def train_seeds(
    target: str,
    setups: dict[str, Recipe],
    steps: int,
    seeds: Sequence[int] | Mapping[str, Sequence[int]],
    device: torch.device | str = "cpu",
    workers: int | None = None,
    snapshot_every: int = 0,
) -> dict[str, list[SeedResult]]:
    """Train every setup in ``setups`` from every seed in ``seeds`` on ``target`` and measure
    each run (:func:`train_runs`), for a table of mean and standard deviation over seeds.
    ``seeds`` may instead map each setup's name to its own seeds. Returns each setup's
    results in the order of its seeds."""
    per_setup = seeds if isinstance(seeds, Mapping) else {name: seeds for name in setups}
    if set(per_setup) != set(setups):
        raise ValueError(f"seeds names {sorted(per_setup)}, but the setups are {sorted(setups)}")
    if not all(per_setup.values()):
        raise ValueError("seeds is empty: give at least one seed, e.g. seeds=(0, 1, 2)")
    names = [name for name in setups for _ in per_setup[name]]
    runs = [Job(target, setups[name], steps, seed) for name in setups for seed in per_setup[name]]
    done = train_runs(runs, device, workers, snapshot_every, desc=f"the {target}")
    results: dict[str, list[SeedResult]] = {name: [] for name in setups}
    for name, result in zip(names, done, strict=True):
        results[name].append(result)
    return results


def summary_over_seeds(results: Sequence[SeedResult]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation (ddof 1) over seeds of modes captured, high quality
    and reverse KL."""
    table = {}
    for key in ("modes_captured", "high_quality", "reverse_kl"):
        values = np.array([getattr(r.coverage, key) for r in results], dtype=float)
        table[key] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0)
    return table


def benchmark(target: str, recipe: Recipe, device: torch.device, seed: int, budget: str) -> Outcome:
    """Train ``recipe`` on the 2D ``target`` for its steps at ``budget`` from ``seed``; measure
    modes, high quality and reverse KL on 2,500 of its 10,000 samples (VEEGAN's protocol), and
    a Wasserstein critic's estimate of W1."""
    steps = recipe.steps(budget)
    start = time.perf_counter()
    run = recipes.build(recipe, target, seed, device)
    history = recipes.train(run, recipe, steps=steps, progress=False)
    train_seconds = time.perf_counter() - start
    samples = sample_generator(run.generator, BENCH_SAMPLES, seed=seed + 1).numpy()
    mix = mixture(target)
    coverage = metrics.mode_coverage(samples[:EVAL_SAMPLES], mix.means.numpy(), mix.std)
    return Outcome(
        samples=samples,
        metrics={
            "target": target,
            "samples_measured": EVAL_SAMPLES,
            **coverage.as_dict(),
            **(
                {"critic_w1_estimate": history.wasserstein_estimate(steps)}
                if run.game.scores
                else {}
            ),
            "recipe": recipe.as_dict(),
        },
        steps=steps,
        train_seconds=train_seconds,
        generator=run.generator,
        recipe=recipe,
    )
