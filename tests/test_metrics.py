import math

import numpy as np
import pytest
import torch

from gancourse import data, metrics
from gancourse.data import Gaussian1D

X = np.linspace(-12, 12, 4801)


def test_optimal_discriminator_formula():
    d = metrics.optimal_discriminator(
        np.array([1.0, 3.0, 0.0, 0.0]), np.array([1.0, 1.0, 2.0, 0.0])
    )
    np.testing.assert_allclose(d[:3], [0.5, 0.75, 0.0])
    assert np.isnan(d[3])  # undefined where neither distribution has mass


def test_jsd_of_equal_and_disjoint_distributions():
    p = Gaussian1D(0, 1).pdf(X)
    assert metrics.jensen_shannon(p, p, X) == pytest.approx(0.0, abs=1e-12)
    far = Gaussian1D(0, 0.1).pdf(X), Gaussian1D(8, 0.1).pdf(X)
    assert metrics.jensen_shannon(*far, X) == pytest.approx(math.log(2), abs=1e-6)


def test_kl_of_two_gaussians_matches_the_closed_form():
    # KL(N(0,1) || N(1,2^2)) = log 2 + (1 + 1) / 8 - 1/2
    kl = metrics.kl_divergence(Gaussian1D(0, 1).pdf(X), Gaussian1D(1, 2).pdf(X), X)
    assert kl == pytest.approx(math.log(2) + 2 / 8 - 0.5, abs=1e-6)


def test_theorem_1_value_at_optimum_is_minus_log4_plus_2_jsd():
    p, q = Gaussian1D(2, 0.5).pdf(X), Gaussian1D(0.5, 1).pdf(X)
    lhs = metrics.value_at_optimal_discriminator(p, q, X)
    assert lhs == pytest.approx(-math.log(4) + 2 * metrics.jensen_shannon(p, q, X), abs=1e-9)
    assert metrics.value_at_optimal_discriminator(p, p, X) == pytest.approx(-math.log(4), abs=1e-9)


def test_value_at_optimum_stays_finite_far_in_the_tails():
    p, q = Gaussian1D(0, 0.2).pdf(X), Gaussian1D(4, 3).pdf(X)
    assert np.isfinite(metrics.value_at_optimal_discriminator(p, q, X))


def test_high_density_region_of_a_gaussian_is_the_central_interval():
    mask = metrics.high_density_region(Gaussian1D(1, 2).pdf(X), X, mass=0.99)
    assert X[mask].min() == pytest.approx(1 - 2.576 * 2, abs=0.02)
    assert X[mask].max() == pytest.approx(1 + 2.576 * 2, abs=0.02)


def test_kde_recovers_a_gaussian():
    rng = np.random.default_rng(0)
    estimate = metrics.gaussian_kde(rng.normal(2, 0.5, 20_000), X)
    assert metrics.jensen_shannon(Gaussian1D(2, 0.5).pdf(X), estimate, X) < 1e-3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.ones(5), np.ones(4), np.arange(5.0)), "shape"),
        ((np.ones(5), np.ones(5), np.arange(5.0)[::-1]), "increasing"),
        ((-np.ones(5), np.ones(5), np.arange(5.0)), "non-negative"),
    ],
)
def test_bad_grids_and_densities_are_clear_errors(args, message):
    with pytest.raises(ValueError, match=message):
        metrics.jensen_shannon(*args)


def test_samples_of_the_true_ring_cover_every_mode():
    ring = data.ring()
    samples = ring.sample(2500, generator=torch.Generator().manual_seed(0)).numpy()
    cover = metrics.mode_coverage(samples, ring.means.numpy(), ring.std)
    assert cover.modes_captured == 8 and cover.modes == 8
    # within 3 std in 2D: P(chi^2_2 <= 9) = 1 - exp(-4.5) = 98.9%
    assert cover.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert cover.reverse_kl < 0.01


def test_samples_of_the_true_grid_cover_every_mode():
    grid = data.grid()
    samples = grid.sample(2500, generator=torch.Generator().manual_seed(1)).numpy()
    cover = metrics.mode_coverage(samples, grid.means.numpy(), grid.std)
    assert cover.modes_captured == 25
    assert cover.high_quality > 0.98
    assert cover.reverse_kl < 0.02


def test_a_collapsed_generator_covers_one_mode_with_reverse_kl_log_8():
    ring = data.ring()
    collapsed = ring.means[3].numpy() + 0.01 * np.random.default_rng(0).normal(size=(2500, 2))
    cover = metrics.mode_coverage(collapsed, ring.means.numpy(), ring.std)
    assert cover.modes_captured == 1
    assert cover.high_quality == 1.0
    assert cover.reverse_kl == pytest.approx(math.log(8))
    assert cover.histogram[3] == 1.0


def test_samples_between_modes_are_not_high_quality():
    ring = data.ring()
    between = np.zeros((100, 2))  # the ring's centre is 2 away from every mode
    cover = metrics.mode_coverage(between, ring.means.numpy(), ring.std)
    assert cover.high_quality == 0.0 and cover.modes_captured == 0


def test_mixture_geometry_matches_the_papers():
    ring, grid = data.ring(), data.grid()
    assert torch.allclose(ring.means.norm(dim=1), torch.full((8,), 2.0))
    assert ring.std == 0.02 and grid.std == 0.05
    assert sorted(set(grid.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert grid.modes == 25


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.mode_coverage(np.zeros((5, 3)), np.zeros((8, 2)), 0.1), r"\(N, 2\)"),
        (
            lambda: metrics.mode_coverage(np.full((5, 2), np.nan), np.zeros((8, 2)), 0.1),
            "NaN",
        ),
        (lambda: data.mixture("spiral"), "ring, grid"),
        (lambda: data.ring().sample(0), "positive integer"),
    ],
)
def test_mode_metrics_reject_bad_input_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("theta", [0.0, 0.3, -1.0])
def test_parallel_lines_jsd_is_log_2_while_w1_is_the_gap(theta):
    # Arjovsky et al. 2017, example 1: (0, Z) against (theta, Z), Z ~ U[0, 1]
    z = np.random.default_rng(0).uniform(size=200)
    p0 = np.stack([np.zeros_like(z), z], axis=1)
    p_theta = np.stack([np.full_like(z, theta), z], axis=1)
    assert metrics.empirical_w1(p0, p_theta) == pytest.approx(abs(theta), abs=1e-9)
    jsd = metrics.histogram_jsd(p0, p_theta, bins=40, extent=(-1.5, 1.5, 0, 1))
    assert jsd == pytest.approx(math.log(2) if theta else 0.0, abs=1e-9)


def test_empirical_w1_of_shifted_gaussians():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 2))
    assert metrics.empirical_w1(a, a + np.array([3.0, 4.0])) == pytest.approx(5.0, abs=1e-9)
    with pytest.raises(ValueError, match="same shape"):
        metrics.empirical_w1(a, a[:10])
