"""Lesson 12's package: GMMN, a generator trained on the MMD (``gancourse.mmd``), and AdaGAN's
boosted mixtures (``gancourse.adagan``)."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import adagan, bench, mmd
from gancourse.data import grid
from gancourse.games import Players
from gancourse.train import train_gan


def points(n: int, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) + shift


def test_mmd_squared_is_the_three_kernel_means_written_out():
    x, y, bandwidths = points(5), points(7, 1.0, seed=1), (0.5, 2.0)

    def k(a, b):
        return sum(torch.exp(-((a - b) ** 2).sum() / (2 * s * s)) for s in bandwidths)

    k_xx = sum(k(a, b) for a in x for b in x) / 25
    k_xy = sum(k(a, b) for a in x for b in y) / 35
    k_yy = sum(k(a, b) for a in y for b in y) / 49
    torch.testing.assert_close(mmd.mmd_squared(x, y, bandwidths), k_xx - 2 * k_xy + k_yy)


def test_mmd_is_zero_for_one_batch_and_grows_as_the_batches_part():
    x = points(200)
    assert float(mmd.mmd(x, x, (1.0,))) < 1e-5
    near, far = points(200, 0.5, seed=1), points(200, 3.0, seed=1)
    assert 0 < float(mmd.mmd(x, near, (1.0,))) < float(mmd.mmd(x, far, (1.0,)))


def test_a_kernel_far_narrower_than_the_gap_gives_no_gradient():
    """The bandwidth lesson in one line: with s = 0.01, a sample 1 away feels no pull."""
    x = 0.01 * points(64)
    y = torch.tensor([[1.0, 0.0]], requires_grad=True)
    for s, pulled in ((0.01, False), (1.0, True)):
        (grad,) = torch.autograd.grad(mmd.mmd(x, y, (s,)), y)
        assert (grad.abs().max() > 1e-6) == pulled


def test_the_median_heuristic_is_the_median_distance():
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4, 5
    assert mmd.median_bandwidth(x) == pytest.approx(4.0)


@pytest.mark.parametrize("bad", [(), (0.0,), (-1.0, 1.0), (float("nan"),)])
def test_bad_bandwidths_are_clear_errors(bad):
    with pytest.raises(ValueError, match="bandwidths must be one or more positive"):
        mmd.MMDGame(bad)


def test_the_mmd_game_trains_a_generator_with_no_discriminator_on_the_loop():
    torch.manual_seed(0)
    recipe = replace(mmd.MMD_GRID, g_hidden=32, g_layers=2, batch_size=128)
    target = grid()
    generator = mmd.mmd_generator(recipe, target, "cpu")
    game = mmd.MMDGame(recipe.bandwidths)
    data = target.sampler("cpu")

    def loss() -> float:
        torch.manual_seed(1)
        with torch.no_grad():
            return float(mmd.mmd(data(1000), generator(torch.randn(1000, 16)), game.bandwidths))

    before = loss()
    history = train_gan(
        Players(generator, None, torch.optim.Adam(generator.parameters(), 1e-3)),
        game,
        sample_data=data,
        sample_noise=lambda m: torch.randn(m, 16),
        steps=60,
        batch_size=128,
        progress=False,
    )
    assert not game.has_d_side and len(history.step) == 60
    assert loss() < 0.7 * before


def test_the_mmd_benchmark_writes_the_sum_and_both_single_kernels(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    recipe = replace(mmd.MMD_GRID, quick_steps=3, g_hidden=16, g_layers=1, batch_size=32)
    monkeypatch.setattr(mmd, "MMD_GRID", recipe)
    result = bench.run("mmd-grid", "quick", tmp_path)
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 2)
    assert set(result["kernels"]) == set(mmd.BANDWIDTHS)
    assert result["modes"] == 25 and 0 <= result["high_quality"] <= 1
    assert json.loads((tmp_path / "result.json").read_text())["name"] == "mmd-grid"


def test_adagan_weights_are_uniform_for_the_first_component_and_sum_to_one():
    ratios = np.array([0.0, 0.1, 1.0, 2.0, 5.0])
    np.testing.assert_allclose(adagan.adagan_weights(ratios, 1.0), np.full(5, 0.2))
    for beta in (0.5, 0.2):
        w = adagan.adagan_weights(ratios, beta)
        assert w.sum() == pytest.approx(1) and np.all(np.diff(w) <= 0)
    # what the mixture covers well gets nothing once it is a small part of the new mixture
    assert adagan.adagan_weights(ratios, 0.2)[2:].sum() == 0
    np.testing.assert_allclose(adagan.adagan_weights(np.ones(10), 0.3), np.full(10, 0.1))


def test_adagan_weights_solve_the_papers_condition_for_lambda():
    ratios = np.random.default_rng(0).exponential(size=500)
    beta, n = 0.25, 500
    w = adagan.adagan_weights(ratios, beta)
    lo, hi = 0.0, 1e3  # bisection on sum_i (lambda - (1 - beta) r_i)_+ / (N beta) = 1
    for _ in range(200):
        lam = (lo + hi) / 2
        total = np.clip(lam - (1 - beta) * ratios, 0, None).sum() / (n * beta)
        lo, hi = (lam, hi) if total < 1 else (lo, lam)
    np.testing.assert_allclose(w, np.clip(lam - (1 - beta) * ratios, 0, None) / (n * beta))


@pytest.mark.parametrize(
    ("ratios", "beta", "message"),
    [(np.array([1.0, -1.0]), 0.5, "finite numbers >= 0"), (np.ones(3), 0.0, "in \\(0, 1\\]")],
)
def test_bad_ratios_or_beta_are_clear_errors(ratios, beta, message):
    with pytest.raises(ValueError, match=message):
        adagan.adagan_weights(ratios, beta)


def test_the_ratio_is_exp_of_minus_the_logit():
    logits = torch.tensor([[-2.0], [0.0], [3.0]])
    d = torch.sigmoid(logits).reshape(-1).numpy()
    np.testing.assert_allclose(adagan.density_ratios(logits), (1 - d) / d, rtol=1e-6)


def constant(c: tuple[float, float]) -> nn.Module:
    generator = nn.Linear(2, 2)
    nn.init.zeros_(generator.weight)
    with torch.no_grad():
        generator.bias.copy_(torch.tensor(c))
    return generator


def test_a_mixture_draws_each_component_in_proportion_to_its_weight():
    mix = adagan.GeneratorMixture([], [])
    mix.add(constant((0.0, 0.0)), 1.0)
    mix.add(constant((1.0, 1.0)), 0.5)
    mix.add(constant((2.0, 2.0)), 1 / 3)
    np.testing.assert_allclose(mix.weights, [1 / 3] * 3)
    samples = mix.sample(6000, seed=0)[:, 0].numpy()
    shares = np.bincount(samples.round().astype(int), minlength=3) / 6000
    np.testing.assert_allclose(shares, [1 / 3] * 3, atol=0.03)
    assert not np.array_equal(samples[:50], np.sort(samples[:50]))  # shuffled, not in blocks


def test_the_weighted_sampler_draws_only_points_with_weight():
    pts = torch.arange(10.0).reshape(5, 2)
    sample = adagan.weighted_sampler(pts, np.array([0, 0, 0.5, 0.5, 0]), "cpu")
    drawn = sample(200)[:, 0]
    assert set(drawn.tolist()) == {4.0, 6.0}


def test_generators_needed_is_the_first_point_past_both_bars():
    from gancourse.metrics import ModeCoverage

    def c(modes, hq):
        return ModeCoverage(modes, 25, hq, 0.0, np.zeros(25))

    curve = [c(20, 0.9), c(24, 0.7), c(24, 0.85), c(25, 0.9)]
    assert adagan.generators_needed(curve, 24, 0.8) == 3
    assert adagan.generators_needed(curve[:2], 24, 0.8) is None


def tiny_recipe() -> adagan.AdaGANRecipe:
    component = replace(adagan.ADAGAN_GRID.component, g_hidden=16, d_hidden=16, batch_size=32)
    return replace(
        adagan.ADAGAN_GRID, component=component, quick_component_steps=5, quick_components=2,
        classifier_steps=5, classifier_hidden=8, points=500,
    )  # fmt: skip


def test_adagan_reweights_the_data_for_its_second_component_and_bagging_does_not():
    recipe = tiny_recipe().at("quick")
    boosted = adagan.boost(recipe, "grid", seed=0)
    bagged = adagan.boost(recipe, "grid", seed=0, bagging=True)
    assert len(boosted.curve) == len(bagged.curve) == 2
    assert boosted.weights[0] is None and boosted.weights[1].shape == (500,)
    assert boosted.weights[1].sum() == pytest.approx(1)
    assert bagged.weights == [None, None]
    np.testing.assert_allclose(boosted.mixture.weights, [0.75, 0.25])  # the recipe's beta


def test_beta_is_one_over_t_without_a_constant_or_the_constant_given():
    assert [replace(adagan.ADAGAN_GRID, beta=None).beta_at(t) for t in (1, 2, 4)] == [
        1.0,
        0.5,
        0.25,
    ]
    constant = replace(adagan.ADAGAN_GRID, beta=0.2)
    assert [constant.beta_at(t) for t in (1, 2, 4)] == [1.0, 0.2, 0.2]
    with pytest.raises(ValueError, match="beta must lie in"):
        replace(adagan.ADAGAN_GRID, beta=1.0)


def test_a_constant_beta_shapes_adagans_mixture_but_not_baggings():
    recipe = replace(tiny_recipe(), beta=0.2).at("quick")
    boosted = adagan.boost(recipe, "grid", seed=0)
    bagged = adagan.boost(recipe, "grid", seed=0, bagging=True)
    np.testing.assert_allclose(boosted.mixture.weights, [0.8, 0.2])
    np.testing.assert_allclose(bagged.mixture.weights, [0.5, 0.5])


def test_the_adagan_benchmark_writes_both_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(adagan, "ADAGAN_GRID", tiny_recipe())
    result = bench.run("adagan-grid", "quick", tmp_path)
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 2)
    for name in ("adagan", "bagging"):
        assert [row["generators"] for row in result["curves"][name]] == [1, 2]
    assert set(result["generators_needed"]) == {"adagan", "bagging"}


# --- GMMN+AE on MNIST ---------------------------------------------------------------------------


def tiny_code_recipe() -> mmd.CodeMMDRecipe:
    return replace(mmd.MMD_MNIST, code_dim=4, ae_hidden=32, g_widths=(16,), batch_size=64,
                   quick_ae_steps=40, quick_steps=5)  # fmt: skip


def digit_like(n: int = 256) -> torch.Tensor:
    """Images in [-1, 1] with structure an autoencoder can learn: a bright bar at one of four
    heights."""
    images = -torch.ones(n, 1, 28, 28)
    rows = torch.arange(n) % 4
    for i, row in enumerate(rows):
        images[i, 0, 4 + 6 * row : 8 + 6 * row, 4:24] = 1
    return images


def test_the_reconstruction_game_trains_the_autoencoder_on_the_loop():
    torch.manual_seed(0)
    recipe = tiny_code_recipe()
    images = digit_like()
    autoencoder = mmd.Autoencoder(recipe)
    game = mmd.ReconstructionGame()

    def error() -> float:
        autoencoder.eval()
        with torch.no_grad():
            value = float((autoencoder(images) - images).square().mean())
        autoencoder.train()
        return value

    before = error()
    data = lambda m: images[torch.randint(len(images), (m,))]  # noqa: E731
    players = Players(autoencoder, None, torch.optim.Adam(autoencoder.parameters(), 3e-3))
    train_gan(players, game, sample_data=data, sample_noise=data, steps=150, batch_size=32,
              progress=False)  # fmt: skip
    assert not game.has_d_side
    assert error() < 0.5 * before


def test_the_code_gmmn_draws_digits_through_the_decoder():
    recipe = tiny_code_recipe()
    run = mmd.train_code_gmmn(recipe, digit_like(), seed=0, budget="quick")
    assert run.steps == {"autoencoder": 40, "gmmn": 5}
    samples = run.generator(torch.randn(7, recipe.latent_dim))
    assert samples.shape == (7, 1, 28, 28) and samples.abs().max() <= 1
    codes = mmd.encode_all(run.autoencoder, digit_like(8))
    assert codes.shape == (8, 4) and 0 < codes.min() and codes.max() < 1


def test_the_full_budget_shares_lesson_3s_ten_minutes_between_the_two_parts():
    ae, g = mmd.MMD_MNIST.limits("full")
    assert ae["time_limit"] + g["time_limit"] == pytest.approx(600)
    assert mmd.MMD_MNIST.limits("quick") == ({"steps": 60}, {"steps": 30})


@pytest.mark.parametrize(
    "change", [{"ae_share": 1.0}, {"ae_dropout": -0.1}, {"code_dim": 0}, {"g_widths": (0,)},
               {"bandwidths": ()}, {"lr": -1.0}],
)  # fmt: skip
def test_bad_code_gmmn_settings_are_clear_errors(change):
    with pytest.raises(ValueError):
        replace(mmd.MMD_MNIST, **change)


def test_the_mnist_benchmark_measures_the_gmmn_beside_lesson_3(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(mmd, "MMD_MNIST", tiny_code_recipe())
    result = bench.run("mmd-mnist", "quick", tmp_path)
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 1, 28, 28)
    assert result["frechet_ratio"] > result["lesson3_dcgan"]["frechet_ratio"]
    assert result["median_distance"]["pixels"] > 5 * result["median_distance"]["codes"]
    assert set(result["steps_each"]) == {"autoencoder", "gmmn"}
