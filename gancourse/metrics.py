"""The numbers the notebooks print and assert.

Lesson 1 works with densities on a grid of points x (numpy arrays): the optimal discriminator,
the Jensen-Shannon divergence, and the value of the game at the optimal discriminator.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .config import check_count

LOG4 = math.log(4.0)


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise ValueError(
            f"{name} hold {bad} NaN or infinite values: did the generator diverge? (every value "
            f"must be finite)"
        )


def grid_arrays(x: np.ndarray, *densities: np.ndarray) -> tuple[np.ndarray, ...]:
    """``x`` and the ``densities`` on it as float arrays, checked: x an increasing 1D grid of 3
    points or more, each density of x's shape, finite and non-negative."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 3 or np.any(np.diff(x) <= 0):
        raise ValueError("x must be an increasing 1D grid of at least 3 points")
    out = []
    for p in densities:
        p = np.asarray(p, dtype=float)
        if p.shape != x.shape:
            raise ValueError(f"a density has shape {p.shape} but the grid x has shape {x.shape}")
        if np.any(p < 0) or not np.all(np.isfinite(p)):
            raise ValueError("densities must be finite and non-negative")
        out.append(p)
    return (x, *out)


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, arXiv 1406.2661, Prop. 1).

    Where both densities are zero D* is undefined; it is returned as NaN there.
    """
    p_data, p_g = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, np.nan), where=total > 0)


def _xlogy_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p log(p / q) elementwise, 0 log 0 = 0; as p (log p - log q) so a tiny q cannot overflow."""
    out = np.zeros_like(p)
    pos = p > 0
    with np.errstate(divide="ignore"):  # q = 0 where p > 0 gives +inf, which is the right answer
        out[pos] = p[pos] * (np.log(p[pos]) - np.log(q[pos]))
    return out


def kl_divergence(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """KL(p || q) = integral of p log(p / q) dx, by the trapezoid rule on the grid x (nats)."""
    x, p, q = grid_arrays(x, p, q)
    if np.any((p > 0) & (q == 0)):
        return math.inf
    return float(np.trapezoid(_xlogy_ratio(p, q), x))


def jensen_shannon(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, in nats (0 to log 2)."""
    x, p, q = grid_arrays(x, p, q)
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m, x) + 0.5 * kl_divergence(q, m, x)


def value_at_optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """C(G) = V(D*, G) = integral of p_data log D* + p_g log(1 - D*) dx, by the trapezoid rule.

    Goodfellow et al. 2014 (arXiv 1406.2661), Theorem 1: C(G) = -log 4 + 2 JSD(p_data || p_g).
    This computes the left-hand side directly from D*, without using the theorem.
    """
    x, p_data, p_g = grid_arrays(x, p_data, p_g)
    # log D* = log p_data - log(p_data + p_g) and log(1 - D*) = log p_g - log(p_data + p_g), in that
    # form, so that D* rounding to exactly 0 or 1 far in a tail cannot produce 0 * log 0.
    total = p_data + p_g
    integrand = _xlogy_ratio(p_data, total) + _xlogy_ratio(p_g, total)
    return float(np.trapezoid(integrand, x))


def high_density_region(p: np.ndarray, x: np.ndarray, mass: float = 0.99) -> np.ndarray:
    """Boolean mask of the smallest set of grid points holding ``mass`` of the density p.

    The points with the highest density are taken first, so for a Gaussian this is the central
    interval mean +- 2.58 std at mass 0.99; for a mixture it is the union of the bumps.
    """
    if not 0 < mass < 1:
        raise ValueError(f"mass must lie strictly between 0 and 1, got {mass}")
    x, p = grid_arrays(x, p)
    weights = p * np.gradient(x)
    order = np.argsort(weights)[::-1]
    cumulative = np.cumsum(weights[order]) / weights.sum()
    keep = order[: int(np.searchsorted(cumulative, mass)) + 1]
    mask = np.zeros_like(p, dtype=bool)
    mask[keep] = True
    return mask


def gaussian_kde(samples: np.ndarray, x: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """Kernel density estimate of 1D ``samples`` on the grid x, with a Gaussian kernel.

    The bandwidth defaults to Silverman's rule, 0.9 min(std, IQR / 1.34) n^(-1/5).
    """
    samples = np.asarray(samples, dtype=float).reshape(-1)
    x = np.asarray(x, dtype=float)
    if samples.size < 2:
        raise ValueError("need at least 2 samples for a density estimate")
    _check_finite(samples, "samples")
    if bandwidth is None:
        iqr = np.subtract(*np.percentile(samples, [75, 25]))
        spread = min(samples.std(ddof=1), iqr / 1.34) or samples.std(ddof=1) or 1e-3
        bandwidth = 0.9 * spread * samples.size ** (-0.2)
    # Sum the kernels in chunks of samples so large sample sets do not need a huge matrix.
    density = np.zeros_like(x)
    for chunk in np.array_split(samples, max(1, samples.size // 2048)):
        density += np.exp(-0.5 * ((x[:, None] - chunk[None, :]) / bandwidth) ** 2).sum(axis=1)
    return density / (samples.size * bandwidth * math.sqrt(2 * math.pi))


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of feature vectors (N, d), for the Frechet distance. Needs N > d."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] <= features.shape[1]:
        raise ValueError(
            f"need more samples than feature dimensions for a full-rank covariance, got "
            f"features of shape {features.shape}"
        )
    _check_finite(features, "the features")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(features_1: np.ndarray, features_2: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017,
    arXiv 1706.08500): ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).

    Tr((S_1 S_2)^(1/2)) is the sum of the square roots of the eigenvalues of S_1 S_2, which are
    real and non-negative for covariance matrices; rounding can leave tiny imaginary or negative
    parts, which are dropped.
    """
    mu_1, sigma_1 = gaussian_statistics(features_1)
    mu_2, sigma_2 = gaussian_statistics(features_2)
    if mu_1.shape != mu_2.shape:
        raise ValueError(f"feature sizes differ: {mu_1.shape[0]} and {mu_2.shape[0]}")
    eigenvalues = np.linalg.eigvals(sigma_1 @ sigma_2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum()
    distance = np.sum((mu_1 - mu_2) ** 2) + np.trace(sigma_1) + np.trace(sigma_2) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def inception_score(probabilities: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))) from class probabilities (N, K) (Salimans et al. 2016,
    arXiv 1606.03498). 1 when every sample gets the same class distribution; at most K.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("probabilities must be an (N, K) array of rows that sum to 1")
    if len(p) == 0:
        raise ValueError("probabilities is empty: the score needs at least one sample")
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(_xlogy_ratio(p, np.broadcast_to(marginal, p.shape).copy()), axis=1)
    return float(np.exp(kl.mean()))


def class_histogram(predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """Fraction of samples predicted as each class, 0 to ``classes`` - 1."""
    predicted = np.asarray(predicted)
    if predicted.size and (
        not np.issubdtype(predicted.dtype, np.integer)
        or predicted.min() < 0
        or predicted.max() >= classes
    ):
        raise ValueError(
            f"class labels must be whole numbers from 0 to {classes - 1}, got values from "
            f"{predicted.min()} to {predicted.max()} ({predicted.dtype})"
        )
    counts = np.bincount(predicted.reshape(-1).astype(np.int64), minlength=classes)
    return counts / max(1, counts.sum())


@dataclass(frozen=True)
class ModeCoverage:
    """How a 2D sample set covers a mixture's modes (VEEGAN's protocol, PacGAN's reverse KL)."""

    modes_captured: int
    modes: int
    high_quality: float  # fraction of samples within 3 std of their nearest mode
    reverse_kl: float  # KL(mode histogram of the samples || uniform over the modes)
    histogram: np.ndarray  # fraction of samples nearest to each mode

    def as_dict(self) -> dict[str, float | int | list[float]]:
        return {
            "modes_captured": self.modes_captured,
            "modes": self.modes,
            "high_quality": self.high_quality,
            "reverse_kl": self.reverse_kl,
            "mode_histogram": self.histogram.round(4).tolist(),
        }


def mode_coverage(samples: np.ndarray, means: np.ndarray, std: float) -> ModeCoverage:
    """Mode metrics of 2D samples against a mixture with ``means`` (K, 2) and ``std``.

    Each sample belongs to its nearest mode. It is high quality when it lies within 3 std of
    that mode, and a mode is captured when at least one high-quality sample belongs to it
    (VEEGAN, Srivastava et al. 2017, arXiv 1705.07761; evaluated on 2,500 samples there). The
    reverse KL is sum_k q_k log(q_k K), where q is the histogram of all samples over their
    nearest modes (PacGAN, Lin et al. 2018, arXiv 1712.04086): 0 for even coverage, log K when
    every sample sits at one mode.
    """
    samples = np.asarray(samples, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples must be shaped (N, 2), got {samples.shape}")
    if means.ndim != 2 or means.shape[1] != 2 or len(means) == 0:
        raise ValueError(f"means must be shaped (K, 2) with K >= 1, got {means.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or infinite values: the generator has diverged")
    if not np.all(np.isfinite(means)):
        raise ValueError("means contain NaN or infinite values: give the mixture's mode centres")
    if not (isinstance(std, int | float | np.number) and math.isfinite(std) and std > 0):
        raise ValueError(
            f"std must be a positive number (the modes' standard deviation), got {std!r}"
        )
    if len(means) > len(samples):
        warnings.warn(
            f"more modes ({len(means)}) than samples ({len(samples)}): not every mode can be "
            f"captured. Were the arguments swapped? The call is mode_coverage(samples, means, std)",
            stacklevel=2,
        )
    distances = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] <= 3 * std
    modes = len(means)
    q = np.bincount(nearest, minlength=modes) / len(samples)
    reverse_kl = float(np.sum(q[q > 0] * np.log(q[q > 0] * modes)))
    return ModeCoverage(
        modes_captured=int(np.unique(nearest[good]).size),
        modes=modes,
        high_quality=float(good.mean()),
        reverse_kl=reverse_kl,
        histogram=q,
    )


def empirical_w1(a: np.ndarray, b: np.ndarray) -> float:
    """The Wasserstein-1 distance between two sets of n points each, (n, d): the mean length of
    the cheapest one-to-one matching between them. Between two empirical distributions with
    equal weights an optimal transport plan is a matching (Birkhoff-von Neumann), found here by
    the Hungarian method (scipy's linear_sum_assignment); O(n^3), so keep n to a few hundred."""
    from scipy.optimize import linear_sum_assignment

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or len(a) == 0:
        raise ValueError(
            f"need two non-empty point sets of the same shape (n, d), got {a.shape} and {b.shape}"
        )
    _check_finite(a, "the first point set")
    _check_finite(b, "the second point set")
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def histogram_jsd(
    a: np.ndarray, b: np.ndarray, bins: int, extent: tuple[float, float, float, float]
) -> float:
    """Jensen-Shannon divergence (natural log, at most log 2) between the 2D histograms of two
    point sets (n, 2) over ``bins`` x ``bins`` cells of ``extent`` = (xmin, xmax, ymin, ymax).

    The points outside the extent count together in one more cell, so mass moved out of the
    window is compared, not dropped (dropped, half the mass moved far away would look like no
    change at all)."""
    check_count(bins, "bins", hint="cells along each axis")
    xmin, xmax, ymin, ymax = extent
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, got {extent}")
    edges = (np.linspace(xmin, xmax, bins + 1), np.linspace(ymin, ymax, bins + 1))
    cells = []
    for points, name in ((a, "a"), (b, "b")):
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise ValueError(
                f"{name} must be a non-empty point set shaped (n, 2), got {points.shape}"
            )
        _check_finite(points, f"point set {name}")
        inside = np.histogram2d(*points.T, bins=edges)[0].ravel()
        if inside.sum() == 0:
            raise ValueError(f"point set {name} has no points inside the extent: widen it")
        cells.append(np.append(inside, len(points) - inside.sum()) / len(points))
    p, q = cells
    m = (p + q) / 2
    return float(0.5 * np.sum(_xlogy_ratio(p, m)) + 0.5 * np.sum(_xlogy_ratio(q, m)))
