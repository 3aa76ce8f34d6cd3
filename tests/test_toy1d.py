import numpy as np
import pytest
import torch

from gancourse import toy1d


def test_logit_gradients_match_the_closed_forms():
    d = np.array([0.01, 0.3, 0.5, 0.99])
    expected = {
        "minimax": -d / 2,
        "non_saturating": -(1 - d) / 2,
        "maximum_likelihood": -d / (2 * (1 - d)),
    }
    for game, grad in expected.items():
        _, computed = toy1d.logit_gradient(game, d)
        np.testing.assert_allclose(computed, grad, rtol=1e-9)


def test_logit_gradient_rejects_values_outside_the_open_interval():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        toy1d.logit_gradient("minimax", np.array([0.0, 0.5]))


def test_players_have_lesson_1_shapes():
    g, d = toy1d.players()
    assert g(torch.randn(7, 1)).shape == (7, 1) and d(torch.randn(7, 1)).shape == (7, 1)


def test_saturation_minimax_stalls_where_non_saturating_learns():
    torch.set_num_threads(1)
    start = toy1d.saturated_start(seed=0, pretrain_steps=200)
    minimax = toy1d.saturation_run("minimax", start, steps=40, every=10)
    non_saturating = toy1d.saturation_run("non_saturating", start, steps=40, every=10)
    assert minimax.start_d_of_gz < 0.02
    assert non_saturating.start_gradient_norm > 20 * minimax.start_gradient_norm
    assert non_saturating.means[-1] - non_saturating.means[0] > 1.0
    assert abs(minimax.means[-1] - minimax.means[0]) < 0.2
    assert minimax.steps == [0, 10, 20, 30, 40] and minimax.diverged_at is None


def test_saturation_run_does_not_change_its_start():
    start = toy1d.saturated_start(seed=0, pretrain_steps=5)
    before = [p.clone() for p in start[0].parameters()]
    toy1d.saturation_run("non_saturating", start, steps=5)
    assert all(torch.equal(a, b) for a, b in zip(before, start[0].parameters(), strict=True))
