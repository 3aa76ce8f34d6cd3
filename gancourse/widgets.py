"""Interactive panels for instructors (ipywidgets). Each panel's logic runs without a browser,
so pytest and nbval drive it by calling its methods; JupyterLab shows the same panel live.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import clear_output

from . import toy1d
from .losses import GENERATOR_LOSSES

GAME_COLOURS = {
    "minimax": "tab:red",
    "non_saturating": "tab:green",
    "maximum_likelihood": "tab:purple",
}


class GeneratorGamesPanel:
    """Lesson 2's panel: the three generator costs and their gradients at a chosen D(G(z)), and a
    small training demo that trains G with a chosen game from a discriminator that rejects it.

    Show ``panel.widget`` in a notebook. ``set(d=..., game=...)`` and ``run_demo()`` do what the
    slider, the menu and the button do.
    """

    def __init__(self, demo_steps: int = 150, seed: int = 0) -> None:
        self.seed = seed
        self.d_slider = widgets.FloatSlider(
            value=0.01,
            min=0.001,
            max=0.999,
            step=0.001,
            readout_format=".3f",
            description="D(G(z))",
            continuous_update=False,
        )
        self.game = widgets.Dropdown(
            options=list(GENERATOR_LOSSES), value="minimax", description="game"
        )
        self.readout = widgets.HTML()
        self.figure = widgets.Output()
        self.steps = widgets.IntSlider(
            value=demo_steps, min=10, max=600, step=10, description="G steps"
        )
        self.train_button = widgets.Button(
            description="Train G from a saturated start",
            button_style="primary",
            layout=widgets.Layout(width="260px"),
        )
        self.status = widgets.HTML("Press the button to train the chosen game.")
        self.demo = widgets.Output()
        self.runs: dict[str, toy1d.SaturationRun] = {}
        self._start = None
        self.d_slider.observe(lambda _: self.redraw(), names="value")
        self.game.observe(lambda _: self.redraw(), names="value")
        self.train_button.on_click(lambda _: self.run_demo())
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>The generator's cost and the gradient it sends back</b>"),
                widgets.HBox([self.d_slider, self.game]),
                self.readout,
                self.figure,
                widgets.HTML("<b>Training from a discriminator that rejects the fakes</b>"),
                widgets.HBox([self.steps, self.train_button]),
                self.status,
                self.demo,
            ]
        )
        self.redraw()

    def set(self, d: float | None = None, game: str | None = None) -> None:
        """Move the slider and pick a game, as a user would (values are clipped to the slider)."""
        if game is not None:
            if game not in GENERATOR_LOSSES:
                self.status.value = html.escape(
                    f"unknown game {game!r}: choose one of {', '.join(GENERATOR_LOSSES)}"
                )
                return
            self.game.value = game
        if d is not None:
            self.d_slider.value = float(np.clip(d, self.d_slider.min, self.d_slider.max))

    def gradients_at(self, d: float) -> dict[str, tuple[float, float]]:
        """Each game's (cost, dJ/dlogit) at D(G(z)) = d."""
        out = {}
        for name in GENERATOR_LOSSES:
            cost, grad = toy1d.logit_gradient(name, np.array([d]))
            out[name] = (float(cost[0]), float(grad[0]))
        return out

    def redraw(self) -> None:
        d, chosen = self.d_slider.value, self.game.value
        values = self.gradients_at(d)
        cell = "style='padding:2px 14px; text-align:right'"
        rows = "".join(
            f"<tr style='font-weight:{'bold' if name == chosen else 'normal'}'>"
            f"<td>{name}</td><td {cell}>{cost:+.4f}</td><td {cell}>{grad:+.4f}</td></tr>"
            for name, (cost, grad) in values.items()
        )
        self.readout.value = (
            f"<table><tr><th>game</th><th {cell}>J(G) at D = {d:.3f}</th>"
            f"<th {cell}>dJ/d(logit)</th></tr>{rows}</table>"
        )
        grid = np.linspace(0.001, 0.999, 400)
        with self.figure:
            clear_output(wait=True)
            fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
            for name in GENERATOR_LOSSES:
                cost, grad = toy1d.logit_gradient(name, grid)
                width = 3 if name == chosen else 1.2
                colour = GAME_COLOURS[name]
                left.plot(grid, cost, color=colour, linewidth=width, label=name)
                right.plot(grid, np.abs(grad), color=colour, linewidth=width, label=name)
            for ax in (left, right):
                ax.axvline(d, color="grey", linestyle="--")
                ax.set_xlabel("D(G(z))")
            left.set(ylabel="J(G)", title="cost", ylim=(-3, 3))
            right.set(ylabel="|dJ/d logit|", title="gradient sent back", yscale="log")
            left.legend()
            plt.show()
            plt.close(fig)

    def run_demo(self, steps: int | None = None) -> toy1d.SaturationRun:
        """Train G with the chosen game for ``steps`` (default: the slider); plot all runs."""
        game = self.game.value
        steps = int(steps if steps is not None else self.steps.value)
        self.status.value = f"training {game} for {steps} steps..."
        if self._start is None:
            self._start = toy1d.saturated_start(self.seed)
        run = toy1d.saturation_run(game, self._start, steps=steps, every=max(1, steps // 30))
        self.runs[game] = run
        moved = run.means[-1] - run.means[0]
        ending = f", then diverged at step {run.diverged_at}" if run.diverged_at else ""
        self.status.value = (
            f"{game}: start gradient norm {run.start_gradient_norm:.3g} at D(G(z)) = "
            f"{run.start_d_of_gz:.3g}; the mean of p_g moved {moved:+.2f} in {run.steps[-1]} "
            f"steps (the data's mean is {toy1d.TARGET.mean}){ending}"
        )
        with self.demo:
            clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
            for name, r in self.runs.items():
                ax.plot(r.steps, r.means, color=GAME_COLOURS[name], label=name)
            ax.axhline(toy1d.TARGET.mean, color="black", linestyle=":", label="data mean")
            ax.set(xlabel="generator step", ylabel="mean of p_g", ylim=(-1, 4))
            ax.legend()
            plt.show()
            plt.close(fig)
        return run
