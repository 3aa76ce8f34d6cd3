"""The course's switches: the budget, the device, seeding and where data lives.

Every lesson reads its step counts through :func:`budgeted`, so one environment variable,
``GANCOURSE_BUDGET=quick|full``, runs the same code with fewer steps (quick, for CI) or with
the real lesson's steps (full, the default). ``GANCOURSE_DEVICE=cuda|mps|cpu`` overrides the
automatic device choice (cuda, then mps, then cpu).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

BUDGETS = ("quick", "full")
DEVICES = ("cuda", "mps", "cpu")
DEFAULT_BUDGET = "full"

T = TypeVar("T")


def budget() -> str:
    """The budget in force: ``GANCOURSE_BUDGET`` (``quick`` or ``full``), ``full`` when unset."""
    value = os.environ.get("GANCOURSE_BUDGET", "").strip().lower() or DEFAULT_BUDGET
    if value not in BUDGETS:
        raise ValueError(
            f"GANCOURSE_BUDGET={value!r} is not a budget: set it to 'quick' (fewer steps, for CI) "
            f"or 'full' (the real lesson, the default), or unset it"
        )
    return value


def is_quick() -> bool:
    """True when the quick budget is in force."""
    return budget() == "quick"


def budgeted(quick: T, full: T) -> T:
    """The value for the budget in force: ``quick`` under the quick budget, else ``full``.

    Lessons write ``steps = budgeted(quick=600, full=4000)`` so both budgets run one code path.
    """
    return quick if is_quick() else full


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    return name == "cpu"


def device(name: str | None = None) -> torch.device:
    """The device to compute on.

    ``name`` (or ``GANCOURSE_DEVICE`` when ``name`` is None) may be ``cuda``, ``mps``, ``cpu`` or
    ``auto``; ``auto`` (the default) takes the first available of cuda, mps, cpu. Asking for a
    device this machine does not have is an error, not a silent fallback.
    """
    source = "device" if name is not None else "GANCOURSE_DEVICE"
    if name is None:
        name = os.environ.get("GANCOURSE_DEVICE", "")
    choice = name.strip().lower() or "auto"
    if choice == "auto":
        return torch.device(next(d for d in DEVICES if _available(d)))
    if choice not in DEVICES:
        raise ValueError(
            f"{source}={name!r} is not a device: choose one of cuda, mps, cpu or auto "
            f"(auto picks cuda, then mps, then cpu)"
        )
    if not _available(choice):
        raise ValueError(
            f"{source}={name!r} was asked for but this machine has no {choice} device "
            f"(available: {', '.join(d for d in DEVICES if _available(d))}); "
            f"unset it or set it to auto"
        )
    return torch.device(choice)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (all devices) so a run repeats."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA and MPS device


def data_dir() -> Path:
    """Where the course writes data, checkpoints and caches: ``GANCOURSE_DATA`` or ``<repo>/data``.

    The folder is git-ignored and created on first use.
    """
    override = os.environ.get("GANCOURSE_DATA", "").strip()
    path = Path(override) if override else Path(__file__).resolve().parent.parent / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup(seed: int = 0, threads: int | None = None) -> torch.device:
    """A notebook's first cell: seed, pick the device, print what is in force, return the device.

    ``threads`` sets PyTorch's CPU threads (one thread is fastest for the tiny 1D and 2D MLPs).
    """
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    seed_everything(seed)
    dev = device()
    print(
        f"gancourse | device: {dev.type} | budget: {budget()} | seed: {seed} | "
        f"torch {torch.__version__} | CPU threads: {torch.get_num_threads()}"
    )
    return dev
