"""Watching a generator learn: the one recorder every lesson uses.

A :class:`Recorder` is a ``train.train_gan`` callback that, at chosen moments, calls a
``measure`` function and keeps what it returns: figures (one point per moment, with the step and
the seconds of training so far) and, if given, a snapshot (samples to draw later). Its own time
is kept out of the seconds it reports. Lessons supply the measure: the Frechet ratio of
lesson 3's digits (``dcgan.frechet_record``), the mode metrics of lessons 4 and 5
(``toy2d.mode_record``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import check_count, load_saved, save_atomically


@dataclass
class Measurement:
    """What one measurement gives: figures to keep as a point, and samples to keep aside."""

    figures: dict[str, Any]
    snapshot: Any = None


@dataclass
class Recorder:
    """Measure at chosen moments: every ``every_steps`` steps, or (to compare recipes at equal
    time) the first step past each of ``at_seconds`` seconds of training. :meth:`finish` adds
    the final step and, with ``path``, saves the points and snapshots there; with ``resume`` a
    record saved there before is loaded, so a notebook that loads a finished checkpoint also
    gets its record back. ``verbose`` prints each point."""

    measure: Callable[[], Measurement]
    every_steps: int = 0
    at_seconds: Sequence[float] = ()
    path: str | Path | None = None
    resume: bool = True
    verbose: bool = False
    points: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_count(self.every_steps, "every_steps", 0, "steps between measurements")
        if not self.every_steps and not self.at_seconds:
            raise ValueError("give every_steps or at_seconds: when to measure the generator")
        self.marks = list(self.at_seconds)
        self.start, self.paused = time.perf_counter(), 0.0
        self.finished: float | None = None  # training seconds, frozen by finish()
        if self.path is not None:
            self.path = Path(self.path)
            if self.resume and self.path.is_file():
                state = load_saved(self.path, "training record")
                self.points, self.snapshots = list(state["points"]), list(state["snapshots"])

    def train_seconds(self) -> float:
        """Seconds since the record was made, less the time spent measuring, until finish()."""
        if self.finished is not None:
            return self.finished
        return time.perf_counter() - self.start - self.paused

    def record(self, step: int) -> None:
        """Measure now and keep the point (and the snapshot)."""
        paused = time.perf_counter()
        measured = self.measure()
        self.paused += time.perf_counter() - paused
        point = {"step": step, "train_seconds": round(self.train_seconds(), 1), **measured.figures}
        self.points.append(point)
        if measured.snapshot is not None:
            self.snapshots.append(measured.snapshot)
        if self.verbose:
            shown = ", ".join(
                f"{key} {value:.3g}"
                for key, value in measured.figures.items()
                if isinstance(value, float)
            )
            print(f"step {step}, {point['train_seconds']:.0f} s of training: {shown}", flush=True)

    def __call__(self, step: int) -> None:
        if self.every_steps and step % self.every_steps == 0:
            self.record(step)
        elif self.marks and self.train_seconds() >= self.marks[0]:
            self.marks.pop(0)
            self.record(step)

    def finish(self, step: int) -> None:
        """Measure the final generator unless that step is already recorded; save the record."""
        if not self.points or self.points[-1]["step"] != step:
            self.record(step)
        self.finished = self.points[-1]["train_seconds"]
        if self.path is not None:
            save_atomically({"points": self.points, "snapshots": self.snapshots}, self.path)

    def column(self, name: str) -> list[Any]:
        """One figure over the points, in order (``column("step")``: when each was taken)."""
        return [point[name] for point in self.points]


BENCH_SAMPLES = 10_000  # samples a benchmark draws for samples.npy


@dataclass
class Outcome:
    """What a benchmark hands back: samples, its own metrics, and how many steps it trained;
    with ``generator`` and its ``recipe``, the trained generator, which the bench saves as
    generator.pt (the course ships some: ``gancourse.shipped``)."""

    samples: np.ndarray
    metrics: dict[str, Any]
    steps: int
    train_seconds: float
    generator: Any = None
    recipe: Any = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    """More arrays the benchmark writes beside samples.npy, as NAME.npy (labels, codes)."""
    files: dict[str, Callable[[Path], Any]] = field(default_factory=dict)
    """More files the benchmark writes: NAME -> a function that writes it to the path given
    (classifier.pt)."""
