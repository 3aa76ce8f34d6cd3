"""The instructor's panel: ipywidgets controls over a :class:`~.core.Trainer`, play / pause /
step / reset, the picture (:mod:`.render`) and a readout, after GAN Lab (Kahng et al. 2018,
arXiv 1809.01587)."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import ipywidgets as widgets
import torch

from ..metrics import ModeCoverage
from ..train import History, TrainingDiverged
from .core import Trainer
from .render import Renderer, renderer
from .settings import (
    GAME_LABELS,
    MAX_STEPS_PER_FRAME,
    SETTING_NAMES,
    TARGETS,
    WASSERSTEIN_GAMES,
    Settings,
    is_int,
    needs_new_players,
    settings_problem,
    with_game_defaults,
)


def _describe(trainer: Trainer, picture: Renderer, frame_ms: float | None) -> str:
    """The readout under the picture: counts a test can read (class names) and a person too."""
    c = trainer.coverage[-1]
    h = trainer.history
    losses_text = f"D loss {h.d_loss[-1]:.3f} · G loss {h.g_loss[-1]:.3f}" if h.step else ""
    timing = "" if frame_ms is None else f" · last frame {frame_ms:.0f} ms"
    return (
        f"<div class='gancourse-readout'>G steps <b class='gancourse-steps'>"
        f"{trainer.steps_done:,}</b> · real samples seen <b class='gancourse-samples'>"
        f"{trainer.samples_seen:,}</b> · modes captured <b class='gancourse-modes'>"
        f"{c.modes_captured}</b> of {c.modes} · high quality {c.high_quality:.0%} · "
        f"{picture.shape_text(trainer)}<br>{losses_text}{timing}</div>"
    )


def _changes(old: Settings, new: Settings) -> str:
    changed = [
        f"{name} {getattr(old, name)} -> {getattr(new, name)}"
        for name in SETTING_NAMES
        if getattr(old, name) != getattr(new, name)
    ]
    return ", ".join(changed) or "nothing changed"


def _status(message: str, kind: str = "info") -> str:
    colour = {"info": "#333", "error": "#b00020", "ok": "#1b7837"}[kind]
    return (
        f"<div class='gancourse-status gancourse-{kind}' style='color:{colour}'>"
        f"{html.escape(message, quote=False)}</div>"
    )


def _controls(s: Settings) -> dict[str, widgets.Widget]:
    """One control per setting, showing ``s``."""
    style = {"description_width": "72px"}
    controls = {
        name: widgets.Dropdown(
            options=[(label, choice) for choice, label in labels.items()],
            value=getattr(s, name),
            description=name,
            style=style,
            layout=widgets.Layout(width=width),
        )
        for name, labels, width in (("target", TARGETS, "250px"), ("game", GAME_LABELS, "290px"))
    }
    controls |= {
        "minibatch": widgets.Checkbox(
            value=s.minibatch, description="minibatch discrimination", indent=False
        ),
        "lr_d": widgets.FloatText(value=s.lr_d, description="lr of D", style=style),
        "lr_g": widgets.FloatText(value=s.lr_g, description="lr of G", style=style),
        "k": widgets.IntText(value=s.k, description="k (D steps)", style=style),
        "steps_per_frame": widgets.IntSlider(
            value=s.steps_per_frame,
            min=1,
            max=MAX_STEPS_PER_FRAME,
            description="steps/frame",
            style={"description_width": "80px"},
            layout=widgets.Layout(width="300px"),
        ),
        "clip": widgets.FloatText(value=s.clip, description="clip c", style=style),
        "gp_weight": widgets.FloatText(value=s.gp_weight, description="GP λ", style=style),
        "seed": widgets.IntText(value=s.seed, description="seed", style=style),
    }
    short = widgets.Layout(width="190px")
    for name in ("lr_d", "lr_g", "k", "clip", "gp_weight", "seed"):
        controls[name].layout = short
    return controls


class Playground:
    """The instructor's panel (after GAN Lab, Kahng et al. 2018, arXiv 1809.01587): controls,
    play / pause / step / reset, the live picture and a readout.

    Show ``panel.widget`` in a notebook. ``set(**settings)`` changes settings as the controls
    do (returns False and shows the reason in ``panel.status`` when a value is bad),
    ``step()`` trains one frame and draws it, ``run(steps)`` trains headlessly, ``reset()``
    starts again from the seed. Play is an ``ipywidgets.Play``: the browser's timer ticks and
    each tick runs :meth:`step` in the kernel, so no threads are needed.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        device: torch.device | str | None = None,
        interval_ms: int = 300,
        **changes: Any,
    ) -> None:
        settings = settings or Settings()
        settings = replace(settings, **with_game_defaults(settings, changes))
        problem = settings_problem(settings)
        if problem is not None:
            raise ValueError(problem)
        self.device = device
        self.settings = settings
        self.last_frame_ms: float | None = None
        self.frame_times: list[tuple[float, float]] = []  # (training ms, drawing ms)
        self._syncing = False
        self._last_tick_end = 0.0
        self._build_controls(interval_ms)
        self.reset()

    # --- controls -----------------------------------------------------------------------
    def _build_controls(self, interval_ms: int) -> None:
        self.controls = _controls(self.settings)
        for name, control in self.controls.items():
            control.observe(partial(self._on_control, name), names="value")
        self.play = widgets.Play(
            value=0,
            min=0,
            max=10**9,
            interval=interval_ms,
            description="play",
            show_repeat=False,
            layout=widgets.Layout(width="110px"),  # play / pause, and stop
        )
        self.play.observe(self._on_tick, names="value")
        self.step_button = widgets.Button(
            description="Step", icon="step-forward", tooltip="train one frame and draw it"
        )
        self.reset_button = widgets.Button(
            description="Reset", icon="refresh", tooltip="new players from the seed"
        )
        self.step_button.on_click(lambda _: self._guarded(self.step))
        self.reset_button.on_click(lambda _: self._guarded(self.reset))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="840px"))
        self.readout = widgets.HTML()
        self.status = widgets.HTML()
        c = self.controls
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>GAN playground</b> (after GAN Lab, Kahng et al. 2018)"),
                widgets.HBox([c["target"], c["game"], c["minibatch"]]),
                widgets.HBox([c["lr_d"], c["lr_g"], c["k"], c["seed"]]),
                widgets.HBox([c["clip"], c["gp_weight"], c["steps_per_frame"]]),
                widgets.HBox([self.play, self.step_button, self.reset_button]),
                self.status,
                self.image,
                self.readout,
            ],
            layout=widgets.Layout(width="860px"),
        )
        self.widget.add_class("gancourse-playground")

    def _sync_controls(self) -> None:
        """Show the settings in force in the controls (after a refused value, say)."""
        self._syncing = True
        try:
            for name, control in self.controls.items():
                value = getattr(self.settings, name)
                if control.value != value:
                    control.value = value
        finally:
            self._syncing = False

    def _on_control(self, name: str, change: dict) -> None:
        if not self._syncing:
            self._guarded(lambda: self.set(**{name: change["new"]}))

    def _on_tick(self, change: dict) -> None:
        """A tick of the Play widget. Ticks that queued up while a slow frame ran arrive
        back to back; those are skipped, so pausing stops the picture at once."""
        if self._syncing or change["new"] <= change["old"]:
            return  # the stop button, or our own reset of the counter
        if time.perf_counter() - self._last_tick_end < 0.3 * self.play.interval / 1000:
            return
        self._guarded(self.step)
        self._last_tick_end = time.perf_counter()

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run a control's action; anything that goes wrong is a message in the panel."""
        try:
            action()
        except Exception as err:  # the panel must not leave a traceback in a live class
            self._stop(f"{type(err).__name__}: {err}")

    def _stop(self, message: str) -> None:
        self.play.playing = False
        self.status.value = _status(message, "error")

    # --- what the controls do -----------------------------------------------------------
    def set(self, **changes: Any) -> bool:
        """Change settings as the controls would. Learning rates, k, c, lambda, the frame
        size and a switch among the GAN games apply to the running game; a new target, D,
        seed or a switch to or from a Wasserstein game resets. A bad value changes nothing:
        the panel's status says what was wrong and what to do, and this returns False."""
        unknown = sorted(set(changes) - set(SETTING_NAMES))
        if unknown:
            self.status.value = _status(
                f"unknown setting {', '.join(unknown)}: choose from {', '.join(SETTING_NAMES)}",
                "error",
            )
            return False
        changes = {
            k: float(v) if k in ("lr_d", "lr_g") and is_int(v) else v for k, v in changes.items()
        }
        new = replace(self.settings, **with_game_defaults(self.settings, changes))
        problem = settings_problem(new)
        if problem is not None:
            self._stop(problem)
            self._sync_controls()
            return False
        old, self.settings = self.settings, new
        self._sync_controls()
        if needs_new_players(old, new):
            self.reset()
            self.status.value = _status(f"new players from the seed: {_changes(old, new)}", "ok")
        else:
            self.trainer.apply(new)
            self.status.value = _status(f"applied to the running game: {_changes(old, new)}", "ok")
            self.redraw()
        return True

    def reset(self) -> None:
        """New players from the seed, an empty history, and the first picture."""
        self.trainer = Trainer(self.settings, self.device)
        self.renderer = renderer(self.settings.target, self.settings.game in WASSERSTEIN_GAMES)
        self.last_frame_ms = None
        self.status.value = _status("ready: press Step, or play")
        self.redraw()

    def step(self) -> bool:
        """One frame: ``steps_per_frame`` generator steps, then draw. False (and a message
        in the panel, and play paused) if training diverged."""
        started = time.perf_counter()
        try:
            self.trainer.advance(self.settings.steps_per_frame)
        except TrainingDiverged as err:
            self._stop(f"{err} Press Reset to start again.")
            return False
        trained = time.perf_counter()
        self.redraw()
        drawn = time.perf_counter()
        self.frame_times.append((1e3 * (trained - started), 1e3 * (drawn - trained)))
        self.last_frame_ms = 1e3 * (drawn - started)
        self.readout.value = _describe(self.trainer, self.renderer, self.last_frame_ms)
        return True

    def run(self, steps: int, draw: bool = False) -> ModeCoverage:
        """Train ``steps`` generator steps headlessly, measuring every ``steps_per_frame``
        as playing would; draw only at the end (when ``draw``). Returns the last coverage.
        Raises :class:`gancourse.train.TrainingDiverged` if a loss blows up."""
        if not is_int(steps) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
        left = steps
        while left > 0:
            chunk = min(left, self.settings.steps_per_frame)
            self.trainer.advance(chunk)
            left -= chunk
        if draw:
            self.redraw()
        else:
            self.readout.value = _describe(self.trainer, self.renderer, None)
        return self.trainer.coverage[-1]

    def redraw(self) -> None:
        """Draw the current state into the picture and the readout."""
        s = self.settings
        title = (
            f"{TARGETS[s.target]} · {GAME_LABELS[s.game]}"
            f"{' · minibatch D' if s.minibatch else ''} · step {self.trainer.steps_done}"
        )
        self.image.value = self.renderer.draw(self.trainer.frame_data(), self.trainer, title)
        self.readout.value = _describe(self.trainer, self.renderer, self.last_frame_ms)

    # --- what the notebook reads ----------------------------------------------------------
    @property
    def png(self) -> bytes:
        """The picture last drawn, as PNG bytes (``IPython.display.Image(panel.png)``)."""
        return bytes(self.image.value)

    @property
    def history(self) -> History:
        return self.trainer.history

    @property
    def coverage(self) -> ModeCoverage:
        return self.trainer.coverage[-1]

    def gradient_size(self) -> float:
        """Mean length of G's gradient on its samples, per sample (``Trainer.gradient_size``)."""
        return self.trainer.gradient_size()
