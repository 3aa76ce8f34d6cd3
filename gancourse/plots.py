"""Figures that repeat across lessons. Each function draws on an Axes it is given or makes one."""

from __future__ import annotations

from collections.abc import Collection

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .train import History

DATA_STYLE = {"color": "black", "linestyle": ":", "linewidth": 2, "label": r"$p_{data}$"}
MODEL_STYLE = {"color": "tab:green", "linewidth": 2, "label": r"$p_g$"}
D_STYLE = {"color": "tab:blue", "linestyle": "--", "linewidth": 2, "label": r"$D(x)$"}
D_STAR_STYLE = {"color": "tab:red", "linewidth": 1.5, "alpha": 0.8, "label": r"$D^*(x)$"}


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6, 4)) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def plot_gan_1d(
    x: np.ndarray,
    p_data: np.ndarray,
    p_g: np.ndarray,
    d: np.ndarray,
    *,
    z: np.ndarray | None = None,
    g_of_z: np.ndarray | None = None,
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """One panel of Figure 1 of Goodfellow et al. 2014: data density, model density and D.

    With ``z`` and ``g_of_z`` it also draws the generator's map below the densities: each line
    joins a noise value z (lower line) to the sample G(z) it becomes (upper line), so one sees
    G squeeze the noise where p_g is high.
    """
    ax = _axes(ax)
    ax.plot(x, p_data, **DATA_STYLE)
    ax.plot(x, p_g, **MODEL_STYLE)
    ax.plot(x, d, **D_STYLE)
    ax.axhline(0.5, color="grey", linewidth=0.5)
    top = max(1.05, float(np.max(p_data)) * 1.1, float(np.max(p_g)) * 1.1)
    bottom = 0.0
    if z is not None and g_of_z is not None:
        z_line, x_line = -0.45, -0.1
        for zi, xi in zip(np.ravel(z), np.ravel(g_of_z), strict=True):
            ax.plot([zi, xi], [z_line, x_line], color="tab:green", alpha=0.4, linewidth=0.8)
        ax.axhline(z_line, color="black", linewidth=0.8)
        ax.axhline(x_line, color="black", linewidth=0.8)
        labels = ax.get_yaxis_transform()  # x in axes fractions, y in data units
        ax.text(0.01, z_line + 0.02, "noise z", transform=labels, va="bottom", fontsize=8)
        ax.text(0.01, x_line + 0.02, "sample G(z)", transform=labels, va="bottom", fontsize=8)
        bottom = -0.55
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(bottom, top)
    ax.set_xlabel("x")
    ax.set_ylabel("density / D(x)")
    if title:
        ax.set_title(title)
    return ax


def _moving_average(values: list[float], window: int) -> np.ndarray:
    """Mean of each run of ``window`` consecutive values (one value fewer per extra window)."""
    return np.convolve(np.asarray(values, dtype=float), np.ones(window) / window, mode="valid")


def plot_history(
    history: History, axes: tuple[Axes, Axes] | None = None, smooth: int | None = None
) -> tuple[Axes, Axes]:
    """Two panels over generator steps: both losses, and D's mean output on data and samples.

    Long histories are noisy, so each curve is also drawn as a moving average over ``smooth``
    steps (default: a 200th of the run), over the raw values in a lighter shade."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    left, right = axes
    steps = np.asarray(history.step)
    window = max(1, len(steps) // 200) if smooth is None else smooth
    curves = (
        (left, history.d_loss, "discriminator J(D)", "tab:blue"),
        (left, history.g_loss, "generator J(G)", "tab:orange"),
        (right, history.d_real, "mean D(x), data", "tab:blue"),
        (right, history.d_fake, "mean D(G(z)), samples", "tab:orange"),
    )
    for ax, values, label, color in curves:
        if window > 1:
            ax.plot(steps, values, color=color, alpha=0.2, linewidth=0.8)
            ax.plot(
                steps[window - 1 :],
                _moving_average(values, window),
                color=color,
                label=f"{label} (mean of {window} steps)",
            )
        else:
            ax.plot(steps, values, color=color, alpha=0.8, label=label)
    left.set_xlabel("generator step")
    left.set_ylabel("loss")
    left.set_title("Losses")
    left.legend()
    right.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="1/2")
    right.set_ylim(0, 1)
    right.set_xlabel("generator step")
    right.set_ylabel("D output")
    right.set_title("What the discriminator says")
    right.legend()
    return left, right


def show_digits(
    images, columns: int = 16, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Tile images shaped (N, 1, 28, 28) with values in [-1, 1] into one grid, ``columns`` wide,
    white digits on black as in MNIST, with a 2-pixel gap between digits."""
    images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"expected images shaped (N, 1, H, W), got {images.shape}")
    count, _, height, width = images.shape
    rows = -(-count // columns)
    columns = min(columns, count)
    grid = np.full((rows * (height + 2), columns * (width + 2)), 0.5)  # grey gaps
    for index, image in enumerate(images[:, 0]):
        row, column = divmod(index, columns)
        y, x = row * (height + 2) + 1, column * (width + 2) + 1
        grid[y : y + height, x : x + width] = (image + 1) / 2
    ax = _axes(ax, figsize=(columns * 0.5, rows * 0.5 + 0.4))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def frechet_ratio_axis(ax: Axes) -> Axes:
    """A log-scale y axis for Frechet ratios, labelled 1, 1.5, 2, 3, 5, 7, 10, ... rather than 10^k.
    Call it after plotting: it keeps the limits the data gave, a little widened."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ticks = [m * 10**e for e in range(-1, 4) for m in (1, 1.5, 2, 3, 5, 7)]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.yaxis.set_minor_locator(plt.NullLocator())
    ax.set_ylim(low / 1.15, high * 1.15)  # room for the nearest labels
    ax.set_ylabel("Frechet ratio (log scale, 1 = real)")
    return ax


def show_2d_samples(
    samples: np.ndarray,
    means: np.ndarray,
    std: float,
    *,
    ax: Axes | None = None,
    title: str = "",
    limit: float = 5.0,
) -> Axes:
    """Generated 2D samples (green dots) over a mixture's modes, each drawn as a circle of
    radius 3 std: the high-quality zone of VEEGAN's protocol."""
    ax = _axes(ax, (4, 4))
    for mean in np.asarray(means):
        ax.add_patch(plt.Circle(tuple(mean), 3 * std, color="black", fill=False, linewidth=0.8))
    ax.scatter(*np.asarray(means).T, marker="x", color="black", s=20, linewidth=1)
    ax.scatter(*np.asarray(samples).T, s=3, alpha=0.4, color="tab:green")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def lever_chart(
    levers: list[dict],
    marked: Collection[str] = (),
    *,
    ax: Axes | None = None,
    title: str = "",
) -> Axes:
    """A benchmark's levers (rows with "lever", "recipe" and "frechet_ratio", as
    ``dcgan.levers_benchmark`` writes them) as horizontal bars of their Frechet ratio, first
    row on top; the rows whose recipe is in ``marked`` (those a lesson trains itself) stand
    out, and each bar carries its value."""
    ax = _axes(ax, (9, 0.4 * len(levers) + 1))
    ratios = [row["frechet_ratio"] for row in levers]
    colors = ["tab:orange" if row["recipe"] in marked else "tab:gray" for row in levers]
    positions = np.arange(len(levers))[::-1]
    ax.barh(positions, ratios, color=colors)
    for y, ratio in zip(positions, ratios, strict=True):
        ax.text(ratio, y, f" {ratio:.2f}", va="center", fontsize=8)
    ax.set_yticks(positions, [row["lever"] for row in levers], fontsize=8)
    ax.set_xlabel("Frechet ratio after the same training time (lower is better; 1 is real digits)")
    if marked:
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:orange", "tab:gray")]
        ax.legend(handles, ["trained in this notebook", "benchmark only"], loc="lower right")
    ax.set_xlim(0, max(ratios) * 1.15)
    ax.set_title(title)
    return ax
