"""Benchmarks: ``python -m gancourse.bench NAME --budget quick|full --out DIR``.

Each benchmark trains one lesson's model at a budget and writes, into DIR:

- ``result.json``: name, budget, device, seed, steps, seconds, steps_per_second, the torch
  version, the machine, and the lesson's own metrics;
- ``samples.npy``: 10,000 generated samples as a numpy array (N, ...);
- ``generator.pt``: the trained generator, for the benchmarks that train one
  (``shipped.read_generator`` reads it back; ``python -m gancourse.shipped add`` ships it).

``--list`` names the benchmarks. Each lesson's benchmark lives with its lesson
(``toy1d.benchmark``, ``dcgan.benchmark``, ``toy2d.benchmark``, ...); this module is the
command line, the registry and the result files, plus the speed of every lesson's step.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from . import (
    adagan,
    bigan,
    completion,
    conditional,
    config,
    cyclegan,
    dcgan,
    fgan,
    icgan,
    infogan,
    mmd,
    recipes,
    semisupervised,
    shipped,
    toy1d,
    toy2d,
    train,
    wgan,
)
from .data import load_mnist
from .evaluator import gan_training_digits
from .nets import sample_generator
from .recipes import IMPROVED, LESSON1, PLAIN, WGAN_GP, Recipe
from .record import BENCH_SAMPLES, Outcome

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
    timed = config.for_budget(budget, 8, 400)
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
        samples=sample_generator(run.generator, BENCH_SAMPLES, seed=seed + 1).numpy(),
        metrics={"settings": rows, "cpu_threads_per_run": torch.get_num_threads()},
        steps=timed * len(rows),
        train_seconds=sum(timed / row["steps_per_second"] for row in rows.values()),
    )


def _toy2d(target: str, recipe: Recipe) -> Callable[[torch.device, int, str], Outcome]:
    return partial(toy2d.benchmark, target, recipe)


# name -> (what it runs, one line on what it measures)
BENCHMARKS: dict[str, tuple[Callable[[torch.device, int, str], Outcome], str]] = {
    "gaussian1d": (toy1d.benchmark, "Lesson 1: an MLP GAN learns N(2, 0.5^2); mean, std, JSD"),
    "dcgan": (
        dcgan.benchmark,
        "Lesson 3: the improved DCGAN against the paper's, same time; Frechet ratio",
    ),
    "dcgan-levers": (
        dcgan.levers_benchmark,
        "Lesson 3: each lever of the improved recipe, same time",
    ),
    "dcgan-decay": (
        dcgan.decay_benchmark,
        "Lesson 3: rates falling to 0 against constant rates, same time, three seeds",
    ),
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
    "wgan-gp-mnist": (wgan.benchmark, "Lesson 6: WGAN-GP on MNIST; Frechet ratio, W1 estimates"),
    "cgan": (
        conditional.benchmark,
        "Lesson 8: a conditional DCGAN; accuracy against the labels asked for, Frechet ratios",
    ),
    "infogan": (
        infogan.benchmark,
        "Lesson 8: InfoGAN; the categorical code against the classes, what the codes do",
    ),
    "semi-supervised": (
        semisupervised.benchmark,
        "Lesson 9: K+1 GAN classifiers against labels only; test errors (--labels N)",
    ),
    "ali-grid": (
        bigan.grid_benchmark,
        "Lesson 10: ALI on the grid of 25 beside the plain GAN; modes, reconstructions",
    ),
    "bigan-mnist": (
        bigan.mnist_benchmark,
        "Lesson 10: BiGAN on MNIST; reconstructions' classes, E's features with 100 labels",
    ),
    "icgan": (
        icgan.benchmark,
        "Lesson 10: IcGAN on lesson 8's generator; edits' accuracy, style kept",
    ),
    "completion": (
        completion.benchmark,
        "Lesson 11: bottom halves of digits by MSE and adversarially; sharpness, Frechet ratios",
    ),
    "cyclegan": (
        cyclegan.benchmark,
        "Lesson 11: CycleGAN from scikit-learn's digits to MNIST; classes kept, without the cycle",
    ),
    "mmd-grid": (
        mmd.benchmark,
        "Lesson 12: a generator trained on the MMD, no D, on the grid; three kernels' modes",
    ),
    "mmd-mnist": (
        mmd.mnist_benchmark,
        "Lesson 12: GMMN+AE, the MMD in an autoencoder's codes, on MNIST in lesson 3's 10 minutes",
    ),
    "adagan-grid": (
        adagan.benchmark,
        "Lesson 12: AdaGAN against bagging on the grid; modes and quality per generator added",
    ),
    "fgan-1d": (
        fgan.benchmark,
        "Lesson 12: one Gaussian fitted to two modes under six f-divergences; critics' bounds",
    ),
    "steps": (steps, "Each lesson's training step: generator steps per second on this device"),
}


def check_labels(name: str, labels: int | None) -> dict[str, int]:
    """The keyword a benchmark of ``LABELLED`` takes for ``labels`` (checked: a multiple of 10);
    refused for the others, which learn from every digit or none."""
    if labels is None:
        return {"labels": LABELLED[name]} if name in LABELLED else {}
    if name not in LABELLED:
        raise ValueError(f"--labels is for {', '.join(LABELLED)}, not {name}")
    semisupervised.labels_per_class(labels)
    return {"labels": labels}


def writable_folder(out: str | Path) -> Path:
    """``out`` as a folder the results can be written to, made now, before any training, so
    that a bad path costs nothing: a leading ``~`` is expanded (a shell leaves it in
    ``--out=~/x``); an empty path, an existing file or a folder that cannot be written is an
    error that says so."""
    if str(out).strip() in ("", "."):
        raise ValueError("give --out a folder of its own for result.json and samples.npy")
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file: give a folder for the results")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".gancourse-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"cannot write the results to {folder} ({err.strerror}): "
                         f"give --out a folder you can write to") from None  # fmt: skip
    return folder


# the benchmarks that take --labels: how many labelled digits they learn from
LABELLED = {"semi-supervised": 100}


def run(
    name: str,
    budget: str,
    out: Path,
    device: str | None = None,
    seed: int = 0,
    labels: int | None = None,
) -> dict:
    """Run benchmark ``name`` at ``budget`` and write result.json and samples.npy into ``out``
    (checked before training: :func:`writable_folder`); ``labels``: the labelled digits of a
    benchmark in ``LABELLED`` (its default when None)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}: choose one of {', '.join(BENCHMARKS)}")
    options = check_labels(name, labels)
    if budget not in config.BUDGETS:
        raise ValueError(f"unknown budget {budget!r}: choose one of {', '.join(config.BUDGETS)}")
    out = writable_folder(out)
    dev = config.device(device)
    config.seed_everything(seed)
    start = time.perf_counter()
    outcome = BENCHMARKS[name][0](dev, seed, budget, **options)
    total_seconds = time.perf_counter() - start
    result = {
        "name": name,
        "budget": budget,
        "device": dev.type,
        "seed": seed,
        "date": datetime.date.today().isoformat(),
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
    np.save(out / "samples.npy", outcome.samples)
    for name_, array in outcome.arrays.items():
        np.save(out / f"{name_}.npy", array)
    for name_, write in outcome.files.items():
        write(out / name_)
    if outcome.generator is not None:  # the course ships some: python -m gancourse.shipped add
        shipped.save_generator(out / "generator.pt", outcome.generator, outcome.recipe)
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
    parser.add_argument("--labels", type=int, default=None,
                        help="labelled digits (semi-supervised; default 100)")  # fmt: skip
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
    try:  # every argument is checked before any training, so a bad one costs nothing
        config.check_seed(args.seed, "--seed")
        check_labels(args.name, args.labels)
        if args.threads is not None:
            config.set_threads(args.threads, "--threads")
        budget = args.budget or config.budget()
        out = writable_folder(args.out)
        config.device(args.device)
    except ValueError as err:
        parser.error(str(err))
    result = run(args.name, budget, out, args.device, args.seed, args.labels)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
