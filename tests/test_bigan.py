"""Lesson 10's package: ALI / BiGAN (``gancourse.bigan``) and IcGAN (``gancourse.icgan``)."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse import bench, bigan, config, icgan, recipes, strokes
from gancourse.conditional import ConditionalGenerator
from gancourse.data import Digits, grid
from gancourse.games import Players
from gancourse.train import gan_step


def test_the_bigan_game_is_the_pair_cross_entropy_with_the_labels_swapped_for_g_and_e():
    run = recipes.build(recipes.ALI_GRID, "grid", seed=0)
    players = run.players
    x, z = run.sample_data(32), run.sample_noise(32)
    encoder, generator, discriminator = players.extra["encoder"], run.generator, run.discriminator
    real, fake = discriminator(x, encoder(x)), discriminator(generator(z), z)
    d_loss = -(F.logsigmoid(real).mean() + F.logsigmoid(-fake).mean()) / 2
    ge_loss = -(F.logsigmoid(fake).mean() + F.logsigmoid(-real).mean()) / 2
    torch.testing.assert_close(bigan.BiGANGame().d_loss(players, x, z).loss, d_loss)
    torch.testing.assert_close(bigan.BiGANGame().g_loss(players, z, lambda: x), ge_loss)


def test_the_latent_regression_term_adds_the_code_error_of_generated_samples():
    recipe = replace(recipes.ALI_GRID, latent_regression=0.25)
    run = recipes.build(recipe, "grid", seed=0)
    x, z = run.sample_data(32), run.sample_noise(32)
    encoder = run.players.extra["encoder"]
    plain = bigan.BiGANGame().g_loss(run.players, z, lambda: x)
    extra = 0.25 * F.mse_loss(encoder(run.generator(z)), z)
    torch.testing.assert_close(run.game.g_loss(run.players, z, lambda: x), plain + extra)
    assert run.game.latent_regression == 0.25


def test_a_bigan_step_trains_the_encoder_with_g_and_leaves_d_out_of_the_g_side():
    run = recipes.build(recipes.ALI_GRID, "grid", seed=0)
    encoder = run.players.extra["encoder"]
    g_side = {id(p) for group in run.players.opt_g.param_groups for p in group["params"]}
    assert {id(p) for p in encoder.parameters()} <= g_side
    assert not {id(p) for p in run.discriminator.parameters()} & g_side
    before = [p.clone() for p in encoder.parameters()]
    gan_step(run.players, run.game, run.sample_data, run.sample_noise, 16)
    assert all(not torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))


def test_a_recipe_with_an_encoder_must_be_an_mlp_bigan():
    with pytest.raises(ValueError, match="encoder=True"):
        replace(recipes.ALI_GRID, players="dcgan")
    with pytest.raises(ValueError, match="encoder=True"):
        replace(recipes.ALI_GRID, game="hinge")
    with pytest.raises(ValueError, match="dropout"):
        replace(recipes.ALI_GRID, dropout=1.0)


def test_the_pair_discriminator_reads_x_in_units_of_the_data_and_z_as_it_is():
    mix = grid()
    run = recipes.build(recipes.ALI_GRID, mix, seed=0)
    assert run.discriminator.scale == pytest.approx(mix.coordinate_std)
    x = mix.means
    encoded = run.players.extra["encoder"](x)
    assert encoded.shape == (25, 2)
    plain = recipes.build(replace(recipes.ALI_GRID, standardize=False), mix, seed=0)
    assert plain.discriminator.scale == 1.0


def test_bigan_on_digits_has_image_players_and_trains():
    images = torch.rand(40, 1, 28, 28) * 2 - 1
    recipe = replace(recipes.BIGAN_MNIST, g_hidden=32, e_hidden=32, d_hidden=32)
    run = recipes.build(recipe, Digits(images, torch.arange(40) % 10, "test"), seed=0)
    assert run.generator(run.sample_noise(4)).shape == (4, 1, 28, 28)
    assert run.players.extra["encoder"](images[:4]).shape == (4, recipe.latent_dim)
    history = recipes.train(run, recipe, steps=3, progress=False)
    assert history.step[-1] == 3


def test_same_mode_fraction_counts_landings_on_the_own_mode():
    mix = grid()
    inner = mix.means[(mix.means.abs() <= 2).all(dim=1)]  # moved by 2, each lands on another
    x = inner.repeat(4, 1)
    assert bigan.same_mode_fraction(x, x, mix) == 1.0
    assert bigan.same_mode_fraction(x, x + 2.0, mix) == 0.0  # the neighbouring mode
    assert bigan.same_mode_fraction(x, x + 4 * mix.std, mix) == 1.0  # own mode, blurred
    assert bigan.same_mode_fraction(x, x + 4 * mix.std, mix, high_quality=True) == 0.0
    half = torch.cat([x[:18], x[18:] + 2.0])
    assert bigan.same_mode_fraction(x, half, mix) == 0.5


def test_nearest_neighbour_accuracy_by_cosine_similarity():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([3, 7])
    test = torch.tensor([[5.0, 1.0], [0.1, 2.0], [1.0, 0.9]])
    accuracy = bigan.nearest_neighbour_accuracy(train, labels, test, torch.tensor([3, 7, 7]))
    assert accuracy == pytest.approx(2 / 3)


def test_reconstruction_figures_of_a_perfect_inverse(monkeypatch):
    images = torch.rand(30, 1, 28, 28) * 2 - 1
    digits = Digits(images, torch.arange(30) % 3, "test")

    class Evaluator:
        def label_accuracy(self, x, labels):
            return float(torch.equal(x, images))

    class Identity(torch.nn.Module):  # decode needs a parameter to find the device
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x

    identity = Identity()
    figures = bigan.reconstruction_figures(identity, identity, digits, Evaluator())
    assert figures["reconstruction_accuracy"] == 1.0
    assert figures["reconstruction_distance"] == 0.0
    assert figures["same_class_distance"] > 0 and figures["mean_digit_distance"] > 0


def test_same_class_partners_share_the_class():
    labels = torch.tensor([0, 1, 0, 1, 2, 0, 2, 3])
    partner = icgan.same_class_partner(labels)
    assert torch.equal(labels[partner], labels)
    assert sorted(partner.tolist()) == list(range(8))
    assert (partner[:7] != torch.arange(7)).all()  # never a digit with itself...
    assert partner[7] == 7  # ...unless it is alone in its class


def test_edits_of_each_source_are_ten_consecutive_rows():
    codes = torch.arange(6.0).view(3, 2)
    repeated, labels = icgan.edits_of_each(codes)
    assert torch.equal(repeated[10:20], codes[1].expand(10, 2))
    assert labels.tolist() == list(range(10)) * 3


def test_style_kept_is_one_for_copies_and_near_zero_for_strangers():
    config.seed_everything(0)
    sources = (torch.rand(200, 1, 28, 28) > 0.8).float() * 2 - 1
    copies = sources.repeat_interleave(10, dim=0)
    kept = icgan.style_kept(sources, copies)
    assert kept["thickness_correlation"] == pytest.approx(1.0)
    assert kept["slant_correlation"] == pytest.approx(1.0)
    strangers = copies[torch.randperm(len(copies))]
    assert abs(icgan.style_kept(sources, strangers)["thickness_correlation"]) < 0.25
    assert len(kept["thickness_by_label"]) == 10


def test_style_kept_measures_with_the_strokes_module():
    sources = torch.full((2, 1, 28, 28), -1.0)
    sources[0, 0, 5:20, 10:12] = 1.0
    sources[1, 0, 5:20, 10:15] = 1.0
    widths = strokes.stroke_width(sources)
    assert widths[1] > widths[0]


def test_the_latent_regression_game_trains_e_z_only_and_keeps_g_in_evaluation():
    config.seed_everything(0)
    generator = ConditionalGenerator(latent_dim=8, width=4).eval()
    frozen = [p.clone() for p in generator.parameters()]
    encoder = icgan.conv_encoder(8, width=4)
    players = Players(encoder, None, torch.optim.Adam(encoder.parameters(), lr=1e-3))
    game = icgan.LatentRegressionGame(generator)
    noise = (torch.randn(6, 8), torch.arange(6))
    loss = game.g_loss(players, noise, lambda: None)
    loss.backward()
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is not None for p in encoder.parameters())
    assert not generator.training
    assert all(torch.equal(a, b) for a, b in zip(frozen, generator.parameters(), strict=True))


def test_icgan_refuses_an_unconditional_generator():
    with pytest.raises(ValueError, match="conditional generator"):
        icgan.train_style_encoder(torch.nn.Linear(2, 2), "quick")


def test_the_ali_grid_benchmark_writes_points_and_both_models_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(recipes, "ALI_GRID", replace(recipes.ALI_GRID, quick_steps=5))
    result = bench.run("ali-grid", "quick", tmp_path)
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 2)
    for key in ("modes_captured", "high_quality", "reverse_kl", "reconstruction_same_mode"):
        assert key in result
    assert "modes_captured" in result["gan"] and result["steps"] == 5
    assert json.loads((tmp_path / "result.json").read_text())["name"] == "ali-grid"


def test_the_bigan_benchmark_writes_reconstructions_and_their_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(recipes, "BIGAN_MNIST", replace(recipes.BIGAN_MNIST, quick_steps=4))
    result = bench.run("bigan-mnist", "quick", tmp_path)
    recon = np.load(tmp_path / "recon.npy")
    labels = np.load(tmp_path / "recon_labels.npy")
    assert recon.shape == (1000, 1, 28, 28) and recon.min() >= -1 and recon.max() <= 1
    assert labels.shape == (1000,) and labels.dtype == np.int64
    assert 0 <= result["reconstruction_accuracy"] <= 1
    for key in ("nearest_neighbour_encoder", "nearest_neighbour_pixels", "same_class_distance"):
        assert key in result
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 1, 28, 28)


def test_the_icgan_benchmark_writes_edits_and_the_labels_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(
        icgan, "ENCODERS", icgan.EncoderRecipe(style_steps=(3, 3), label_steps=(2, 2))
    )
    result = bench.run("icgan", "quick", tmp_path)
    samples = np.load(tmp_path / "samples.npy")
    labels = np.load(tmp_path / "labels.npy")
    assert samples.shape == (10_000, 1, 28, 28) and labels.shape == (10_000,)
    assert labels[:20].tolist() == list(range(10)) * 2
    for key in ("edit_accuracy", "thickness_correlation", "slant_correlation"):
        assert key in result
    assert result["steps"] == 5
