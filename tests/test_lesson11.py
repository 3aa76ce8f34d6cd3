"""Lesson 11's package: completion by MSE and adversarially (``gancourse.completion``) and
CycleGAN (``gancourse.cyclegan``)."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse import bench, completion, cyclegan, losses
from gancourse.data import Digits
from gancourse.games import Players
from gancourse.train import gan_step


def digits(n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_halves_split_at_row_14_and_join_back():
    x = digits()
    top, bottom = completion.split_halves(x)
    assert top.shape == bottom.shape == (8, 1, 14, 28)
    assert torch.equal(completion.join_halves(top, bottom), x)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        completion.split_halves(torch.zeros(8, 784))


def test_the_completer_draws_a_bottom_half_that_depends_on_its_noise():
    torch.manual_seed(0)
    completer = completion.Completer(noise_dim=4, width=8).eval()
    top, _ = completion.split_halves(digits())
    a, b = completer(top, torch.randn(8, 4)), completer(top, torch.randn(8, 4))
    assert a.shape == (8, 1, 14, 28) and a.abs().max() <= 1
    assert not torch.allclose(a, b)


def completion_players(adversarial: bool) -> Players:
    torch.manual_seed(0)
    recipe = replace(completion.COMPLETION, noise_dim=4, width=8, d_width=8)
    return completion.completion_players(adversarial, recipe, "cpu")


def test_the_mse_game_is_the_mean_squared_error_of_the_bottom_half():
    players, x, z = completion_players(False), digits(), torch.randn(8, 4)
    expected = ((players.generator(x[:, :, :14], z) - x[:, :, 14:]) ** 2).mean()
    torch.testing.assert_close(completion.MSEGame().g_loss(players, z, lambda: x), expected)
    assert players.discriminator is None and not completion.MSEGame().has_d_side


def test_the_adversarial_game_judges_real_tops_with_real_or_drawn_bottoms():
    players, x, z = completion_players(True), digits(), torch.randn(8, 4)
    generator, discriminator = players.generator, players.discriminator
    top = x[:, :, :14]
    with torch.no_grad():
        drawn = generator(top, z)
    fake = torch.cat([top, drawn], dim=2)
    d_loss = losses.discriminator_loss(discriminator(x), discriminator(fake))
    torch.testing.assert_close(completion.CompletionGame(2.0).d_loss(players, x, z).loss, d_loss)
    g_loss = 2.0 * F.mse_loss(generator(top, z), x[:, :, 14:]) + losses.non_saturating(
        discriminator(fake)
    )
    torch.testing.assert_close(completion.CompletionGame(2.0).g_loss(players, z, lambda: x), g_loss)
    with pytest.raises(ValueError, match="mse_weight"):
        completion.CompletionGame(-1.0)


def test_an_adversarial_step_trains_the_completer_and_its_judge():
    players = completion_players(True)
    before = [p.clone() for p in players.generator.parameters()]
    x = digits(16)
    gan_step(players, completion.CompletionGame(), lambda m: x[:m], lambda m: torch.randn(m, 4), 8)
    assert any(
        not torch.equal(a, b) for a, b in zip(before, players.generator.parameters(), strict=True)
    )


def test_gradient_energy_is_zero_for_flat_digits_and_lower_for_blurred_ones():
    flat = torch.zeros(2, 1, 28, 28)
    assert completion.gradient_energy(flat).tolist() == [0.0, 0.0]
    sharp = torch.where(digits(4) > 0, 1.0, -1.0)
    blurred = F.avg_pool2d(sharp, 3, 1, 1)
    assert (completion.gradient_energy(blurred) < completion.gradient_energy(sharp)).all()


class IgnoresNoise(torch.nn.Module):
    noise_dim = 4

    def forward(self, top: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return top.flip(2)


def test_a_completer_that_ignores_its_noise_has_no_spread_across_draws():
    top, _ = completion.split_halves(digits())
    assert completion.spread_across_noise(IgnoresNoise(), top, seed=0).abs().max() == 0
    torch.manual_seed(0)
    assert completion.spread_across_noise(completion.Completer(4, 8), top, seed=0).min() > 0


def test_held_out_tops_are_disjoint_from_the_gans_digits():
    from gancourse.evaluator import split_parts

    labels = torch.arange(5000) % 10
    images = torch.arange(5000).float().view(-1, 1, 1, 1).expand(-1, 1, 28, 28)
    sources, where = completion.held_out_tops(Digits(images, labels, "test"), 2000)
    assert len(sources) == 2000 and "evaluator" in where
    used = set(sources.images[:, 0, 0, 0].long().tolist())
    gan_part = set(split_parts(Digits(images, labels, "t"))["gan"].tolist())
    assert len(used) == 2000 and not used & gan_part
    with pytest.raises(ValueError, match="ask for fewer"):
        completion.held_out_tops(Digits(images, labels, "test"), 4000)


def test_sklearn_digits_are_enlarged_into_mnists_frame():
    sources = cyclegan.sklearn_digits()
    assert sources.images.shape == (1797, 1, 28, 28) and sources.labels.shape == (1797,)
    assert sources.images.min() == -1 and sources.images.max() <= 1
    assert (sources.images[:, :, :4] == -1).all() and (sources.images[:, :, :, 24:] == -1).all()
    assert sorted(sources.labels.unique().tolist()) == list(range(10))


def test_the_least_squares_costs_by_hand():
    real, fake = torch.tensor([1.0, 0.5]), torch.tensor([0.0, 0.5])
    torch.testing.assert_close(cyclegan.lsgan_d_loss(real, fake), torch.tensor(0.125))
    torch.testing.assert_close(cyclegan.lsgan_g_loss(fake), torch.tensor(0.625))


def test_the_buffer_shows_new_fakes_until_full_then_mixes_in_old_ones():
    buffer = cyclegan.FakeBuffer(size=4)
    first = torch.arange(4.0).view(4, 1)
    assert torch.equal(buffer.query(first), first)
    shown = buffer.query(torch.full((200, 1), -1.0))
    assert len(buffer.held) == 4 and 50 < (shown == -1).sum() < 200
    assert set(shown.flatten().tolist()) <= {-1.0, 0.0, 1.0, 2.0, 3.0}
    assert torch.equal(cyclegan.FakeBuffer(size=0).query(first), first)


def cycle_players() -> Players:
    torch.manual_seed(0)
    recipe = replace(cyclegan.CYCLEGAN, width=4, blocks=1, d_width=4)
    return cyclegan.cycle_players(recipe, "cpu")


def test_the_cycle_game_adds_lambda_times_both_cycles_to_the_two_gans():
    players, a, b = cycle_players(), digits(4, 1), digits(4, 2)
    g, d = players.generator, players.discriminator
    gans = cyclegan.lsgan_g_loss(d.b(g.a_to_b(a))) + cyclegan.lsgan_g_loss(d.a(g.b_to_a(b)))
    cycles = (g.b_to_a(g.a_to_b(a)) - a).abs().mean() + (g.a_to_b(g.b_to_a(b)) - b).abs().mean()
    full = cyclegan.CycleGame(10.0).g_loss(players, None, lambda: (a, b))
    torch.testing.assert_close(full, gans + 10 * cycles)
    ablation = cyclegan.CycleGame(0.0).g_loss(players, None, lambda: (a, b))
    torch.testing.assert_close(ablation, gans)
    with pytest.raises(ValueError, match="weights"):
        cyclegan.CycleGame(-1.0)


def test_a_cycle_step_trains_both_translators_and_both_judges():
    players, a, b = cycle_players(), digits(8, 1), digits(8, 2)
    before = {n: p.clone() for n, p in players.generator.named_parameters()}
    judges = {n: p.clone() for n, p in players.discriminator.named_parameters()}
    gan_step(players, cyclegan.CycleGame(), lambda m: (a[:m], b[:m]), lambda m: None, 4)
    for name in ("a_to_b.0.weight", "b_to_a.0.weight"):
        assert not torch.equal(before[name], dict(players.generator.named_parameters())[name])
    for name in ("a.0.weight", "b.0.weight"):
        assert not torch.equal(judges[name], dict(players.discriminator.named_parameters())[name])


def test_translators_keep_the_digit_shape():
    out = cyclegan.translator(width=4, blocks=1)(digits(2))
    assert out.shape == (2, 1, 28, 28) and out.abs().max() <= 1
    assert cyclegan.patch_discriminator(4)(digits(2)).shape == (2, 1, 7, 7)


def test_the_completion_benchmark_writes_both_completions_and_the_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    recipe = replace(completion.COMPLETION, quick_steps=3, width=8, d_width=8)
    monkeypatch.setattr(completion, "COMPLETION", recipe)
    result = bench.run("completion", "quick", tmp_path)
    for name in ("samples", "mse"):
        completed = np.load(tmp_path / f"{name}.npy")
        assert (
            completed.shape == (2000, 1, 28, 28) and -1 <= completed.min() <= completed.max() <= 1
        )
    assert np.load(tmp_path / "labels.npy").shape == (2000,)
    for key in ("pixel_mse", "gradient_energy", "class_agreement", "frechet_ratio"):
        assert key in result["mse"] and key in result["adversarial"]
    assert result["steps"] == 6
    assert json.loads((tmp_path / "result.json").read_text())["name"] == "completion"


def test_the_cyclegan_benchmark_writes_translations_and_their_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    recipe = replace(cyclegan.CYCLEGAN, quick_steps=2, width=4, blocks=1, d_width=4)
    monkeypatch.setattr(cyclegan, "CYCLEGAN", recipe)
    result = bench.run("cyclegan", "quick", tmp_path)
    samples, labels = np.load(tmp_path / "samples.npy"), np.load(tmp_path / "labels.npy")
    assert samples.shape == (1797, 1, 28, 28) and labels.shape == (1797,)
    for key in ("class_kept", "frechet_ratio", "cycle_error"):
        assert key in result["cycle"] and key in result["no_cycle"]
    assert "class_kept" in result["untranslated"] and result["steps"] == 4


def test_any_prefix_of_the_held_out_tops_holds_every_class():
    labels = torch.arange(5000) // 500  # sorted by class, as MNIST's 5,000-digit subset is
    sources, _ = completion.held_out_tops(Digits(torch.zeros(5000, 1, 28, 28), labels, "t"))
    assert sorted(sources.labels[:100].unique().tolist()) == list(range(10))
