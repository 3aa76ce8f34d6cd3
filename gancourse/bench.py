"""Benchmarks: ``python -m gancourse.bench NAME --budget quick|full --out DIR``.

Each benchmark trains one lesson's model at a budget and writes, into DIR:

- ``result.json``: name, budget, device, seed, steps, seconds, steps_per_second, the torch
  version, the machine, and the lesson's own metrics;
- ``samples.npy``: 10,000 generated samples as a numpy array (N, ...).

``--list`` names the benchmarks. Each lesson adds its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import config, metrics, toy1d
from .train import train_gan

N_SAMPLES = 10_000


@dataclass
class Outcome:
    """What a benchmark hands back: samples, its own metrics, and how many steps it trained."""

    samples: np.ndarray
    metrics: dict[str, Any]
    steps: int
    train_seconds: float


def gaussian1d(device: torch.device, seed: int) -> Outcome:
    """Lesson 1's GAN: an MLP generator learns N(2, 0.5^2) from 1D standard normal noise.

    The same models and hyperparameters as notebooks/01_gan_1d_gaussians.ipynb.
    """
    steps = config.budgeted(quick=1000, full=2000)
    start = time.perf_counter()
    generator, _, _ = toy1d.train_lesson1_gan(seed, steps, k=3, device=device)
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


def dcgan_plain(device: torch.device, seed: int) -> Outcome:
    """Lesson 3's baseline: the DCGAN paper's recipe on MNIST (width 64, batch 64, Adam 2e-4).

    The full budget is about 10 minutes of training on the reference 2-core CPU. Records the
    evaluator's Frechet ratio along the way, to see where the plain recipe plateaus.
    """
    from .data import load_mnist, tensor_sampler
    from .evaluator import gan_training_digits, load_or_train_evaluator
    from .nets import dcgan_discriminator, dcgan_generator

    steps = config.budgeted(quick=150, full=4000)  # full: about 10 minutes on the reference CPU
    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    config.seed_everything(seed)
    generator, discriminator = (
        dcgan_generator(100, 64).to(device),
        dcgan_discriminator(64).to(device),
    )
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    curve: list[dict[str, float]] = []
    every = max(1, steps // 8)
    probe = torch.randn(3000, 100, device=device, generator=torch.Generator(device).manual_seed(1))
    clock = {"start": time.perf_counter(), "paused": 0.0}

    def measure(step: int) -> None:
        if step % every == 0:
            paused = time.perf_counter()
            generator.eval()
            with torch.no_grad():
                ratio = evaluator.evaluate(generator(probe).cpu())["frechet_ratio"]
            generator.train()
            clock["paused"] += time.perf_counter() - paused
            seconds = time.perf_counter() - clock["start"] - clock["paused"]
            curve.append({"step": step, "train_seconds": round(seconds, 1), "frechet_ratio": ratio})

    train_gan(
        generator,
        discriminator,
        sample_data=tensor_sampler(gan_training_digits(digits).images, device),
        sample_noise=lambda m: torch.randn(m, 100, device=device),
        opt_g=opt_g,
        opt_d=opt_d,
        steps=steps,
        batch_size=64,
        k=1,
        g_loss="non_saturating",
        callback=measure,
        desc="dcgan-plain",
    )
    train_seconds = time.perf_counter() - clock["start"] - clock["paused"]
    generator.eval()
    with torch.no_grad():
        samples = torch.cat(
            [generator(z) for z in torch.randn(N_SAMPLES, 100, device=device).split(1000)]
        )
    figures = evaluator.evaluate(samples.cpu())
    return Outcome(
        samples=samples.cpu().numpy(),
        metrics={
            **figures,
            "data": digits.source,
            "evaluator_accuracy": evaluator.accuracy,
            "curve": curve,
        },
        steps=steps,
        train_seconds=train_seconds,
    )


BENCHMARKS: dict[str, Callable[[torch.device, int], Outcome]] = {
    "gaussian1d": gaussian1d,
    "dcgan-plain": dcgan_plain,
}


def run(name: str, budget: str, out: Path, device: str | None = None, seed: int = 0) -> dict:
    """Run benchmark ``name`` at ``budget`` and write result.json and samples.npy into ``out``."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}: choose one of {', '.join(BENCHMARKS)}")
    previous = os.environ.get("GANCOURSE_BUDGET")
    os.environ["GANCOURSE_BUDGET"] = budget  # the lesson code reads its step counts from it
    try:
        config.budget()  # validates the budget before any work
        dev = config.device(device)
        config.seed_everything(seed)
        start = time.perf_counter()
        outcome = BENCHMARKS[name](dev, seed)
        total_seconds = time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("GANCOURSE_BUDGET", None)
        else:
            os.environ["GANCOURSE_BUDGET"] = previous
    result = {
        "name": name,
        "budget": budget,
        "device": dev.type,
        "seed": seed,
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
        for name, fn in BENCHMARKS.items():
            print(f"{name:12s} {(fn.__doc__ or '').strip().splitlines()[0]}")
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
