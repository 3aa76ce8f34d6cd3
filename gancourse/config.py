"""The course's switches: the budget, the device, seeding and where data lives.

Every lesson reads its step counts through :func:`budgeted`, so one environment variable,
``GANCOURSE_BUDGET=quick|full``, runs the same code with fewer steps (quick, for CI) or with
the real lesson's steps (full, the default). ``GANCOURSE_DEVICE=cuda|mps|cpu`` overrides the
automatic device choice (cuda, then mps, then cpu). ``GANCOURSE_SEED=N`` adds N to every seed the
course draws random numbers from (default 0), so a whole notebook can be re-run on other seeds
to check that its claims are not an accident of one: :func:`seed_everything` and :func:`rng`
apply it.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

BUDGETS = ("quick", "full")
DEVICES = ("cuda", "mps", "cpu")
DEFAULT_BUDGET = "full"
REPOSITORY = Path(__file__).resolve().parent.parent
MAX_SEED = 2**32 - 1  # NumPy's generator takes seeds up to this

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


def check_count(value: object, name: str, minimum: int = 1, hint: str = "") -> None:
    """Refuse ``value`` unless it is a whole number >= ``minimum`` (a bool is not one), with an
    error that names it, says what it got and, with ``hint``, what it is for. The course's one
    check of a count: steps, sizes, k, intervals."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return
    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise ValueError(f"{name} must be {wanted}, got {value!r}" + (f": {hint}" if hint else ""))


def check_learning_rate(value: object, name: str) -> None:
    """Refuse a learning rate that is not a number from 0 to 1 (0 freezes a player). GANs train
    with rates around 1e-4 to 1e-3; one above 1 wrecks a run at its first step."""
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        rate = float("nan")
    if isinstance(value, bool) or not 0 <= rate <= 1:
        raise ValueError(
            f"{name} must be a number from 0 to 1, got {value!r}: GANs train with learning "
            f"rates around 1e-4 to 1e-3"
        )


def for_budget(budget: str, quick: T, full: T) -> T:
    """``quick`` under the quick budget, ``full`` under the full one (``budget`` passed as a
    value, as the benchmarks and recipes take it)."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}: choose one of {', '.join(BUDGETS)}")
    return quick if budget == "quick" else full


def budgeted(quick: T, full: T) -> T:
    """The value for the budget in force (GANCOURSE_BUDGET, read here): ``quick`` under the
    quick budget, else ``full``. Lessons write ``steps = budgeted(quick=600, full=4000)`` so
    both budgets run one code path.
    """
    return for_budget(budget(), quick, full)


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    return name == "cpu"


def device(name: str | torch.device | None = None) -> torch.device:
    """The device to compute on.

    ``name`` (or ``GANCOURSE_DEVICE`` when ``name`` is None) may be ``cuda``, ``mps``, ``cpu`` or
    ``auto``, or a ``torch.device``; ``auto`` (the default) takes the first available of cuda,
    mps, cpu. Asking for a device this machine does not have is an error, not a silent fallback.
    """
    if isinstance(name, torch.device):
        if not _available(name.type):
            raise ValueError(
                f"device {name} was asked for but this machine has no {name.type} device "
                f"(available: {', '.join(d for d in DEVICES if _available(d))})"
            )
        return name
    source = "device" if name is not None else "GANCOURSE_DEVICE"
    if name is None:
        name = os.environ.get("GANCOURSE_DEVICE", "")
    choice = str(name).strip().lower() or "auto"
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


def check_seed(seed: object, name: str = "seed") -> None:
    """Refuse a seed that is not a whole number from 0 to 2^32 - 1 (NumPy's range)."""
    if (
        not isinstance(seed, int | np.integer)
        or isinstance(seed, bool)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ValueError(f"{name} must be a whole number from 0 to 2**32 - 1, got {seed!r}")


def _checked(seed: int) -> int:
    check_seed(seed)
    return int(seed)


def seed_offset() -> int:
    """``GANCOURSE_SEED``: a non-negative integer added to every seed the course uses (0 when
    unset). Re-running a notebook with ``GANCOURSE_SEED=3`` re-runs every experiment in it on
    other random numbers; its asserts must still hold."""
    value = os.environ.get("GANCOURSE_SEED", "").strip() or "0"
    try:
        offset = int(value)
    except ValueError:
        offset = -1
    if offset < 0:
        raise ValueError(
            f"GANCOURSE_SEED={value!r} is not a seed offset: set it to a non-negative integer "
            f"(0, the default, runs the seeds the lessons were written with), or unset it"
        )
    return offset


def seeded(seed: int) -> int:
    """The seed actually used for ``seed``: ``seed + GANCOURSE_SEED``."""
    check_seed(seed)
    total = int(seed) + seed_offset()
    if total > MAX_SEED:
        raise ValueError(
            f"seed {seed} plus GANCOURSE_SEED {seed_offset()} is {total}, above 2**32 - 1: "
            f"use a smaller seed or offset"
        )
    return total


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (all devices) so a run repeats; with
    ``GANCOURSE_SEED`` set, from :func:`seeded` (``seed`` plus the offset)."""
    seed = seeded(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA and MPS device


def rng(seed: int, device: torch.device | str = "cpu", offset: bool = True) -> torch.Generator:
    """A random generator of its own on ``device``, seeded with :func:`seeded` (``seed`` plus
    ``GANCOURSE_SEED``): for noise that must not move, or be moved by, the global generator
    that training draws from (fixed evaluation noise, snapshots). With ``offset=False`` the
    seed is taken as it is, whatever GANCOURSE_SEED says: to draw a recorded run's noise again."""
    return torch.Generator(device=device).manual_seed(seeded(seed) if offset else _checked(seed))


def data_dir() -> Path:
    """Where the course writes data, checkpoints and caches: ``GANCOURSE_DATA`` or ``<repo>/data``.

    A leading ``~`` is the home folder, and a relative path is taken from the repository's
    root, so that the notebooks (run in ``notebooks/``) and the benchmarks (run in the root)
    share one folder. It is created on first use, and checked: a path that is a file, or a
    folder that cannot be written, is an error that says so before any work is done.
    """
    override = os.environ.get("GANCOURSE_DATA", "").strip()
    return _writable_data_dir(override)


def _writable_data_dir(override: str) -> Path:
    path = REPOSITORY / (Path(override).expanduser() if override else "data")
    where = f"GANCOURSE_DATA={override!r} ({path})" if override else f"the data folder {path}"
    if path.exists() and not path.is_dir():
        raise ValueError(f"{where} is a file, not a folder: point GANCOURSE_DATA at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".gancourse-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"{where} cannot be written ({err.strerror}: {err.filename}): the course saves "
            f"data, checkpoints and caches there; point GANCOURSE_DATA at a folder you can write"
        ) from None
    return path


def save_atomically(payload: object, path: str | Path) -> Path:
    """``torch.save(payload, path)`` through a temporary file in the same folder, renamed into
    place: a reader (another notebook, another test worker) sees the old file or the whole new
    one, never half of it, and an interrupted write leaves no broken file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(
        f"{path.name}.{os.getpid()}.tmp"
    )  # one per process: no two writers share it
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class DamagedFile(ValueError):
    """A file the course saved cannot be read back: cut short, emptied, or not one of its own."""


def load_saved(path: str | Path, what: str, map_location: torch.device | str = "cpu") -> dict:
    """The dict the course saved at ``path`` (``what`` says what it is, for the message). A file
    that is cut short, empty or not such a dict raises :class:`DamagedFile` naming the path and
    what to do, instead of torch's own error (which may even advise unsafe loading)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises OSError, EOFError, RuntimeError, UnpicklingError...
        first = (str(err).strip().splitlines() or [""])[0][:120]
        raise DamagedFile(
            f"{path} is damaged or is not a {what} ({type(err).__name__}: {first}): delete it, "
            f"and the course will make it again"
        ) from None
    if not isinstance(payload, dict):
        raise DamagedFile(
            f"{path} is not a {what} (it holds a {type(payload).__name__}): delete it, or check "
            f"the path"
        )
    return payload


def set_threads(threads: int, name: str = "threads") -> None:
    """Set PyTorch's CPU threads, refusing a count that is not a positive integer, and warning
    when it is above this machine's CPUs: oversubscribed threads make training slower."""
    check_count(threads, name, hint="PyTorch's CPU threads")
    cpus = os.cpu_count() or 1
    if threads > cpus:
        warnings.warn(
            f"{name}={threads} is more than this machine's {cpus} CPUs: PyTorch runs slower with "
            f"more threads than CPUs, not faster; use at most {cpus}",
            stacklevel=2,
        )
    torch.set_num_threads(threads)


def setup(seed: int = 0, threads: int | None = None, auto: str | None = None) -> torch.device:
    """A notebook's first cell: seed, pick the device, print what is in force, return the device.

    ``threads`` sets PyTorch's CPU threads (one thread is fastest for the tiny 1D and 2D MLPs).
    ``auto`` is the device this lesson takes when ``GANCOURSE_DEVICE`` is unset or ``auto``:
    ``"cpu"`` for a lesson whose networks are so small that the CPU steps faster than a GPU
    (measured by ``python -m gancourse.bench steps``). Setting ``GANCOURSE_DEVICE`` overrides it.
    """
    if threads is not None:
        set_threads(threads)
    seed_everything(seed)
    asked = os.environ.get("GANCOURSE_DEVICE", "").strip().lower() or "auto"
    lesson_choice = auto is not None and asked == "auto"
    dev = device(auto) if lesson_choice else device()
    offset = seed_offset()
    shown = f"{seed}" if offset == 0 else f"{seed} + GANCOURSE_SEED {offset} = {seed + offset}"
    why = (
        " (this lesson's choice: its networks step faster there; GANCOURSE_DEVICE overrides it)"
        if lesson_choice and dev != device()
        else ""
    )
    print(
        f"gancourse | device: {dev.type}{why} | budget: {budget()} | seed: {shown} | "
        f"torch {torch.__version__} | CPU threads: {torch.get_num_threads()}"
    )
    return dev
