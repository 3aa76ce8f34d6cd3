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

import contextlib
import copy
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import config, recipes
from .checkpoint import load_checkpoint
from .data import Digits, load_mnist, tensor_sampler
from .evaluator import Evaluator, gan_training_digits, load_or_train_evaluator
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
from .record import BENCH_SAMPLES, Measurement, Outcome, Recorder
from .workers import run_in_workers

LATENT_DIM = DCGAN_LATENT_DIM


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """Exponential moving average of weights for sampling (Yazici et al. 2018, arXiv
    1806.04498): theta_avg <- decay * theta_avg + (1 - decay) * theta; buffers are copied."""
    for kept, current in zip(average.parameters(), model.parameters(), strict=True):
        kept.lerp_(current, 1.0 - decay)
    for kept, current in zip(average.buffers(), model.buffers(), strict=True):
        kept.copy_(current)


def record_moments(recipe: Recipe, budget: str, points: int = 8) -> dict[str, Any]:
    """When a Recorder (:func:`frechet_record`, ...) measures a run of ``recipe`` at ``budget``:
    after each of ``points`` equal shares of its seconds when it has a time budget, else of its
    steps (the last at the end)."""
    seconds = recipe.seconds(budget)
    if seconds is not None:
        return {"at_seconds": tuple(seconds * i / points for i in range(1, points))}
    return {"every_steps": -(-recipe.steps(budget) // points)}


def checkpoint_path(recipe: str | Recipe, budget: str) -> Path:
    """Where notebook 03 keeps the recipe's trained models at ``budget`` ("quick" or "full"):
    data/dcgan_<recipe>_<budget>.pt, or data/dcgan_<recipe>_<budget>_seed<N>.pt under
    ``GANCOURSE_SEED=N`` (N > 0), so that a run on other seeds never loads the models of seed 0."""
    config.for_budget(budget, None, None)  # an unknown budget is an error here, not a file name
    offset = config.seed_offset()
    suffix = f"_seed{offset}" if offset else ""
    return config.data_dir() / f"dcgan_{recipe_named(recipe).name}_{budget}{suffix}.pt"


def load_generator(
    recipe: str | Recipe,
    budget: str,
    device: torch.device | str,
    path: str | Path | None = None,
) -> nn.Module:
    """The generator that notebook 03 trained and saved, in evaluation mode, for later lessons.

    Reads ``path``, by default :func:`checkpoint_path` for the recipe and budget, and rebuilds
    the generator from the recipe saved in the checkpoint (the named one for a checkpoint that
    holds none). Raises FileNotFoundError saying which notebook makes the file.
    """
    path = Path(path) if path is not None else checkpoint_path(recipe, budget)
    if not path.is_file():
        raise FileNotFoundError(
            f"no trained DCGAN generator at {path}: run notebooks/03_dcgan_mnist.ipynb (budget "
            f"{budget}) to train and save it, or pass the path of one"
        )
    saved = config.load_saved(path, "gancourse checkpoint").get("settings", {})
    if isinstance(saved, dict) and isinstance(saved.get("recipe"), dict):
        recipe = Recipe(**saved["recipe"])
    generator = models(recipe_named(recipe))[0]
    load_checkpoint(path, generator)
    # the layout the notebook trained in, so that on a GPU the same kernels draw the same digits
    return fast_layout(generator, device).eval()


def frechet_record(
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
) -> Recorder:
    """A :class:`~gancourse.record.Recorder` that watches a DCGAN learn: at each moment the
    evaluator's Frechet ratio and smallest class on ``probe`` digits from fixed latent codes
    (seed 1), and a snapshot of 16 digits from 16 other fixed codes (seed 2). ``also()``, if
    given, returns more figures to keep (its time is kept out too). With ``path`` (a
    checkpoint's path) the record is saved beside it, as ``<name>_record.pt``."""

    def measure() -> Measurement:
        figures = evaluator.evaluate(sample_generator(generator, probe, seed=1))
        return Measurement(
            {
                "frechet_ratio": figures["frechet_ratio"],
                "smallest_class": min(figures["class_histogram"]),
                **(also() if also is not None else {}),
            },
            sample_generator(generator, 16, seed=2),
        )

    record_path = None if path is None else Path(path).with_name(Path(path).stem + "_record.pt")
    return Recorder(measure, every_steps, at_seconds, record_path, resume, verbose)


def _dataloader_sampler(
    images: torch.Tensor, device: torch.device
) -> Callable[[int], torch.Tensor]:
    """The straightforward way to feed a GAN: a shuffling DataLoader on the CPU, one batch copied
    to the device per step. Only for comparing speed with ``data.tensor_sampler``."""
    from torch.utils.data import DataLoader, TensorDataset

    loaders: dict[int, Any] = {}

    def sample(m: int) -> torch.Tensor:
        if m not in loaders:
            loaders[m] = iter(())
        try:
            (batch,) = next(loaders[m])
        except StopIteration:
            loaders[m] = iter(
                DataLoader(TensorDataset(images), batch_size=m, shuffle=True, drop_last=True)
            )
            (batch,) = next(loaders[m])
        return batch.to(device)

    return sample


def _steps_per_second(
    recipe: Recipe, sample_data: Callable[[int], torch.Tensor], device: torch.device, steps: int
) -> float:
    """Training speed of ``recipe`` fed by ``sample_data``, timed after 5 warm-up steps."""
    run = recipes.build(recipe, sample_data(1), 0, device)  # a placeholder target
    run.sample_data = sample_data
    seconds = 0.0
    for count in (5, steps):
        start = time.perf_counter()
        recipes.train(run, recipe, steps=count, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    return steps / seconds


def _train_with_curve(
    recipe: Recipe,
    digits: Digits,
    evaluator: Evaluator,
    device: torch.device,
    seed: int,
    budget: str,
    *,
    time_limit: float | None = None,
) -> tuple[torch.nn.Module, int, Recorder]:
    """Train ``recipe`` from ``seed`` at its budget or, with ``time_limit``, for that many
    seconds; measure the Frechet ratio after every eighth of the way and at the end.
    Returns G, the steps taken and the record."""
    run = recipes.build(recipe, digits, seed, device)
    if time_limit is None:
        moments = record_moments(recipe, budget)
    else:
        moments = {"at_seconds": tuple(time_limit * i / 8 for i in range(1, 8))}
    record = frechet_record(run.generator, evaluator, **moments, verbose=True)
    history = recipes.train(run, recipe, budget, time_limit=time_limit, callback=record)
    steps = history.step[-1]
    record.finish(steps)
    return run.generator, steps, record


def result_figures(
    recipe: Recipe, samples: torch.Tensor, steps: int, curve: Recorder, evaluator: Evaluator
) -> dict[str, Any]:
    """One recipe's part of result.json: the evaluator's figures, speed and curve."""
    seconds = curve.train_seconds()
    return {
        **evaluator.evaluate(samples),
        "steps": steps,
        "train_seconds": round(seconds, 1),
        "steps_per_second": round(steps / seconds, 2),
        "curve": curve.points,
        "recipe": recipe.as_dict(),
    }


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 3: the improved DCGAN recipe against the paper's plain one, same training time.

    Trains ``dcgan.IMPROVED`` at its budget (full: 600 seconds of training, the budget the
    lesson targets; quick: its quick steps), then ``dcgan.PLAIN`` for the same seconds, both on
    the GAN's part of the digits, and measures both with the held-out evaluator and with a
    second one trained from another seed; samples.npy holds the improved generator's 10,000
    digits. Also times the improved recipe fed by a per-batch DataLoader against the data kept
    on the device.
    """
    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    second = load_or_train_evaluator(digits, seed=1)
    training = gan_training_digits(digits)
    results: dict[str, Any] = {}
    generator, steps, curve = _train_with_curve(IMPROVED, training, evaluator, device, seed, budget)
    seconds = curve.train_seconds()
    print(f"training {PLAIN.name} for the same {seconds:.0f} s", flush=True)
    samples = sample_generator(generator, BENCH_SAMPLES, seed=seed + 1)
    results["improved"] = result_figures(IMPROVED, samples, steps, curve, evaluator)
    plain, plain_steps, plain_curve = _train_with_curve(
        PLAIN, training, evaluator, device, seed, budget, time_limit=seconds
    )
    plain_samples = sample_generator(plain, BENCH_SAMPLES, seed=seed + 1)
    results["plain"] = result_figures(PLAIN, plain_samples, plain_steps, plain_curve, evaluator)
    for name, images in (("improved", samples), ("plain", plain_samples)):
        results[name]["second_evaluator"] = {
            key: value
            for key, value in second.evaluate(images).items()
            if key in ("frechet_ratio", "inception_score", "class_histogram")
        }
    timing_steps = config.for_budget(budget, 10, 200)
    results["feeding"] = {
        "steps_timed": timing_steps,
        "tensor_on_device_steps_per_second": round(
            _steps_per_second(
                IMPROVED, tensor_sampler(training.images, device), device, timing_steps
            ),
            2,
        ),
        "dataloader_steps_per_second": round(
            _steps_per_second(
                IMPROVED, _dataloader_sampler(training.images, device), device, timing_steps
            ),
            2,
        ),
    }
    improved, baseline = results["improved"], results["plain"]
    return Outcome(
        samples=samples.numpy(),
        metrics={
            "frechet_ratio": improved["frechet_ratio"],
            "plain_frechet_ratio": baseline["frechet_ratio"],
            "times_better_than_plain": baseline["frechet_ratio"] / improved["frechet_ratio"],
            "times_better_than_plain_second_evaluator": (
                baseline["second_evaluator"]["frechet_ratio"]
                / improved["second_evaluator"]["frechet_ratio"]
            ),
            "min_class_fraction": min(improved["class_histogram"]),
            "inception_score": improved["inception_score"],
            "data": digits.source,
            "gan_training_digits": len(training),
            "evaluator_accuracy": evaluator.accuracy,
            **results,
        },
        steps=steps,
        train_seconds=seconds,
        generator=generator,
        recipe=IMPROVED,
    )


def _measure_lever(
    label: str, recipe: Recipe, seconds: float, seed: int, device: str, average: bool
) -> tuple[dict[str, Any], np.ndarray | None]:
    """One lever, in a worker process on one CPU thread: train ``recipe`` for ``seconds`` from
    ``seed``, then draw 10,000 samples and measure them (the evaluator compares as many as its
    real set holds: 3,000 on the bundled subset). With ``average``, also measure an exponential
    moving average of G's weights (decay 0.999) kept during the same run. Returns the row and,
    with ``average``, the samples."""
    with contextlib.redirect_stdout(io.StringIO()):
        digits = load_mnist(verbose=False)
        evaluator = load_or_train_evaluator(digits)
    run = recipes.build(recipe, gan_training_digits(digits), seed, device)
    generator = run.generator
    kept = copy.deepcopy(generator)
    history = recipes.train(
        run,
        recipe,
        time_limit=seconds,
        callback=(lambda step: update_average(kept, generator)) if average else None,
        progress=False,
    )
    images = sample_generator(generator, BENCH_SAMPLES, seed=seed + 1)
    figures = evaluator.evaluate(images)
    row = {
        "lever": label,
        "recipe": recipe.as_dict(),
        "steps": history.step[-1],
        "frechet_ratio": round(figures["frechet_ratio"], 2),
        "smallest_class": round(min(figures["class_histogram"]), 3),
        "inception_score": round(figures["inception_score"], 2),
    }
    if average:
        averaged = evaluator.evaluate(sample_generator(kept, BENCH_SAMPLES, seed=seed + 1))
        row["frechet_ratio_weight_average"] = round(averaged["frechet_ratio"], 2)
    print(json.dumps(row), flush=True)
    return row, images.numpy() if average else None


def levers_benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 3's levers: each recipe trained for the same seconds (full: 600) on one CPU thread.

    The recipes (``recipes.LEVERS``) run in parallel, one worker process per CPU core, each on
    one thread (``workers.run_in_workers``), so every row gets the same machine whatever the
    number of cores (a 2-core CPU takes six rounds: about an hour at the full budget). Rates
    that decay fall to zero over those seconds. The IMPROVED row also measures a weight average
    of G, the "weight average for sampling" lever, from the same run. samples.npy holds
    IMPROVED's.
    """
    digits = load_mnist()
    load_or_train_evaluator(digits)  # trained and cached once, before the workers read it
    seconds = config.for_budget(budget, 3.0, 600.0)
    levers = recipes.LEVERS
    print(f"{len(levers)} recipes, {seconds:g} s each", flush=True)
    jobs = [
        (label, recipe, seconds, seed, str(device), recipe == IMPROVED)
        for label, recipe in levers.items()
    ]
    outcomes = run_in_workers(_measure_lever, jobs, desc="levers")
    rows = [row for row, _ in outcomes]
    samples = next(images for _, images in outcomes if images is not None)
    return Outcome(
        samples=samples,
        metrics={
            "seconds_per_lever": seconds,
            "threads_per_lever": 1,
            "parallel_workers": max(1, min(len(levers), os.cpu_count() or 1)),
            "levers": rows,
            "data": digits.source,
        },
        steps=sum(row["steps"] for row in rows),
        train_seconds=seconds * len(rows),
    )


def decay_benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 3's open question: do learning rates falling linearly to 0 help? The improved
    recipe (rates falling to 0 over the budget) against the same recipe at constant rates
    (``recipes.FAST``), each trained for the same seconds (full: 600) from seeds ``seed``,
    ``seed + 1`` and ``seed + 2`` on one CPU thread, in parallel workers as the levers are.
    Reports each run and, per recipe, the mean and standard deviation of the Frechet ratio,
    and the per-seed difference (constant minus falling). samples.npy: the first seed's
    improved generator's."""
    digits = load_mnist()
    load_or_train_evaluator(digits)  # trained and cached once, before the workers read it
    seconds = config.for_budget(budget, 3.0, 600.0)
    seeds = [seed + i for i in range(3)]
    pairs = {"falling to 0": IMPROVED, "constant": recipes.FAST}
    # the first seed's improved run also keeps its samples (and measures a weight average)
    jobs = [
        (label, recipe, seconds, s, str(device), recipe is IMPROVED and s == seed)
        for s in seeds
        for label, recipe in pairs.items()
    ]
    outcomes = run_in_workers(_measure_lever, jobs, desc="decay")
    rows = [{**row, "seed": job[3]} for (row, _), job in zip(outcomes, jobs, strict=True)]
    ratios = {label: np.array([r["frechet_ratio"] for r in rows if r["lever"] == label])
              for label in pairs}  # fmt: skip
    differences = ratios["constant"] - ratios["falling to 0"]
    return Outcome(
        samples=next(images for _, images in outcomes if images is not None),
        metrics={
            "seconds_per_run": seconds,
            "seeds": seeds,
            "runs": [{k: v for k, v in row.items() if k != "recipe"} for row in rows],
            **{
                f"frechet_ratio_{label.replace(' ', '_')}": {
                    "mean": round(float(values.mean()), 2),
                    "std": round(float(values.std(ddof=1)), 2),
                }
                for label, values in ratios.items()
            },
            "constant_minus_falling": [round(float(d), 2) for d in differences],
            "data": digits.source,
        },
        steps=sum(row["steps"] for row in rows),
        train_seconds=seconds * len(rows),
    )
