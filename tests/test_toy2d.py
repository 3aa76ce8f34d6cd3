import dataclasses

import numpy as np
import pytest
import torch

from gancourse import toy2d


@pytest.mark.parametrize("kind", toy2d.KINDS)
def test_players_shapes(kind):
    setup = toy2d.Setup(kind=kind, hidden=16, layers=2, kernels=4, kernel_dim=3)
    generator, discriminator = toy2d.players(setup)
    fake = generator(torch.randn(8, setup.latent_dim))
    assert fake.shape == (8, 2)
    logits = discriminator(fake)
    assert logits.shape == ((4, 1) if kind == "pacgan2" else (8, 1))


def test_minibatch_discriminator_judges_a_sample_by_its_batch():
    torch.manual_seed(0)
    _, discriminator = toy2d.players(toy2d.Setup(kind="minibatch", hidden=16, layers=2))
    x = torch.randn(1, 2)
    among_copies = discriminator(torch.cat([x, x.repeat(7, 1)]))[0]
    among_others = discriminator(torch.cat([x, 3 * torch.randn(7, 2)]))[0]
    assert not torch.allclose(among_copies, among_others)


def test_a_short_run_learns_the_ring_scale():
    setup = toy2d.Setup(hidden=32, layers=2, batch_size=128)
    generator, _, history = toy2d.train_toy2d("ring", setup, steps=1000, progress=False)
    radius = np.linalg.norm(toy2d.generate(generator, 1000), axis=1)
    assert history.step[-1] == 1000
    assert abs(np.median(radius) - 2.0) < 0.5, np.median(radius)


def test_generate_is_repeatable_and_leaves_the_global_generator_alone():
    generator, _ = toy2d.players(toy2d.Setup(hidden=8, layers=1))
    state = torch.get_rng_state()
    first = toy2d.generate(generator, 5, seed=3)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(first, toy2d.generate(generator, 5, seed=3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"kind": "wasserstein"}, "plain"), ({"kind": "pacgan2", "batch_size": 255}, "even")],
)
def test_bad_setups_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        toy2d.Setup(**kwargs)


def test_mode_record_measures_every_few_steps():
    setup = toy2d.Setup(hidden=16, layers=1, g_hidden=16, g_layers=1, batch_size=64)
    generator, _ = toy2d.players(setup)
    record = toy2d.ModeRecord(generator, "grid", every=5, keep=10)
    for step in range(1, 16):
        record(step)
    assert record.steps == [5, 10, 15]
    assert record.histograms().shape == (3, 25)
    np.testing.assert_allclose(record.histograms().sum(axis=1), 1.0)
    assert record.snapshots[0].shape == (10, 2)
    with pytest.raises(ValueError, match="every"):
        toy2d.ModeRecord(generator, "ring", every=0)


def test_lesson_setting_is_the_unrolled_gan_papers():
    setup = toy2d.LESSON
    assert (setup.latent_dim, setup.g_hidden, setup.g_layers) == (256, 128, 2)
    assert (setup.hidden, setup.layers, setup.batch_size) == (128, 1, 256)


def test_lesson_setup_gives_lesson_5s_players_on_both_targets():
    ring, grid = toy2d.lesson_setup("ring", "minibatch"), toy2d.lesson_setup("grid", "pacgan2")
    assert ring == dataclasses.replace(toy2d.LESSON5, kind="minibatch")
    assert grid == dataclasses.replace(toy2d.LESSON5, kind="pacgan2")
    assert (grid.latent_dim, grid.g_layers, grid.g_hidden, grid.layers) == (16, 4, 256, 3)
    with pytest.raises(ValueError, match="ring"):
        toy2d.lesson_setup("spiral")
    for steps in (toy2d.lesson_steps, toy2d.minibatch_steps):
        with pytest.raises(ValueError, match="grid"):
            steps("spiral")


def test_lesson_5_trains_the_grid_longer_than_the_ring(monkeypatch):
    for budget, ring, grid in (("quick", 1500, 2000), ("full", 8000, 20000)):
        monkeypatch.setenv("GANCOURSE_BUDGET", budget)
        assert (toy2d.minibatch_steps("ring"), toy2d.minibatch_steps("grid")) == (ring, grid)
        assert toy2d.lesson_steps() == (1500 if budget == "quick" else 6000)


def test_train_seeds_in_worker_processes_matches_a_run_made_alone():
    setup = toy2d.Setup(hidden=8, layers=1, g_hidden=8, g_layers=1, batch_size=32)
    results = toy2d.train_seeds("ring", {"tiny": setup}, steps=30, seeds=(0, 1), workers=2)
    assert [r.seed for r in results["tiny"]] == [0, 1]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers
    try:
        generator, _, _ = toy2d.train_toy2d("ring", setup, 30, seed=1, progress=False)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(
        results["tiny"][1].samples, toy2d.generate(generator, toy2d.EVAL_SAMPLES, seed=2)
    )
    table = toy2d.summary_over_seeds(results["tiny"])
    values = [r.coverage.reverse_kl for r in results["tiny"]]
    assert table["reverse_kl"] == pytest.approx((np.mean(values), np.std(values, ddof=1)))
    with pytest.raises(ValueError, match="seeds"):
        toy2d.train_seeds("ring", {"tiny": setup}, steps=30, seeds=())
    with pytest.raises(ValueError, match="setups"):
        toy2d.train_seeds("ring", {"tiny": setup}, steps=30, seeds={"other": (0,)})


def test_train_seeds_takes_each_setups_own_seeds():
    setup = toy2d.Setup(hidden=8, layers=1, g_hidden=8, g_layers=1, batch_size=32)
    results = toy2d.train_seeds(
        "grid", {"a": setup, "b": setup}, steps=5, seeds={"a": (0,), "b": (1, 2)}, workers=1
    )
    assert [r.seed for r in results["a"]] == [0] and [r.seed for r in results["b"]] == [1, 2]
    assert results["b"][0].samples.shape == (toy2d.EVAL_SAMPLES, 2)


def test_setup_rejects_unknown_games_optimizers_and_packed_critics():
    with pytest.raises(ValueError, match="unknown game"):
        toy2d.Setup(game="wgan")
    with pytest.raises(ValueError, match="unknown optimizer"):
        toy2d.Setup(optimizer="sgd")
    with pytest.raises(ValueError, match="plain critic"):
        toy2d.Setup(game="wgan_gp", kind="minibatch")


def test_coordinate_std_is_the_divisor_of_the_authors_toy_code():
    from gancourse import data

    assert data.grid().coordinate_std == pytest.approx(2.828, abs=1e-3)
    assert data.ring().coordinate_std == pytest.approx(1.414, abs=1e-3)


def test_standardised_players_meet_the_data_in_its_own_units():
    setup = dataclasses.replace(toy2d.WGAN_GP, hidden=8, g_hidden=8)
    plain = dataclasses.replace(setup, standardize=False)
    torch.manual_seed(0)
    generator, critic = toy2d.players(setup, scale=2.0)
    torch.manual_seed(0)
    inner_g, inner_c = toy2d.players(plain)
    z, x = torch.randn(5, 2), torch.randn(5, 2)
    assert torch.allclose(generator(z), 2.0 * inner_g(z))
    assert torch.allclose(critic(x), inner_c(x / 2.0))


@pytest.mark.parametrize("name", ["wgan_clip", "wgan_gp"])
def test_wgan_setups_train_with_their_lipschitz_device(name):
    setup = dataclasses.replace(toy2d.WGAN_SETUPS[name], hidden=16, g_hidden=16, batch_size=64)
    generator, critic, history = toy2d.train_toy2d("grid", setup, steps=20, progress=False)
    assert len(history) == 20
    weights = [p for n, p in critic.named_parameters()]
    if name == "wgan_clip":
        assert all(p.abs().max() <= setup.clip + 1e-12 for p in weights)
    else:
        assert max(p.abs().max() for p in weights) > setup.clip  # nothing clipped
    assert np.isfinite(history.wasserstein_estimate(20, window=5))
    assert toy2d.generate(generator, 10).shape == (10, 2)


def test_train_seeds_returns_the_players_history_and_snapshots():
    setup = dataclasses.replace(toy2d.WGAN_GP, hidden=16, g_hidden=16, batch_size=64)
    (result,) = toy2d.train_seeds(
        "grid", {"gp": setup}, steps=20, seeds=(0,), workers=1, snapshot_every=10
    )["gp"]
    assert sorted(result.snapshots) == [10, 20] and result.snapshots[20].shape == (2500, 2)
    assert len(result.history) == 20
    generator, _ = toy2d.players(setup, scale=2.0)
    generator.load_state_dict(result.generator_state)  # the scale is a buffer: restored too
    alone, _, _ = toy2d.train_toy2d("grid", setup, 20, seed=0, progress=False)
    assert np.allclose(toy2d.generate(generator, 100), toy2d.generate(alone, 100), atol=1e-6)


def test_game_arguments_wire_each_game_for_train_gan():
    gan = toy2d.game_arguments(toy2d.LESSON, torch.nn.Linear(2, 1), g_loss="minimax")
    assert gan["g_loss"] == "minimax" and not gan["scores"] and "d_penalty" not in gan
    critic = torch.nn.Linear(2, 1)
    penalised = toy2d.game_arguments(toy2d.WGAN_GP, critic, unit=2.0)
    assert penalised["scores"] and penalised["after_d_step"] is None
    assert penalised["d_penalty"].keywords == {"weight": toy2d.WGAN_GP.gp_weight, "unit": 2.0}
    clipped = toy2d.game_arguments(toy2d.WGAN_CLIP, critic)
    assert clipped["d_penalty"] is None
    with torch.no_grad():
        critic.weight.fill_(1.0)
    clipped["after_d_step"]()
    assert critic.weight.abs().max().item() == pytest.approx(toy2d.WGAN_CLIP.clip)
