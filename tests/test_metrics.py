import math

import numpy as np
import pytest

from gancourse import metrics
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
