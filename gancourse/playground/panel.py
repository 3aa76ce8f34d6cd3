"""The instructor's panel: ipywidgets controls over a :class:`~.core.Trainer`, play / pause /
step / half step / reset, the picture (:mod:`.render`) and a readout, after GAN Lab (Kahng et
al. 2018, arXiv 1809.01587): with GAN Lab's manifold view (G's warp of a lattice of z), its
slow motion (D's update and G's update as two half-steps) and a target drawn by clicking.

The drawing pad is a grid of toggle buttons, one per point of a lattice over the view: an
``ipywidgets.Image`` does not report where it is clicked, and the widgets that do
(ipyevents, ipycanvas, bqplot) are not among the course's dependencies. Points off the
lattice are typed into the text box beside it, or given to :meth:`Playground.set_target_points`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from ..metrics import ModeCoverage
from ..train import History, TrainingDiverged
from .core import Trainer
from .render import Renderer, renderer
from .settings import (
    DRAW_LIMIT,
    DRAWN_STD,
    GAME_LABELS,
    MAX_POINTS,
    MAX_STEPS_PER_FRAME,
    SETTING_NAMES,
    TARGETS,
    WASSERSTEIN_GAMES,
    Points,
    Settings,
    as_points,
    format_points,
    is_int,
    needs_new_players,
    points_problem,
    settings_problem,
    with_game_defaults,
)

PAD_AXIS = tuple(float(v) for v in range(-4, 5))  # the drawing pad's lattice: -4 to 4, step 1


def _describe(trainer: Trainer, picture: Renderer, frame_ms: float | None) -> str:
    """The readout under the picture: counts a test can read (class names) and a person too."""
    c = trainer.coverage[-1]
    h = trainer.history
    losses_text = f"D loss {h.d_loss[-1]:.3f} · G loss {h.g_loss[-1]:.3f}" if h.step else ""
    timing = "" if frame_ms is None else f" · last frame {frame_ms:.0f} ms"
    if trainer.between_halves:
        timing += " · <b class='gancourse-half'>half-way: D updated, G's update next</b>"
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
        if getattr(old, name) != getattr(new, name) and name != "points"
    ]
    if old.points != new.points:
        changed.append(f"drawn modes {len(old.points)} -> {len(new.points)}")
    return ", ".join(changed) or "nothing changed"


def _half_caption(trainer: Trainer, half: str, result: Any) -> tuple[str, str]:
    """What a half-step did: (the status line, the picture's caption)."""
    critic = trainer.game.scores
    d_name = "the critic" if critic else "D"
    if half == "D":
        k = trainer.settings.k
        steps = f"{k} {d_name} step{'s' if k > 1 else ''}"
        if result is None:
            return "D updated: this game has no D side; G's update next", "no D side"
        real, fake = float(result.real), float(result.fake)
        outputs = (
            f"mean score {real:.3f} on data, {fake:.3f} on G's samples"
            if critic
            else f"mean D(x) {real:.2f} on data, D(G(z)) {fake:.2f} on G's samples"
        )
        return (
            f"D updated: {steps} on fresh batches ({outputs}, in its last step). The surface "
            f"moved; G's samples did not. Press Half step again for G's update",
            f"D updated ({steps}):\nits surface moved,\nG's samples did not.\nNext: G's update",
        )
    step = trainer.steps_done
    return (
        f"G updated: one G step on fresh noise (G loss {trainer.history.g_loss[-1]:.3f}): G's "
        f"samples moved along the arrows; iteration {step} is whole. Next half step: D's update",
        f"G updated (1 G step):\nG's samples moved,\nD's surface did not.\nStep {step} is whole.",
    )


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

    GAN Lab's other views: ``show_manifold(True)`` (the checkbox) draws G's warp of a lattice
    of z; ``half_step()`` (the Half step button) runs D's half of an iteration, then at the
    next call G's; ``set_target_points([(x, y), ...])`` (the drawing pad and its Train button)
    trains on a target drawn as points.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        device: torch.device | str | None = None,
        interval_ms: int = 300,
        **changes: Any,
    ) -> None:
        settings = settings or Settings()
        if "points" in changes:
            changes["points"] = as_points(changes["points"])
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
        self.half_button = widgets.Button(
            description="Half step",
            icon="adjust",
            tooltip="slow motion: D's k updates, then (next press) G's update",
        )
        self.step_button.on_click(lambda _: self._guarded(self.step))
        self.half_button.on_click(lambda _: self._guarded(self.half_step))
        self.reset_button.on_click(lambda _: self._guarded(self.reset))
        self.manifold_box = widgets.Checkbox(
            value=False, description="show G's warp of z (manifold)", indent=False
        )
        self.manifold_box.observe(self._on_manifold, names="value")
        self._build_pad()
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
                widgets.HBox(
                    [
                        self.play,
                        self.step_button,
                        self.half_button,
                        self.reset_button,
                        self.manifold_box,
                    ]
                ),
                self.drawing,
                self.status,
                self.image,
                self.readout,
            ],
            layout=widgets.Layout(width="860px"),
        )
        self.widget.add_class("gancourse-playground")

    def _build_pad(self) -> None:
        """The drawing: a pad of toggle buttons over the view (one per lattice point, y up),
        a text box of the points, and a button that trains on them. Shown on the drawn target."""
        self.pad: dict[tuple[float, float], widgets.ToggleButton] = {}
        cell = widgets.Layout(width="24px", height="20px", padding="0", margin="1px")
        for y in reversed(PAD_AXIS):
            for x in PAD_AXIS:
                toggle = widgets.ToggleButton(value=False, tooltip=f"({x:g}, {y:g})", layout=cell)
                toggle.observe(partial(self._on_pad, (x, y)), names="value")
                self.pad[(x, y)] = toggle
        grid = widgets.GridBox(
            list(self.pad.values()),
            layout=widgets.Layout(grid_template_columns=f"repeat({len(PAD_AXIS)}, 26px)"),
        )
        grid.add_class("gancourse-pad")
        self.points_text = widgets.Text(
            description="modes",
            placeholder="x, y; x, y",
            continuous_update=False,
            style={"description_width": "50px"},
            layout=widgets.Layout(width="520px"),
        )
        self.points_text.observe(self._on_points_text, names="value")
        self.draw_button = widgets.Button(
            description="Train on this drawing",
            icon="pencil",
            tooltip="new players, on a mixture with a mode at each drawn point",
            layout=widgets.Layout(width="190px"),
        )
        self.clear_button = widgets.Button(description="Clear drawing", icon="eraser")
        self.draw_button.on_click(lambda _: self._guarded(self.train_on_drawing))
        self.clear_button.on_click(lambda _: self._guarded(lambda: self._set_draft(())))
        self.pad_info = widgets.HTML()
        help_text = widgets.HTML(
            f"<div style='line-height:1.3'><b>Draw a target</b>: click the pad to put a mode at "
            f"a point (x and y from {PAD_AXIS[0]:g} to {PAD_AXIS[-1]:g}, y up: the picture's "
            f"centre square), or type points, then train. Each mode is a Gaussian of std "
            f"{DRAWN_STD:g}, all of equal weight; 1 to {MAX_POINTS} modes, within "
            f"&plusmn;{DRAW_LIMIT:g}.</div>",
            layout=widgets.Layout(width="560px"),
        )
        self.drawing = widgets.HBox(
            [
                grid,
                widgets.VBox(
                    [
                        help_text,
                        self.points_text,
                        widgets.HBox([self.draw_button, self.clear_button]),
                        self.pad_info,
                    ]
                ),
            ]
        )
        self.drawing.add_class("gancourse-drawing")
        self.draft: Points = self.settings.points
        self._set_draft(self.draft)

    # --- the drawing --------------------------------------------------------------------
    def _set_draft(self, points: Points) -> None:
        """Show ``points`` as the drawing, on the pad (those on its lattice) and in the box."""
        self.draft = tuple(points)
        syncing, self._syncing = self._syncing, True
        try:
            for point, toggle in self.pad.items():
                toggle.value = point in self.draft
            self.points_text.value = format_points(self.draft)
        finally:
            self._syncing = syncing
        training = self.settings.target == "drawn" and self.draft == self.settings.points
        self.pad_info.value = (
            f"<span class='gancourse-drawn'>{len(self.draft)}</span> modes drawn"
            + (" (training on them)" if training else ": press Train on this drawing")
        )
        self.drawing.layout.display = "flex" if self.settings.target == "drawn" else "none"

    def _on_pad(self, point: tuple[float, float], change: dict) -> None:
        if self._syncing:
            return
        others = tuple(p for p in self.draft if p != point)
        self._set_draft((*others, point) if change["new"] else others)

    def _on_points_text(self, change: dict) -> None:
        if self._syncing:
            return
        points = as_points(change["new"])
        problem = points_problem(points)
        if problem is not None:
            self.status.value = _status(f"modes box: {problem}", "error")
            self._set_draft(self.draft)  # show the drawing as it was
            return
        self._set_draft(points)

    def train_on_drawing(self) -> bool:
        """The Train button: :meth:`set_target_points` with what is drawn."""
        return self.set_target_points(self.draft)

    def set_target_points(self, points: Any) -> bool:
        """Train on a drawn target: an equal-weight mixture of Gaussians (std ``DRAWN_STD``)
        at ``points``, (x, y) pairs (a list, a (K, 2) array or "x, y; x, y"), 1 to
        ``MAX_POINTS`` of them, each coordinate within ``DRAW_LIMIT``. New players from the
        seed. False, with the reason in the status line and nothing changed, for bad points."""
        return self.set(target="drawn", points=points)

    def _sync_controls(self) -> None:
        """Show the settings in force in the controls (after a refused value, say); the
        drawn points are shown by the drawing (:meth:`_set_draft`)."""
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

    def _on_manifold(self, change: dict) -> None:
        if not self._syncing:
            self._guarded(lambda: self.show_manifold(change["new"]))

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
        if "points" in changes:
            changes["points"] = as_points(changes["points"])
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
            where = f" ({len(new.points)} modes)" if new.target == "drawn" else ""
            self.status.value = _status(
                f"new players from the seed{where}: {_changes(old, new)}", "ok"
            )
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
        self.caption: str | None = None
        self._set_draft(self.settings.points)
        self.status.value = _status("ready: press Step, or play")
        self.redraw()

    def step(self) -> bool:
        """One frame: ``steps_per_frame`` generator steps, then draw. After a D half-step,
        the first of them is that iteration's G half. False (and a message in the panel, and
        play paused) if training diverged."""
        started = time.perf_counter()
        self.caption = None
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
        self.caption = None
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

    def half_step(self) -> bool:
        """Slow motion: one iteration in two presses. The first runs D's half (its k
        updates, as ``train.gan_step``'s) and redraws with the caption "D updated: ..." (the
        surface moved, G's samples did not); the next runs G's update and redraws with "G
        updated: ...". Step and play after a D half finish the iteration first. False (and a
        message) if training diverged."""
        trainer = self.trainer
        try:
            if trainer.between_halves:
                trainer.g_half_step()
                status, self.caption = _half_caption(trainer, "G", None)
            else:
                result = trainer.d_half_step()
                status, self.caption = _half_caption(trainer, "D", result)
        except TrainingDiverged as err:
            self._stop(f"{err} Press Reset to start again.")
            return False
        self.last_frame_ms = None
        self.redraw()
        self.status.value = _status(status)
        return True

    @property
    def manifold(self) -> bool:
        """Whether the picture shows G's warp of the latent lattice (the checkbox)."""
        return self.manifold_box.value

    def show_manifold(self, on: bool = True) -> bool:
        """Show (or hide) the manifold view: G applied to a 15 x 15 lattice of z in the
        plane of z's first two coordinates, the others 0 (``core.latent_lattice``: over
        +-2 sqrt(d / 2), all of z when it has 2 dimensions), drawn as a warped grid over the
        samples; on the 1D target, lines from 15 values of z to G(z) (lesson 1's Figure 1)."""
        if not isinstance(on, bool | np.bool_):
            self.status.value = _status(f"show_manifold takes True or False, got {on!r}", "error")
            return False
        syncing, self._syncing = self._syncing, True
        try:
            self.manifold_box.value = bool(on)
        finally:
            self._syncing = syncing
        self.redraw()
        shown = "shown: the lines are G of a lattice of z" if on else "hidden"
        self.status.value = _status(f"manifold view {shown}", "ok")
        return True

    def redraw(self) -> None:
        """Draw the current state into the picture and the readout."""
        s = self.settings
        target = f"{len(s.points)} drawn modes" if s.target == "drawn" else TARGETS[s.target]
        title = (
            f"{target} · {GAME_LABELS[s.game]}"
            f"{' · minibatch D' if s.minibatch else ''} · step {self.trainer.steps_done}"
        )
        if self.trainer.between_halves:
            title += " + D's half"
        frame = self.trainer.frame_data(manifold=self.manifold_box.value)
        self.image.value = self.renderer.draw(frame, self.trainer, title, self.caption)
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
