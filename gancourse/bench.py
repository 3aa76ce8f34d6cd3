"""Benchmarks: ``python -m gancourse.bench NAME --budget quick|full --out DIR``.

Each benchmark trains one lesson's model at a budget and writes, into DIR:

- ``result.json``: name, budget, device, seed, steps, seconds, steps_per_second, the torch
  version, the machine, and the lesson's own metrics;
- ``samples.npy``: 10,000 generated samples as a numpy array (N, ...).

``--list`` names the benchmarks. Each lesson adds its own.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import config, metrics, recipes, toy1d, toy2d, train
from .data import Digits, load_mnist, mixture, tensor_sampler
from .dcgan import TrainingRecord, generate, record_moments, refined_critic_estimate, update_average
from .evaluator import Evaluator, gan_training_digits, load_or_train_evaluator
from .recipes import IMPROVED, LESSON1, PLAIN, WGAN_GP, Recipe
from .workers import run_in_workers

N_SAMPLES = 10_000


@dataclass
class Outcome:
    """What a benchmark hands back: samples, its own metrics, and how many steps it trained."""

    samples: np.ndarray
    metrics: dict[str, Any]
    steps: int
    train_seconds: float


def _pick(budget: str, quick: Any, full: Any) -> Any:
    return quick if budget == "quick" else full


def gaussian1d(device: torch.device, seed: int, budget: str) -> Outcome:
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
        samples = generator(torch.randn(N_SAMPLES, 1, device=device)).cpu().numpy()
    target = toy1d.TARGET
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
) -> tuple[torch.nn.Module, int, TrainingRecord]:
    """Train ``recipe`` from ``seed`` at its budget or, with ``time_limit``, for that many
    seconds; measure the Frechet ratio after every eighth of the way and at the end.
    Returns G, the steps taken and the record."""
    run = recipes.build(recipe, digits, seed, device)
    if time_limit is None:
        moments = record_moments(recipe, budget)
    else:
        moments = {"at_seconds": tuple(time_limit * i / 8 for i in range(1, 8))}
    record = TrainingRecord(run.generator, evaluator, **moments, verbose=True)
    history = recipes.train(run, recipe, budget, time_limit=time_limit, callback=record)
    steps = history.step[-1]
    record.finish(steps)
    return run.generator, steps, record


def _figures(
    recipe: Recipe, samples: torch.Tensor, steps: int, curve: TrainingRecord, evaluator: Evaluator
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


def dcgan(device: torch.device, seed: int, budget: str) -> Outcome:
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
    samples = generate(generator, N_SAMPLES, seed=seed + 1)
    results["improved"] = _figures(IMPROVED, samples, steps, curve, evaluator)
    plain, plain_steps, plain_curve = _train_with_curve(
        PLAIN, training, evaluator, device, seed, budget, time_limit=seconds
    )
    plain_samples = generate(plain, N_SAMPLES, seed=seed + 1)
    results["plain"] = _figures(PLAIN, plain_samples, plain_steps, plain_curve, evaluator)
    for name, images in (("improved", samples), ("plain", plain_samples)):
        results[name]["second_evaluator"] = {
            key: value
            for key, value in second.evaluate(images).items()
            if key in ("frechet_ratio", "inception_score", "class_histogram")
        }
    timing_steps = _pick(budget, 10, 200)
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
    images = generate(generator, N_SAMPLES, seed=seed + 1)
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
        averaged = evaluator.evaluate(generate(kept, N_SAMPLES, seed=seed + 1))
        row["frechet_ratio_weight_average"] = round(averaged["frechet_ratio"], 2)
    print(json.dumps(row), flush=True)
    return row, images.numpy() if average else None


def dcgan_levers(device: torch.device, seed: int, budget: str) -> Outcome:
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
    seconds = _pick(budget, 3.0, 600.0)
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


def toy2d_benchmark(
    target: str, recipe: Recipe, device: torch.device, seed: int, budget: str
) -> Outcome:
    """Train ``recipe`` on the 2D ``target`` for its steps at ``budget`` from ``seed``; measure
    modes, high quality and reverse KL on 2,500 of its 10,000 samples (VEEGAN's protocol), and
    a Wasserstein critic's estimate of W1."""
    steps = recipe.steps(budget)
    start = time.perf_counter()
    run = recipes.build(recipe, target, seed, device)
    history = recipes.train(run, recipe, steps=steps, progress=False)
    train_seconds = time.perf_counter() - start
    samples = toy2d.generate(run.generator, N_SAMPLES, seed=seed + 1)
    mix = mixture(target)
    coverage = metrics.mode_coverage(samples[: toy2d.EVAL_SAMPLES], mix.means.numpy(), mix.std)
    return Outcome(
        samples=samples,
        metrics={
            "target": target,
            "samples_measured": toy2d.EVAL_SAMPLES,
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
    )


def wgan_gp_mnist(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 6: WGAN-GP on MNIST (dcgan.WGAN_GP) in lesson 3's budget; the Frechet ratio, and
    the critic's W1 estimates against it over the run (rank correlation).

    Trains at the recipe's budget (full: 600 seconds of training, as the improved DCGAN of
    ``dcgan``; quick: its quick steps) on the GAN's part of the digits and measures 3,000
    samples with the held-out evaluator and a second one. At each eighth of the run the Frechet
    ratio is paired with the critic's running estimate (mean over the 50 steps before) and a
    refined one (``dcgan.refined_critic_estimate``, 200 more critic steps on a copy).
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

    curve = TrainingRecord(
        generator, evaluator, **record_moments(WGAN_GP, budget), verbose=True, also=refined
    )
    history = recipes.train(run, WGAN_GP, budget, callback=curve)
    steps = history.step[-1]
    curve.finish(steps)
    samples = generate(generator, N_SAMPLES, seed=seed + 1)
    figures = _figures(WGAN_GP, samples, steps, curve, evaluator)
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
    )


# Each lesson's training step: lessons 1, 3 (both recipes), 5 (the grid, plain and with
# minibatch discrimination) and 6 (WGAN-GP on the grid and on MNIST): (recipe, target).
STEP_SETTINGS: dict[str, tuple[Recipe, str]] = {
    "gaussian1d": (LESSON1, "gaussian1d"),
    "grid-plain": (toy2d.lesson5("grid", "plain"), "grid"),
    "grid-minibatch": (toy2d.lesson5("grid", "minibatch"), "grid"),
    "wgan-gp-grid": (recipes.WGAN_GP_2D, "grid"),
    "dcgan-plain": (PLAIN, "mnist"),
    "dcgan-improved": (IMPROVED, "mnist"),
    "wgan-gp-mnist": (WGAN_GP, "mnist"),
}


def steps(device: torch.device, seed: int, budget: str) -> Outcome:
    """Each lesson's training step (train.gan_step): generator steps per second on this device,
    timed after warm-up steps, with the device synchronised before the clock stops.

    The same step the notebooks train with, for a table of CPU and GPU speeds; samples.npy
    holds 10,000 samples of the last setting's generator (untrained: this measures speed).
    """
    timed = _pick(budget, 8, 400)
    with contextlib.redirect_stdout(io.StringIO()):
        digits = gan_training_digits(load_mnist())
    rows, run = {}, None
    for name, (recipe, target) in STEP_SETTINGS.items():
        run = recipes.build(recipe, digits if target == "mnist" else target, seed, device)
        for count in (max(4, timed // 10), timed):  # warm up, then time
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            for _ in range(count):
                train.gan_step(
                    run.players,
                    run.game,
                    run.sample_data,
                    run.sample_noise,
                    recipe.batch_size,
                    recipe.n_critic,
                )
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - start
        rows[name] = {"steps_timed": timed, "steps_per_second": round(timed / seconds, 2)}
        print(f"{name:16s} {rows[name]['steps_per_second']:8.1f} generator steps/s", flush=True)
    return Outcome(
        samples=generate(run.generator, N_SAMPLES, seed=seed + 1).numpy(),
        metrics={"settings": rows, "cpu_threads_per_run": torch.get_num_threads()},
        steps=timed * len(rows),
        train_seconds=sum(timed / row["steps_per_second"] for row in rows.values()),
    )


def _toy2d(target: str, recipe: Recipe) -> Callable[[torch.device, int, str], Outcome]:
    return partial(toy2d_benchmark, target, recipe)


# name -> (what it runs, one line on what it measures)
BENCHMARKS: dict[str, tuple[Callable[[torch.device, int, str], Outcome], str]] = {
    "gaussian1d": (gaussian1d, "Lesson 1: an MLP GAN learns N(2, 0.5^2); mean, std, JSD"),
    "dcgan": (dcgan, "Lesson 3: the improved DCGAN against the paper's, same time; Frechet ratio"),
    "dcgan-levers": (dcgan_levers, "Lesson 3: each lever of the improved recipe, same time"),
    **{
        f"{target}{'' if kind == 'plain' else '-' + kind}": (
            _toy2d(target, toy2d.lesson5(target, kind)),
            f"Lesson 5: a {kind} GAN on the {target}; modes, high quality, reverse KL",
        )
        for kind in ("plain", "minibatch", "pacgan2")
        for target in ("ring", "grid")
    },
    "wgan-clip-grid": (
        _toy2d("grid", recipes.WGAN_CLIP_2D),
        "Lesson 6: WGAN with weight clipping on the grid; modes, high quality, reverse KL",
    ),
    "wgan-gp-grid": (
        _toy2d("grid", recipes.WGAN_GP_2D),
        "Lesson 6: WGAN-GP on the grid; modes, high quality, reverse KL",
    ),
    "wgan-gp-mnist": (wgan_gp_mnist, "Lesson 6: WGAN-GP on MNIST; Frechet ratio, W1 estimates"),
    "steps": (steps, "Each lesson's training step: generator steps per second on this device"),
}


def run(name: str, budget: str, out: Path, device: str | None = None, seed: int = 0) -> dict:
    """Run benchmark ``name`` at ``budget`` and write result.json and samples.npy into ``out``."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}: choose one of {', '.join(BENCHMARKS)}")
    if budget not in config.BUDGETS:
        raise ValueError(f"unknown budget {budget!r}: choose one of {', '.join(config.BUDGETS)}")
    dev = config.device(device)
    config.seed_everything(seed)
    start = time.perf_counter()
    outcome = BENCHMARKS[name][0](dev, seed, budget)
    total_seconds = time.perf_counter() - start
    result = {
        "name": name,
        "budget": budget,
        "device": dev.type,
        "seed": seed,
        "seed_offset": config.seed_offset(),  # GANCOURSE_SEED: every seed drawn is seed + this
        "steps": outcome.steps,
        "seconds": round(outcome.train_seconds, 3),
        "steps_per_second": round(outcome.steps / outcome.train_seconds, 2),
        "total_seconds": round(total_seconds, 3),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        **outcome.metrics,
    }
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "samples.npy", outcome.samples)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gancourse.bench", description="Train a lesson's model and measure it."
    )
    parser.add_argument("name", nargs="?", help="the benchmark to run (see --list)")
    parser.add_argument("--budget", choices=config.BUDGETS, default=None, help="default: full")
    parser.add_argument("--out", type=Path, help="folder for result.json and samples.npy")
    parser.add_argument("--device", choices=(*config.DEVICES, "auto"), default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, doc) in BENCHMARKS.items():
            print(f"{name:14s} {doc}")
        return 0
    if args.name is None or args.out is None:
        parser.error("give a benchmark NAME and --out DIR (or --list)")
    if args.name not in BENCHMARKS:
        parser.error(f"unknown benchmark {args.name!r}: choose one of {', '.join(BENCHMARKS)}")
    if args.seed < 0:
        parser.error(f"--seed must be non-negative, got {args.seed}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    budget = args.budget or config.budget()
    result = run(args.name, budget, args.out, args.device, args.seed)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
