"""Figures that repeat across lessons. Each function draws on an Axes it is given or makes one."""

from __future__ import annotations

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


def plot_history(history: History, axes: tuple[Axes, Axes] | None = None) -> tuple[Axes, Axes]:
    """Two panels over generator steps: both losses, and D's mean output on data and samples."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    left, right = axes
    steps = np.asarray(history.step)
    left.plot(steps, history.d_loss, label="discriminator J(D)", alpha=0.8)
    left.plot(steps, history.g_loss, label="generator J(G)", alpha=0.8)
    left.set_xlabel("generator step")
    left.set_ylabel("loss")
    left.set_title("Losses")
    left.legend()
    right.plot(steps, history.d_real, label="mean D(x), data", alpha=0.8)
    right.plot(steps, history.d_fake, label="mean D(G(z)), samples", alpha=0.8)
    right.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="1/2")
    right.set_ylim(0, 1)
    right.set_xlabel("generator step")
    right.set_ylabel("D output")
    right.set_title("What the discriminator says")
    right.legend()
    return left, right
