"""The playground's picture: a frame (:class:`~.core.FrameData`) drawn into PNG bytes.

With matplotlib's Agg backend (no pyplot, no display): the figure and its artists are made once
per target and updated in place each frame, the axes sit at fixed positions (no layout engine
to rerun), and the PNG is written at compression level 1, so a frame draws in a few tens of
milliseconds. :class:`Renderer2D` draws the ring and the grid, :class:`Renderer1D` lesson 1's
Gaussian; what they share (the colour bar, the losses, the modes panel, the caption of a
half-step) is :class:`Renderer`'s. The colours are GAN Lab's (Kahng et al. 2018, arXiv
1809.01587). The manifold view, G's warp of a lattice of z (GAN Lab's "manifold" layer), is a
grid of lines over the 2D samples, or lesson 1's Figure 1 map z -> G(z) under the 1D density.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import PIL.Image
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..recipes import GAUSSIAN_1D
from .core import MANIFOLD_RANGE, MANIFOLD_SIDE, WINDOWS, FrameData, Trainer, manifold_scale

GAN_CMAP = "PRGn"  # GAN Lab's colours: green where D says real, purple where it says fake
REAL_COLOUR, FAKE_COLOUR, ARROW_COLOUR = "#1b7837", "#762a83", "#e08214"
MANIFOLD_COLOUR = "#222222"
FIGSIZE, DPI = (10.5, 4.4), 80
CAPTION_BOX = {"boxstyle": "round,pad=0.3", "facecolor": "white", "alpha": 0.8, "lw": 0.5}


def manifold_caption(latent_dim: int) -> str:
    """What the manifold view's lines are, for the picture: which z the lattice spans."""
    side, d = MANIFOLD_SIDE, latent_dim
    if d == 1:
        return f"z -> G(z): {side} values of z at\nequal-probability steps of N(0, 1)"
    if d == 2:
        return (
            f"grid: G of a {side}x{side} lattice of z in [-{MANIFOLD_RANGE:g}, {MANIFOLD_RANGE:g}]²"
        )
    reach = MANIFOLD_RANGE * manifold_scale(d)
    return (
        f"grid: G of a {side}x{side} lattice in the (z1, z2) plane, z3..z{d} = 0;\n"
        f"z1, z2 in ±{reach:.1f} = ±2√({d}/2), the length of a typical z (√{d} = {d**0.5:.0f})"
    )


def arrow_lengths(vectors: np.ndarray, window_width: float) -> np.ndarray:
    """Arrows to draw for gradients ``vectors``: same direction, length
    0.1 window x tanh(|g| / 0.1), so that strong gradients stay on screen and a saturated
    game's near-zero gradients shrink to nothing (the readout prints the true sizes)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    scale = 0.1 * window_width * np.tanh(norms / 0.1) / np.maximum(norms, 1e-12)
    return vectors * scale


def _arrows(ax: Axes, at: np.ndarray, width: float, **style: Any) -> Any:
    """Arrows drawn in data units at ``at`` (a, 2), zero length until the first frame."""
    zeros = np.zeros(len(at))
    return ax.quiver(
        *at.T,
        zeros,
        zeros,
        color=ARROW_COLOUR,
        angles="xy",
        scale_units="xy",
        scale=1,
        width=width,
        **style,
    )


class Renderer(ABC):
    """Draws frames of one target into PNG bytes; :func:`renderer` picks the subclass. The
    figure and its artists are made at the first frame and updated in place after."""

    modes_autoscale_y = False
    caption_at = (0.02, 0.98, "left")  # where a half-step's caption sits (axes fractions)

    def __init__(self, target: str, wasserstein: bool) -> None:
        self.target, self.wasserstein = target, wasserstein
        self.window = WINDOWS[target]
        self.figure = Figure(figsize=FIGSIZE, dpi=DPI)
        FigureCanvasAgg(self.figure)
        # fixed positions (figure fractions): no layout engine to rerun on every frame
        self.main = self.figure.add_axes((0.06, 0.12, 0.40, 0.80))
        self.colour_ax = self.figure.add_axes((0.475, 0.16, 0.012, 0.72))
        self.loss_ax = self.figure.add_axes((0.61, 0.62, 0.37, 0.30))
        self.mode_ax = self.figure.add_axes((0.61, 0.12, 0.37, 0.30))
        self.artists: dict[str, Any] = {}
        self.modes_at = np.empty((0, 2))
        self.legend_has_manifold = False
        self._made = False

    @property
    def heat_norm(self) -> dict[str, float]:
        """D(x) lies in [0, 1]; a critic's raw scores get a scale that follows the surface."""
        return {} if self.wasserstein else {"vmin": 0.0, "vmax": 1.0}

    def _make(self, frame: FrameData) -> None:
        self._make_main(frame)
        label = "critic f(x)" if self.wasserstein else "D(x)"
        self.figure.colorbar(self.artists["heat"], cax=self.colour_ax, label=label)
        (self.artists["d_loss"],) = self.loss_ax.plot([], [], color="tab:blue", label="D loss")
        (self.artists["g_loss"],) = self.loss_ax.plot([], [], color="tab:red", label="G loss")
        self.loss_ax.set(title="losses", xlabel="generator step")
        self.loss_ax.legend(loc="upper right", fontsize=8)
        (self.artists["modes"],) = self.mode_ax.plot([], [], color="black", marker=".")
        self._make_modes(frame)
        x, y, align = self.caption_at
        self.artists["caption"] = self.main.text(
            x,
            y,
            "",
            transform=self.main.transAxes,
            ha=align,
            va="top",
            fontsize=9,
            bbox=CAPTION_BOX,
            zorder=6,
            visible=False,
        )
        self._made = True

    def draw(
        self, frame: FrameData, trainer: Trainer, title: str, caption: str | None = None
    ) -> bytes:
        """One frame as PNG bytes; ``caption`` (a half-step's, say) boxed in the main axes."""
        if not self._made:
            self.modes_at = trainer.means  # the target's modes, (K, 2)
            self._make(frame)
        a = self.artists
        self._update_main(frame, arrow_lengths(frame.arrows, self.window[1] - self.window[0]))
        self._update_manifold(frame.manifold, trainer.latent_dim)
        a["caption"].set_text(caption or "")
        a["caption"].set_visible(bool(caption))
        if self.wasserstein:  # raw scores: the colour scale follows the surface
            low, high = np.percentile(frame.heat, [2, 98])
            a["heat"].set_clim(low, max(high, low + 1e-6))
        h = trainer.history
        a["d_loss"].set_data(h.step, h.d_loss)
        a["g_loss"].set_data(h.step, h.g_loss)
        a["modes"].set_data(trainer.coverage_steps, self._mode_series(trainer))
        for ax in (self.loss_ax, self.mode_ax):
            ax.relim()
            ax.autoscale_view(scaley=ax is self.loss_ax or self.modes_autoscale_y)
        self.main.set_title(title, fontsize=10)
        return self._png()

    def _png(self) -> bytes:
        """Render with Agg and encode at PNG compression level 1: a few milliseconds."""
        canvas = self.figure.canvas
        canvas.draw()
        image = PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    @abstractmethod
    def _make_main(self, frame: FrameData) -> None:
        """Make the main axes' artists (``artists['heat']`` among them) from the first frame."""

    @abstractmethod
    def _update_main(self, frame: FrameData, lengths: np.ndarray) -> None:
        """Show ``frame`` in the main axes, with arrows of ``lengths`` (``arrow_lengths``)."""

    @abstractmethod
    def _update_manifold(self, manifold: np.ndarray | None, latent_dim: int) -> None:
        """Show G's warp of the latent lattice (``Trainer.manifold``), or hide it (None)."""

    @abstractmethod
    def _make_modes(self, frame: FrameData) -> None:
        """Label the panel under the losses."""

    @abstractmethod
    def _mode_series(self, trainer: Trainer) -> list[float]:
        """What the panel under the losses plots, one value per measurement."""

    @abstractmethod
    def shape_text(self, trainer: Trainer) -> str:
        """The readout's word on the samples' shape."""


class Renderer2D(Renderer):
    """The ring or the grid: real and generated points over D's surface, G's gradient as
    arrows on its samples, and the modes captured over time."""

    def _make_main(self, frame: FrameData) -> None:
        ax, a = self.main, self.artists
        a["heat"] = ax.imshow(
            frame.heat,
            extent=self.window,
            origin="lower",
            cmap=GAN_CMAP,
            alpha=0.75,
            interpolation="bilinear",
            **self.heat_norm,
        )
        a["real"] = ax.scatter(*frame.real.T, s=5, color=REAL_COLOUR, label="real", zorder=3)
        a["fake"] = ax.scatter(*frame.fake.T, s=5, color=FAKE_COLOUR, label="generated", zorder=3)
        a["arrows"] = _arrows(ax, frame.arrow_at, 0.004, zorder=4)
        a["manifold"] = ax.add_collection(
            LineCollection([], colors=MANIFOLD_COLOUR, linewidths=0.7, alpha=0.7, zorder=5)
        )
        a["manifold"].set_label("G(lattice of z)")
        a["manifold_text"] = ax.text(
            0.02,
            0.02,
            "",
            transform=ax.transAxes,
            fontsize=7.5,
            va="bottom",
            bbox=CAPTION_BOX,
            zorder=6,
            visible=False,
        )
        if self.target == "drawn":  # where the instructor put the modes
            ax.scatter(
                *self.modes_at.T, marker="+", s=60, color="black", lw=1, label="drawn", zorder=4
            )
        ax.set(xlim=self.window[:2], ylim=self.window[2:], aspect="equal", xlabel="x1", ylabel="x2")
        self._legend(manifold=False)

    def _legend(self, manifold: bool) -> None:
        handles = [self.artists["real"], self.artists["fake"]]
        handles += [h for h in self.main.collections if h.get_label() == "drawn"]
        if manifold:
            handles.append(self.artists["manifold"])
        self.main.legend(
            handles=handles, loc="upper right", fontsize=8, markerscale=2, framealpha=0.8
        )
        self.legend_has_manifold = manifold

    def _update_manifold(self, manifold: np.ndarray | None, latent_dim: int) -> None:
        a = self.artists
        shown = manifold is not None
        if shown:  # the lattice's rows (z2 fixed) and columns (z1 fixed), through G
            a["manifold"].set_segments([*manifold, *manifold.transpose(1, 0, 2)])
            a["manifold_text"].set_text(manifold_caption(latent_dim))
        a["manifold"].set_visible(shown)
        a["manifold_text"].set_visible(shown)
        if shown != self.legend_has_manifold:
            self._legend(shown)

    def _update_main(self, frame: FrameData, lengths: np.ndarray) -> None:
        a = self.artists
        a["heat"].set_data(frame.heat)
        a["fake"].set_offsets(frame.fake)
        a["arrows"].set_offsets(frame.arrow_at)
        a["arrows"].set_UVC(lengths[:, 0], lengths[:, 1])

    def _make_modes(self, frame: FrameData) -> None:
        modes = frame.coverage.modes
        self.mode_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.mode_ax.set(
            title="modes captured",
            xlabel="generator step",
            ylabel=f"of {modes}",
            ylim=(-0.5, modes + 0.5),
        )

    def _mode_series(self, trainer: Trainer) -> list[float]:
        return [c.modes_captured for c in trainer.coverage]

    def shape_text(self, trainer: Trainer) -> str:
        return f"reverse KL {trainer.coverage[-1].reverse_kl:.2f}"


class Renderer1D(Renderer):
    """Lesson 1's Figure 1, live: the data's density, a histogram of G's samples, D(x) as the
    background (and a dashed line), G's gradient as arrows along the axis, and the mean of
    G's samples over time."""

    modes_autoscale_y = True
    caption_at = (0.98, 0.98, "right")  # the legend sits at the upper left
    # the manifold view's band under the densities, in axes fractions: z's line, G(z)'s line,
    # and how far below 0 the y axis then reaches, as a share of its top
    Z_LINE, X_LINE, BAND = 0.04, 0.19, 0.3

    def _make_main(self, frame: FrameData) -> None:
        ax, a, window = self.main, self.artists, self.window
        p = GAUSSIAN_1D.pdf(frame.heat_x)
        top = self.top = 1.3 * p.max()
        a["heat"] = ax.imshow(
            frame.heat[None, :],
            extent=(window[0], window[1], 0, 10 * top),
            aspect="auto",
            origin="lower",
            cmap=GAN_CMAP,
            alpha=0.55,
            **self.heat_norm,
        )  # the y limit follows G
        ax.plot(frame.heat_x, p, color=REAL_COLOUR, lw=2.5, label=r"$p_{data}$")
        self.bins = np.linspace(window[0], window[1], 71)
        a["fake"] = ax.stairs(np.zeros(70), self.bins, color=FAKE_COLOUR, lw=2, label="G's samples")
        if not self.wasserstein:
            (a["d_line"],) = ax.plot(
                frame.heat_x, frame.heat, color="black", ls="--", lw=1.2, label="D(x)"
            )
        heights = 0.03 * top + 0.12 * top * np.linspace(0, 1, len(frame.arrow_at))
        self.arrow_heights = heights
        a["arrows"] = _arrows(ax, np.c_[frame.arrow_at[:, 0], heights], 0.003)
        ylabel = "density" if self.wasserstein else "density / D(x)"
        ax.set(xlim=window, ylim=(0, top), xlabel="x", ylabel=ylabel)
        ax.legend(loc="upper left", fontsize=8)
        band = ax.get_xaxis_transform()  # x in data units, y in axes fractions
        a["manifold"] = ax.add_collection(
            LineCollection([], colors=MANIFOLD_COLOUR, linewidths=0.8, alpha=0.7, transform=band)
        )
        a["manifold_band"] = [
            ax.plot([0, 1], [y, y], transform=ax.transAxes, color="black", lw=0.8, visible=False)[0]
            for y in (self.Z_LINE, self.X_LINE)
        ]
        a["manifold_labels"] = [
            ax.text(
                0.005,
                y + 0.005,
                text,
                transform=ax.transAxes,
                fontsize=8,
                va="bottom",
                visible=False,
            )
            for y, text in ((self.Z_LINE, "noise z"), (self.X_LINE, "sample G(z)"))
        ]
        # the band under 0 is the manifold view's: no negative densities on the axis
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: "" if y < 0 else f"{y:g}"))

    def _update_manifold(self, manifold: np.ndarray | None, latent_dim: int) -> None:
        a, shown = self.artists, manifold is not None
        if shown:  # lesson 1's Figure 1: each line joins z (below) to G(z) (above)
            high = self.main.get_ylim()[1]
            self.main.set_ylim(-self.BAND * high, high)
            a["manifold"].set_segments([[(z, self.Z_LINE), (x, self.X_LINE)] for z, x in manifold])
        for artist in (a["manifold"], *a["manifold_band"], *a["manifold_labels"]):
            artist.set_visible(shown)
        if shown != self.legend_has_manifold:
            a["manifold"].set_label(manifold_caption(latent_dim) if shown else "_manifold")
            self.main.legend(loc="upper left", fontsize=8)
            self.legend_has_manifold = shown

    def _update_main(self, frame: FrameData, lengths: np.ndarray) -> None:
        a = self.artists
        a["heat"].set_data(frame.heat[None, :])
        counts, _ = np.histogram(frame.fake[:, 0], bins=self.bins, density=False)
        density = counts / (len(frame.fake) * (self.bins[1] - self.bins[0]))
        a["fake"].set_data(density)
        self.main.set_ylim(0, min(max(self.top, 1.1 * density.max()), 6 * self.top))
        if "d_line" in a:
            a["d_line"].set_ydata(frame.heat)
        a["arrows"].set_offsets(np.c_[frame.arrow_at[:, 0], self.arrow_heights])
        a["arrows"].set_UVC(lengths[:, 0], np.zeros(len(lengths)))

    def _make_modes(self, frame: FrameData) -> None:
        self.mode_ax.axhline(GAUSSIAN_1D.mean, color=REAL_COLOUR, ls=":", label="data mean")
        self.mode_ax.set(title="mean of G's samples", xlabel="generator step", ylabel="mean")
        self.mode_ax.legend(loc="lower right", fontsize=8)

    def _mode_series(self, trainer: Trainer) -> list[float]:
        return trainer.sample_means

    def shape_text(self, trainer: Trainer) -> str:
        return f"mean of G's samples {trainer.sample_means[-1]:.2f} (data: 2.00)"


def renderer(target: str, wasserstein: bool) -> Renderer:
    """The renderer of ``target``: 1D for the Gaussian, 2D for the ring and the grid.
    ``wasserstein``: D's output is a critic's raw score, not a probability."""
    return (Renderer1D if target == "gaussian1d" else Renderer2D)(target, wasserstein)
