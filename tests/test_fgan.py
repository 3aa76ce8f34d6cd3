"""Lesson 12's f-GAN: Table 2's rows, the quadrature, the bound, the game on the one loop."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from gancourse import bench, fgan, metrics
from gancourse.data import Gaussian1D
from gancourse.games import Players
from gancourse.train import train_gan

NAMES = list(fgan.DIVERGENCES)
X = fgan.GRID
P = fgan.TWO_MODES.pdf(X)
# a second two-mode mixture, lopsided, as the model: quadrature between two mixtures
OTHER = fgan.Mixture1D((Gaussian1D(-1.0, 0.8), Gaussian1D(1.5, 1.2)), (0.3, 0.7))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The networks are tiny: one CPU thread is fastest (many make them far slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def as_tensor(values):
    return torch.tensor(values, dtype=torch.float64)


def test_the_table_holds_the_six_rows():
    assert NAMES == ["kl", "reverse_kl", "pearson", "hellinger", "js", "gan"]
    assert all(fgan.divergence(name).name == name for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_f_of_one_is_zero_except_the_gan_row(name):
    # The GAN row is Goodfellow et al.'s value function: D_f = 2 JSD - log 4, so f(1) = -log 4
    expected = -math.log(4) if name == "gan" else 0.0
    assert fgan.divergence_at_equality(name) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_fenchel_identity_and_threshold(name):
    row = fgan.divergence(name)
    u = as_tensor([0.05, 0.3, 1.0, 2.0, 7.5, 40.0])
    t = row.derivative(u)
    # f*(f'(u)) = u f'(u) - f(u): the supremum in f*(t) = sup_u {ut - f(u)} is where f'(u) = t
    assert torch.allclose(row.conjugate(t), u * t - row.f(u), rtol=1e-9, atol=1e-9)
    assert float(row.derivative(as_tensor(1.0))) == pytest.approx(row.threshold, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_activation_maps_every_real_into_the_conjugates_domain(name):
    row = fgan.divergence(name)
    v = torch.linspace(-30, 30, 601, dtype=torch.float64)
    composed = row.conjugate(row.activation(v))
    stable = row.conjugate_of_activation(v)
    assert torch.isfinite(stable).all()
    moderate = v.abs() <= 10  # where composing the two rounds to nothing worse than a few ulps
    assert torch.isfinite(composed[moderate]).all()
    assert torch.allclose(stable[moderate], composed[moderate], rtol=1e-7, atol=1e-9)
    # in float32, as the critic computes it, far out: no NaN, no infinity
    v32 = torch.tensor([-80.0, -20.0, 0.0, 20.0, 80.0])
    assert torch.isfinite(row.activation(v32)).all()
    assert torch.isfinite(row.conjugate_of_activation(v32)).all()


def test_gan_and_js_conjugates_stay_finite_where_the_naive_composition_fails():
    v = torch.tensor([120.0])  # float32: log sigmoid(v) rounds to 0, the edge of dom f*
    for name in ("gan", "js"):
        row = fgan.divergence(name)
        assert not torch.isfinite(row.conjugate(row.activation(v))).all()
        assert torch.isfinite(row.conjugate_of_activation(v)).all()


@pytest.mark.parametrize("name", NAMES)
def test_bound_is_tight_at_the_optimal_critic_and_below_elsewhere(name):
    q = OTHER.pdf(X)
    true = fgan.true_divergence(name, P, q, X)
    tight = fgan.optimal_critic(name, P, q)
    mask = np.isfinite(tight)
    critic = np.where(mask, tight, 0.0)
    assert fgan.quadrature_bound(name, critic, P, q, X) == pytest.approx(true, rel=1e-6)
    row = fgan.divergence(name)
    for v in (np.zeros_like(X), 0.5 * X, np.cos(X)):
        other = fgan._on_grid(row.activation, v)
        assert fgan.quadrature_bound(name, other, P, q, X) < true - 1e-3


def test_quadrature_matches_lesson_ones_metrics_between_two_mixtures():
    q = OTHER.pdf(X)
    jsd = metrics.jensen_shannon(P, q, X)
    assert fgan.true_divergence("kl", P, q, X) == pytest.approx(metrics.kl_divergence(P, q, X))
    assert fgan.true_divergence("reverse_kl", P, q, X) == pytest.approx(
        metrics.kl_divergence(q, P, X)
    )
    assert fgan.true_divergence("js", P, q, X) == pytest.approx(2 * jsd, rel=1e-9)
    assert fgan.true_divergence("gan", P, q, X) == pytest.approx(2 * jsd - math.log(4), rel=1e-9)
    hellinger = np.trapezoid((np.sqrt(P) - np.sqrt(q)) ** 2, X)
    assert fgan.true_divergence("hellinger", P, q, X) == pytest.approx(hellinger, rel=1e-9)
    pearson = np.trapezoid((P - q) ** 2 / q, X)
    assert fgan.true_divergence("pearson", P, q, X) == pytest.approx(pearson, rel=1e-9)


def test_quadrature_of_two_gaussians_matches_the_closed_form():
    p, q = fgan.gaussian_pdf(0.5, 0.7, X), fgan.gaussian_pdf(-1.0, 1.6, X)
    closed = math.log(1.6 / 0.7) + (0.7**2 + 1.5**2) / (2 * 1.6**2) - 0.5
    assert fgan.true_divergence("kl", p, q, X) == pytest.approx(closed, rel=1e-9)
    assert fgan.true_divergence("kl", p, p, X) == pytest.approx(0.0, abs=1e-12)


def test_quadrature_is_finite_when_the_tails_underflow():
    # far out on this grid both densities round to 0; reverse KL of a narrow P would be 0 log 0
    p, q = fgan.gaussian_pdf(0.0, 0.3, X), fgan.gaussian_pdf(0.0, 3.0, X)
    for name in NAMES:
        assert math.isfinite(fgan.true_divergence(name, p, q, X)), name


def test_direct_fits_cover_with_kl_and_seek_a_mode_with_reverse_kl():
    kl = fgan.direct_fit("kl")
    # KL(P || Q) over Gaussians is minimised by matching the mean and the variance
    assert kl.mean == pytest.approx(0.0, abs=1e-3)
    assert kl.std == pytest.approx(fgan.TWO_MODES.std, abs=1e-3)
    reverse = fgan.direct_fit("reverse_kl")
    assert abs(abs(reverse.mean) - 2) < 0.01 and abs(reverse.std - 0.5) < 0.01
    assert reverse.divergence == pytest.approx(math.log(2), abs=1e-3)  # one mode of two


def test_saddle_update_follows_the_divergence_and_non_saturating_kl_the_reverse_one():
    def gradient(name, mean, log_std, h=1e-5):
        def value(m, s):
            return fgan.true_divergence(name, P, fgan.gaussian_pdf(m, math.exp(s), X), X)

        return np.array(
            [
                (value(mean + h, log_std) - value(mean - h, log_std)) / (2 * h),
                (value(mean, log_std + h) - value(mean, log_std - h)) / (2 * h),
            ]
        )

    mean, std = 0.7, 1.3
    for name in NAMES:
        saddle = fgan.generator_gradient(name, "saddle", fgan.TWO_MODES, mean, std)
        assert np.allclose(saddle, gradient(name, mean, math.log(std)), rtol=1e-5), name
    non_saturating = fgan.generator_gradient("kl", "non_saturating", fgan.TWO_MODES, mean, std)
    assert np.allclose(non_saturating, gradient("reverse_kl", mean, math.log(std)), rtol=1e-5)
    assert not np.allclose(non_saturating, gradient("kl", mean, math.log(std)), rtol=0.1)


def test_variational_bound_on_samples_is_the_expectation_at_the_critic():
    row = fgan.divergence("pearson")
    v_real, v_fake = torch.tensor([0.5, 1.0]), torch.tensor([-1.0, 0.0])
    expected = 0.75 - ((0.25 - 1) + 0) / 2
    assert float(fgan.variational_bound(row, v_real, v_fake)) == pytest.approx(expected)


def test_mixture_samples_and_density():
    torch.manual_seed(0)
    samples = fgan.TWO_MODES.sample(20_000)
    assert samples.shape == (20_000, 1)
    assert abs(float((samples > 0).float().mean()) - 0.5) < 0.02
    assert float(samples.std()) == pytest.approx(fgan.TWO_MODES.std, rel=0.02)
    assert np.trapezoid(P, X) == pytest.approx(1.0, abs=1e-9)
    again = fgan.TWO_MODES.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again, fgan.TWO_MODES.sample(5, generator=torch.Generator().manual_seed(3)))


def test_gaussian_generator_samples_its_gaussian():
    generator = fgan.GaussianGenerator(1.5, 0.25)
    with torch.no_grad():
        out = generator(torch.randn(50_000, 1, generator=torch.Generator().manual_seed(0)))
    assert float(out.mean()) == pytest.approx(1.5, abs=0.01)
    assert float(out.std()) == pytest.approx(0.25, rel=0.02)
    assert {name for name, _ in generator.named_parameters()} == {"mean", "log_std"}
    assert generator.as_gaussian() == Gaussian1D(1.5, 0.25)


def test_the_game_trains_on_the_one_loop_with_finite_losses():
    torch.manual_seed(0)
    generator, critic = fgan.GaussianGenerator(1.0, 1.0), fgan.critic()
    players = Players(
        generator,
        critic,
        torch.optim.Adam(generator.parameters(), lr=5e-3),
        torch.optim.Adam(critic.parameters(), lr=3e-3),
    )
    for name in NAMES:
        game = fgan.FGANGame(name)
        assert game.name == f"fgan_{name}" and game.scores and game.has_d_side
        history = train_gan(
            players,
            game,
            sample_data=lambda m: fgan.TWO_MODES.sample(m),
            sample_noise=lambda m: torch.randn(m, 1),
            steps=5,
            batch_size=64,
            progress=False,
        )
        assert len(history) == 5
        assert np.isfinite(history.d_loss).all() and np.isfinite(history.g_loss).all()
    assert fgan.FGANGame("kl", "saddle").name == "fgan_kl_saddle"


def test_a_short_fit_moves_the_gaussian_the_right_way():
    recipe = replace(fgan.FGAN_1D, critic_warmup=100)
    start_mean, start_std = recipe.start_mean, recipe.start_std
    kl = fgan.fit_gaussian("kl", steps=150, seed=0, recipe=recipe)
    assert kl.mean < start_mean - 0.05 and kl.std > start_std + 0.1  # towards (0, 2.06)
    reverse = fgan.fit_gaussian("reverse_kl", steps=150, seed=0, recipe=recipe)
    assert reverse.mean > start_mean + 0.05  # towards the mode at 2
    assert np.isfinite(kl.history.d_loss).all() and len(reverse.history) == 150


def test_critic_bound_trains_the_critic_alone():
    check = fgan.critic_bound(
        "js", steps=60, seed=0, recipe=replace(fgan.FGAN_1D, bound_samples=4000)
    )
    assert check.true == pytest.approx(
        2 * metrics.jensen_shannon(P, fgan.gaussian_pdf(0.0, 1.5, X), X)
    )
    assert check.bound < check.true + 3 * check.standard_error
    assert 0 < check.ratio <= 1 + 3 * check.standard_error / check.true


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fgan.divergence("kld"), "unknown divergence 'kld': choose one of kl, reverse_kl"),
        (lambda: fgan.FGANGame("chi2"), "unknown divergence 'chi2'"),
        (lambda: fgan.FGANGame("kl", "minimax"), "unknown generator_update 'minimax'"),
        (lambda: fgan.fit_gaussian("tv", steps=1), "unknown divergence 'tv'"),
        (
            lambda: fgan.generator_gradient("kl", "nope", fgan.TWO_MODES, 0.0, 1.0),
            "unknown generator_update 'nope'",
        ),
        (lambda: fgan.GaussianGenerator(0.0, -1.0), "need a finite mean and std > 0"),
        (lambda: fgan.GaussianGenerator()(torch.zeros(4)), r"z must be shaped \(m, 1\)"),
        (
            lambda: fgan.Mixture1D((Gaussian1D(0, 1),), (0.5, 0.5)),
            "give one weight per component",
        ),
        (
            lambda: fgan.Mixture1D((Gaussian1D(0, 1), Gaussian1D(1, 1)), (0.7, 0.7)),
            "the weights must be positive and sum to 1",
        ),
        (lambda: fgan.true_divergence("kl", P, P[:-1], X), "a density has shape"),
        (lambda: fgan.quadrature_bound("kl", X[:-1], P, P, X), "the critic has shape"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_benchmark_quick_writes_the_documented_shapes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    tiny = replace(
        fgan.FGAN_1D, critic_warmup=5, quick_steps=10, bound_quick_steps=10, bound_samples=2000
    )
    monkeypatch.setattr(fgan, "FGAN_1D", tiny)
    argv = ["fgan-1d", "--budget", "quick", "--out", str(tmp_path), "--threads", "1"]
    assert bench.main(argv) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (10_000, len(NAMES)) and np.isfinite(samples).all()
    assert result["columns"] == NAMES and result["steps"] == 6 * 25 + 15
    for name in NAMES:
        row = result["divergences"][name]
        assert set(row) == {"fitted", "direct", "gap", "bound_check"}
        assert set(row["bound_check"]) == {"bound", "standard_error", "true", "ratio"}
        fitted = row["fitted"]
        column = samples[:, NAMES.index(name)]
        assert column.mean() == pytest.approx(fitted["mean"], abs=4 * fitted["std"] / 100)
        assert column.std() == pytest.approx(fitted["std"], rel=0.03)
    assert set(result["kl_non_saturating"]) == {"fitted", "reverse_kl_direct"}
