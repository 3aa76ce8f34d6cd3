"""Checkpoints: a training run saved so that an interrupted run resumes from it, ending exactly
where an uninterrupted run with the same seed ends.

A checkpoint holds every model and optimiser of the :class:`~gancourse.games.Players`, the
history, the states of every random generator, and the run's settings (the loop's batch size,
k and game, and the whole recipe when one is given), which a resumed run compares with its own
before loading anything. Files are written to a temporary name and renamed
(``config.save_atomically``), so an interruption never leaves half a checkpoint.
"""

from __future__ import annotations

import random
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import check_count, load_saved, save_atomically
from .games import Players
from .history import History

CHECKPOINT_FORMAT = 1


def _rng_state() -> dict[str, Any]:
    """The state of every random generator a training step may draw from."""
    mt_name, mt_keys, mt_pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (mt_name, torch.from_numpy(mt_keys.astype(np.int64)), mt_pos, has_gauss, cached),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if hasattr(torch, "mps") and torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    mt_name, mt_keys, mt_pos, has_gauss, cached = state["numpy"]
    np.random.set_state((mt_name, mt_keys.numpy().astype(np.uint32), mt_pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def _load_state(module: Any, state: dict, what: str, path: Path) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as err:
        first_line = str(err).strip().splitlines()[0]
        raise ValueError(
            f"checkpoint {path} does not fit this {what} ({first_line}): it was saved from a "
            f"different architecture. Delete the file, or train with resume=False to start over"
        ) from None


def _read(path: Path, map_location: torch.device | str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: train the model first (its lesson saves it there), "
            f"or check the path"
        )
    payload = load_saved(path, "gancourse checkpoint", map_location)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a gancourse checkpoint (format {payload.get('format')!r})")
    return payload


def load_checkpoint(
    path: str | Path,
    generator: nn.Module,
    discriminator: nn.Module | None = None,
    opt_g: torch.optim.Optimizer | None = None,
    opt_d: torch.optim.Optimizer | None = None,
    map_location: torch.device | str | None = None,
) -> dict[str, Any]:
    """Load a checkpoint written by ``train.train_gan`` into the given modules and optimisers.

    Returns the checkpoint's other contents: ``step``, ``history`` (a :class:`History`),
    ``settings``, ``out_of_time`` (the run stopped at its time limit) and ``rng``. Later lessons
    use it to reload a trained generator.
    """
    path = Path(path)
    if map_location is None:
        map_location = next(generator.parameters()).device
    payload = _read(path, map_location)
    named = {
        "generator": generator,
        "discriminator": discriminator,
        "generator optimiser": opt_g,
        "discriminator optimiser": opt_d,
    }
    keys = dict(zip(named, ("generator", "discriminator", "opt_g", "opt_d"), strict=True))
    for what, target in named.items():
        if target is not None:
            _load_state(target, payload[keys[what]], what, path)
    return {
        "step": payload["step"],
        "history": History.from_dict(payload["history"]),
        "settings": payload["settings"],
        "out_of_time": bool(payload.get("out_of_time", False)),
        "rng": payload["rng"],
    }


def plain_settings(recipe: Any) -> Any:
    """A recipe (a dataclass) as a dict of plain values, which a checkpoint can hold."""
    return asdict(recipe) if is_dataclass(recipe) and not isinstance(recipe, type) else recipe


def _compare_settings(
    saved: dict[str, Any], wanted: dict[str, Any], prefix: str = ""
) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """The settings that differ between a checkpoint and this run (name -> (saved, wanted)), and
    those the checkpoint does not hold at all: a file saved by an older course records fewer
    settings, and a setting it never recorded is unknown, not different. Dicts (the recipe,
    the source) are compared key by key."""
    changed: dict[str, tuple[Any, Any]] = {}
    unknown: list[str] = []
    for key, value in wanted.items():
        name = f"{prefix}{key}"
        if key not in saved:
            unknown.append(name)
        elif isinstance(value, dict) and isinstance(saved[key], dict):
            inner_changed, inner_unknown = _compare_settings(saved[key], value, f"{name}.")
            changed.update(inner_changed)
            unknown.extend(inner_unknown)
        elif saved[key] != value:
            changed[name] = (saved[key], value)
    return changed, unknown


class Checkpoint:
    """Where a run is saved and resumed from: ``path``, saved every ``every`` steps (0: only at
    the end) and at the end. With ``resume``, a run that finds the file continues from it, so
    running the same cell again picks up where it stopped, and a finished run is loaded instead
    of retrained. ``recipe`` (a dataclass or a dict) is saved whole and compared on resume: a
    checkpoint made with other settings is refused, with what differs, before anything loads."""

    def __init__(
        self,
        path: str | Path,
        *,
        every: int = 0,
        resume: bool = True,
        recipe: Any = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        check_count(every, "every", 0, "steps between saves; 0 saves only at the end")
        self.path, self.every, self.resume = Path(path), every, resume
        self.recipe = plain_settings(recipe)
        self.source = source  # what the run was built from (its seed, its data), if known
        self.saved_at = 0  # the step of the last save, for the messages

    def due(self, step: int) -> bool:
        """Whether to save after ``step`` on the way (the end is always saved)."""
        return self.every > 0 and step % self.every == 0

    def settings(self, loop: dict[str, Any]) -> dict[str, Any]:
        """What must match for a resume: the loop's settings, and the recipe and the source
        when known."""
        known = {"recipe": self.recipe, "source": self.source}
        return {**loop, **{key: value for key, value in known.items() if value is not None}}

    def restore(
        self, players: Players, loop: dict[str, Any], steps: int | None = None
    ) -> tuple[History, int, bool] | None:
        """Load the saved run into ``players`` and the random generators; return its history,
        its step and whether it is finished (it stopped at its time limit, or holds ``steps``
        or more). None when there is nothing to resume."""
        if not self.resume or not self.path.is_file():
            return None
        # Compare settings before loading anything: a refused resume leaves the models untouched.
        # Read once, on the CPU: load_state_dict copies each tensor to its model's device, and
        # the random states must stay CPU tensors.
        payload = _read(self.path, "cpu")
        changed, unknown = _compare_settings(payload.get("settings", {}), self.settings(loop))
        if changed:
            described = ", ".join(
                f"{key}={old!r} there but {new!r} here" for key, (old, new) in changed.items()
            )
            raise ValueError(
                f"checkpoint {self.path} was made with other settings ({described}): pass "
                f"resume=False to start over, or use another checkpoint path"
            )
        if unknown:
            print(
                f"note: {self.path} was saved before the course recorded "
                f"{', '.join(unknown)}, so those could not be compared with this run's "
                f"(pass resume=False to train afresh if you changed them)"
            )
        for name, module in players.modules().items():
            _load_state(module, payload[name], name, self.path)
        for name, opt in players.optimizers().items():
            _load_state(opt, payload[name], f"{name} optimiser", self.path)
        _set_rng_state(payload["rng"])
        self.saved_at = step = payload["step"]
        out_of_time = bool(payload.get("out_of_time", False))
        print(self._restored_message(step, steps, out_of_time))
        finished = out_of_time or (steps is not None and step >= steps)
        return History.from_dict(payload["history"]), step, finished

    def _restored_message(self, step: int, steps: int | None, out_of_time: bool) -> str:
        checked = "k, batch size, game and learning rates" if self.recipe is None else "recipe"
        caveat = (
            f" (checked against this run: its {checked}; a changed seed or data cannot be "
            f"seen: pass resume=False if you changed them)"
            if self.source is None
            else ""
        )
        if out_of_time:
            return f"loaded {self.path}: its run reached its time limit at step {step}{caveat}"
        if steps is not None and step > steps:
            return (
                f"loaded {self.path} as it is: it holds {step} steps, more than the {steps} "
                f"asked for (pass resume=False to train {steps} steps afresh){caveat}"
            )
        if steps is not None and step == steps:
            return f"loaded {self.path}: its run is finished, at step {step}{caveat}"
        return f"resumed from {self.path} at step {step} of {steps or 'the time limit'}{caveat}"

    def save(
        self,
        players: Players,
        step: int,
        history: History,
        loop: dict[str, Any],
        out_of_time: bool = False,
    ) -> Path:
        """Write every model, optimiser, the history and the random states. ``out_of_time``
        marks a run that stopped at its time limit: it is finished, whatever its steps."""
        payload = {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            **{name: module.state_dict() for name, module in players.modules().items()},
            **{name: opt.state_dict() for name, opt in players.optimizers().items()},
            "history": history.as_dict(),
            "settings": self.settings(loop),
            "out_of_time": out_of_time,
            "rng": _rng_state(),
        }
        self.saved_at = step
        return save_atomically(payload, self.path)
