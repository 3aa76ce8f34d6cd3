import dataclasses

import numpy as np
import pytest
import torch

from gancourse import recipes, toy2d
from gancourse.nets import sample_generator

TINY = recipes.Recipe("tiny", d_hidden=8, d_layers=1, g_hidden=8, g_layers=1, batch_size=32)


def test_generate_is_repeatable_and_leaves_the_global_generator_alone():
    generator, _ = recipes.models(TINY)
    state = torch.get_rng_state()
    first = sample_generator(generator, 5, seed=3).numpy()
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(first, sample_generator(generator, 5, seed=3).numpy())


def test_mode_record_measures_every_few_steps():
    generator, _ = recipes.models(TINY)
    record = toy2d.mode_record(generator, "grid", every=5, keep=10)
    for step in range(1, 16):
        record(step)
    assert record.column("step") == [5, 10, 15]
    histograms = np.array(record.column("histogram"))
    assert histograms.shape == (3, 25)
    np.testing.assert_allclose(histograms.sum(axis=1), 1.0)
    assert record.snapshots[0].shape == (10, 2)
    assert record.points[-1]["coverage"].modes == 25
    with pytest.raises(ValueError, match="every"):
        toy2d.mode_record(generator, "ring", every=0)


def test_train_seeds_in_worker_processes_matches_a_run_made_alone():
    setup = TINY
    results = toy2d.train_seeds("ring", {"tiny": setup}, steps=30, seeds=(0, 1), workers=2)
    assert [r.seed for r in results["tiny"]] == [0, 1]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers
    try:
        run = recipes.build(setup, "ring", seed=1)
        recipes.train(run, setup, steps=30, progress=False)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(
        results["tiny"][1].samples,
        sample_generator(run.generator, toy2d.EVAL_SAMPLES, seed=2).numpy(),
    )
    table = toy2d.summary_over_seeds(results["tiny"])
    values = [r.coverage.reverse_kl for r in results["tiny"]]
    assert table["reverse_kl"] == pytest.approx((np.mean(values), np.std(values, ddof=1)))
    with pytest.raises(ValueError, match="seeds"):
        toy2d.train_seeds("ring", {"tiny": setup}, steps=30, seeds=())
    with pytest.raises(ValueError, match="setups"):
        toy2d.train_seeds("ring", {"tiny": setup}, steps=30, seeds={"other": (0,)})


def test_train_seeds_takes_each_setups_own_seeds():
    setup = TINY
    results = toy2d.train_seeds(
        "grid", {"a": setup, "b": setup}, steps=5, seeds={"a": (0,), "b": (1, 2)}, workers=1
    )
    assert [r.seed for r in results["a"]] == [0] and [r.seed for r in results["b"]] == [1, 2]
    assert results["b"][0].samples.shape == (toy2d.EVAL_SAMPLES, 2)


def test_coordinate_std_is_the_divisor_of_the_authors_toy_code():
    from gancourse import data

    assert data.grid().coordinate_std == pytest.approx(2.828, abs=1e-3)
    assert data.ring().coordinate_std == pytest.approx(1.414, abs=1e-3)


def test_train_seeds_returns_the_players_history_and_snapshots():
    setup = dataclasses.replace(recipes.WGAN_GP_2D, d_hidden=16, g_hidden=16, batch_size=64)
    (result,) = toy2d.train_seeds(
        "grid", {"gp": setup}, steps=20, seeds=(0,), workers=1, snapshot_every=10
    )["gp"]
    assert sorted(result.snapshots) == [10, 20] and result.snapshots[20].shape == (2500, 2)
    assert len(result.history) == 20
    generator, _ = recipes.models(setup, scale=2.0)
    generator.load_state_dict(result.generator_state)  # the scale is a buffer: restored too
    alone = recipes.build(setup, "grid", seed=0)
    recipes.train(alone, setup, steps=20, progress=False)
    assert np.allclose(
        sample_generator(generator, 100, seed=1).numpy(),
        sample_generator(alone.generator, 100, seed=1).numpy(),
        atol=1e-6,
    )
