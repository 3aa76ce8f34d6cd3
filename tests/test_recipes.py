"""One recipe type, one table of presets, build apart from train."""

import dataclasses

import numpy as np
import pytest
import torch

from gancourse import games, recipes, toy2d
from gancourse.nets import sample_generator
from gancourse.recipes import Recipe


def tiny(**changes) -> Recipe:
    return Recipe("tiny", d_hidden=16, d_layers=2, g_hidden=16, g_layers=1, kernels=4,
                  kernel_dim=3, batch_size=32, **changes)  # fmt: skip


@pytest.mark.parametrize("kind", recipes.D_KINDS)
def test_mlp_players_shapes(kind):
    generator, discriminator = recipes.models(tiny(d_kind=kind))
    fake = generator(torch.randn(8, 2))
    assert fake.shape == (8, 2)
    assert discriminator(fake).shape == ((4, 1) if kind == "pacgan2" else (8, 1))


def test_minibatch_discriminator_judges_a_sample_by_its_batch():
    torch.manual_seed(0)
    _, discriminator = recipes.models(tiny(d_kind="minibatch"))
    x = torch.randn(1, 2)
    among_copies = discriminator(torch.cat([x, x.repeat(7, 1)]))[0]
    among_others = discriminator(torch.cat([x, 3 * torch.randn(7, 2)]))[0]
    assert not torch.allclose(among_copies, among_others)


def test_a_short_run_learns_the_ring_scale():
    recipe = Recipe(
        "short", d_hidden=32, d_layers=2, batch_size=128, lr_g=1e-3, lr_d=1e-3, lr_decay=True
    )
    run = recipes.build(recipe, "ring")
    history = recipes.train(run, recipe, steps=1000, progress=False)
    radius = np.linalg.norm(sample_generator(run.generator, 1000, seed=1).numpy(), axis=1)
    assert history.step[-1] == 1000
    assert abs(np.median(radius) - 2.0) < 0.5, np.median(radius)


def test_build_is_seeded_and_gives_the_models_before_training():
    first, second = (
        recipes.build(recipes.LESSON4, "grid", seed=3),
        recipes.build(recipes.LESSON4, "grid", seed=3),
    )
    for a, b in zip(first.generator.parameters(), second.generator.parameters(), strict=True):
        assert torch.equal(a, b)
    assert first.players.opt_d.param_groups[0]["lr"] == recipes.LESSON4.lr_d
    assert first.game is games.GAMES["non_saturating"]
    assert first.sample_noise(5).shape == (5, 256) and first.sample_data(5).shape == (5, 2)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"d_kind": "wasserstein"}, "unknown d_kind"),
        ({"d_kind": "pacgan2", "batch_size": 255}, "even"),
        ({"game": "wgan"}, "unknown game 'wgan'"),
        ({"optimizer": "sgd"}, "unknown optimizer"),
        ({"game": "wgan_gp", "d_kind": "minibatch"}, "per sample"),
        ({"players": "dcgan", "game": "wgan_gp"}, "batch norm"),
        ({"gp_every": 0}, "gp_every must be a positive integer"),
        ({"n_critic": 0}, "n_critic must be a positive integer"),
    ],
)
def test_bad_recipes_are_clear_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        Recipe("bad", **changes)


def test_the_table_names_every_preset_once_in_one_vocabulary():
    assert all(name == recipe.name for name, recipe in recipes.RECIPES.items())
    assert recipes.recipe_named("improved") is recipes.IMPROVED
    with pytest.raises(ValueError, match="unknown recipe 'fancy'"):
        recipes.recipe_named("fancy")
    lesson4 = recipes.LESSON4  # the Unrolled GAN paper's mode-collapse setting
    assert (lesson4.latent_dim, lesson4.g_hidden, lesson4.g_layers) == (256, 128, 2)
    assert (lesson4.d_hidden, lesson4.d_layers, lesson4.batch_size) == (128, 1, 256)
    ring, grid = toy2d.lesson5("ring", "minibatch"), toy2d.lesson5("grid", "pacgan2")
    assert ring == dataclasses.replace(recipes.LESSON5_RING, d_kind="minibatch")
    assert (grid.latent_dim, grid.g_layers, grid.g_hidden, grid.d_layers) == (16, 4, 256, 3)
    assert [r.steps(b) for b in ("quick", "full") for r in (ring, grid)] == [
        1500,
        2000,
        8000,
        20000,
    ]
    with pytest.raises(ValueError, match="ring"):
        toy2d.lesson5("spiral")


def test_standardised_players_meet_the_data_in_its_own_units():
    recipe = dataclasses.replace(recipes.WGAN_GP_2D, d_hidden=8, g_hidden=8)
    torch.manual_seed(0)
    generator, critic = recipes.models(recipe, scale=2.0)
    torch.manual_seed(0)
    inner_g, inner_c = recipes.models(dataclasses.replace(recipe, standardize=False))
    z, x = torch.randn(5, 2), torch.randn(5, 2)
    assert torch.allclose(generator(z), 2.0 * inner_g(z))
    assert torch.allclose(critic(x), inner_c(x / 2.0))
    penalty = recipes.build(recipe, "grid").game.penalty
    assert penalty.keywords == {"weight": recipe.gp_weight, "unit": pytest.approx(2.828, abs=1e-3)}


@pytest.mark.parametrize("name", ["wgan_clip_2d", "wgan_gp_2d"])
def test_wgan_recipes_train_with_their_lipschitz_device(name):
    recipe = dataclasses.replace(recipes.RECIPES[name], d_hidden=16, g_hidden=16, batch_size=64)
    run = recipes.build(recipe, "grid")
    history = recipes.train(run, recipe, steps=20, progress=False)
    assert len(history) == 20
    weights = list(run.discriminator.parameters())
    if recipe.game == "wgan_clip":
        assert all(p.abs().max() <= recipe.clip + 1e-12 for p in weights)
    else:
        assert max(p.abs().max() for p in weights) > recipe.clip  # nothing clipped
    assert np.isfinite(history.wasserstein_estimate(20, window=5))


def test_train_without_a_budget_or_steps_is_a_clear_error():
    run = recipes.build(tiny(), "ring")
    with pytest.raises(ValueError, match="give the budget"):
        recipes.train(run, tiny())


def test_a_checkpoint_keeps_the_whole_recipe_and_refuses_another(tmp_path):
    path = tmp_path / "run.pt"
    run = recipes.build(tiny(), "ring")
    recipes.train(run, tiny(), steps=3, checkpoint=path, progress=False)
    other = tiny(lr_d=1e-2)
    with pytest.raises(
        ValueError,
        match=r"other settings \(.*recipe\.lr_d=0\.0002 there but 0\.01 here.*resume=False",
    ):
        recipes.train(recipes.build(other, "ring"), other, steps=6, checkpoint=path)
    history = recipes.train(recipes.build(tiny(), "ring"), tiny(), steps=6, checkpoint=path,
                            progress=False)  # fmt: skip
    assert history.step == list(range(1, 7))
