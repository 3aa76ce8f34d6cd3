import copy
import itertools
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse import config, games
from gancourse.data import Gaussian1D
from gancourse.nets import mlp_discriminator, mlp_generator
from gancourse.train import (
    Checkpoint,
    Players,
    TrainingDiverged,
    gan_step,
    judges_each_sample_alone,
    linear_to_zero,
    load_checkpoint,
    train_gan,
)

TARGET = Gaussian1D(2.0, 0.5)


def players(seed: int = 0, lr: float = 1e-3):
    config.seed_everything(seed)
    g = mlp_generator(1, 1, (16, 16), activation="tanh")
    d = mlp_discriminator(1, (16, 16))
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    return g, d, opt_g, opt_d


def run(g, d, opt_g, opt_d, steps, game="non_saturating", checkpoint=None, every=0, **kwargs):
    kwargs.setdefault("batch_size", 32)
    return train_gan(
        Players(g, d, opt_g, opt_d),
        game,
        sample_data=kwargs.pop("sample_data", TARGET.sample),
        sample_noise=lambda m: torch.randn(m, 1),
        steps=steps,
        progress=False,
        checkpoint=None if checkpoint is None else Checkpoint(checkpoint, every=every),
        **kwargs,
    )


def weights(*modules):
    return torch.cat([p.detach().reshape(-1) for m in modules for p in m.parameters()])


def test_history_has_one_entry_per_step_and_callback_sees_every_step():
    seen = []
    history = run(*players(), steps=30, k=2, callback=seen.append)
    assert history.step == list(range(1, 31)) == seen
    assert len(history.d_loss) == len(history.g_loss) == len(history.d_real) == 30
    assert all(0 < v < 1 for v in history.d_real + history.d_fake)


def test_time_limit_stops_early_saves_where_it_stopped_and_ignores_callback_time(tmp_path, capsys):
    def slow_data(m):
        time.sleep(0.01)  # training time: counts
        return TARGET.sample(m)

    seen = []

    def slow_callback(step):
        seen.append(step)
        time.sleep(0.05)  # measuring time: does not count

    path = tmp_path / "run.pt"
    history = run(
        *players(),
        steps=None,  # until the clock
        sample_data=slow_data,
        batch_size=8,
        time_limit=0.1,
        callback=slow_callback,
        checkpoint=path,
    )
    assert 5 <= len(history) == len(seen) <= 11 and history.step[-1] == seen[-1]
    assert load_checkpoint(path, players()[0])["step"] == history.step[-1]
    captured = capsys.readouterr()
    assert "time limit of 0.1 s reached" in captured.out + captured.err


def test_lr_schedule_scales_the_rates_by_the_share_of_steps_done():
    g, d, opt_g, opt_d = players(lr=1e-3)
    rates = []
    run(
        g,
        d,
        opt_g,
        opt_d,
        steps=10,
        lr_schedule=linear_to_zero,
        callback=lambda step: rates.append(
            (opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"])
        ),
    )
    # iteration s runs at 1 - (s - 1) / 10 of the initial rate, for both players
    expected = [1e-3 * (1 - s / 10) for s in range(10)]
    assert [g_rate for g_rate, _ in rates] == pytest.approx(expected)
    assert [d_rate for _, d_rate in rates] == pytest.approx(expected)


def test_lr_schedule_follows_the_clock_when_the_time_limit_comes_first():
    def slow_data(m):
        time.sleep(0.005)
        return TARGET.sample(m)

    g, d, opt_g, opt_d = players(lr=1e-3)
    rates = []
    history = run(
        g,
        d,
        opt_g,
        opt_d,
        steps=10**6,
        sample_data=slow_data,
        batch_size=8,
        time_limit=0.3,
        lr_schedule=linear_to_zero,
        callback=lambda step: rates.append(opt_g.param_groups[0]["lr"]),
    )
    assert len(history) >= 10 and rates[0] == pytest.approx(1e-3, rel=0.01)
    assert all(a > b for a, b in itertools.pairwise(rates))  # falls with time
    assert rates[-1] < 0.2e-3  # near zero when the clock runs out


def test_resumed_run_follows_the_schedule_from_the_initial_rates(tmp_path):
    g, d, opt_g, opt_d = players(seed=3)
    config.seed_everything(11)
    run(g, d, opt_g, opt_d, steps=20, lr_schedule=linear_to_zero)
    reference = weights(g, d)

    path = tmp_path / "run.pt"
    g, d, opt_g, opt_d = players(seed=3)
    config.seed_everything(11)

    def interrupt(step):
        if step == 13:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(
            g,
            d,
            opt_g,
            opt_d,
            steps=20,
            checkpoint=path,
            every=10,
            lr_schedule=linear_to_zero,
            callback=interrupt,
        )
    g, d, opt_g, opt_d = players(seed=99)  # fresh optimisers: their rates are the initial ones
    run(g, d, opt_g, opt_d, steps=20, checkpoint=path, lr_schedule=linear_to_zero)
    assert torch.equal(weights(g, d), reference)


def test_run_that_reached_its_time_limit_is_loaded_not_trained_again(tmp_path, capsys):
    path = tmp_path / "timed.pt"
    first = run(*players(), steps=10**6, time_limit=0.2, checkpoint=path)
    calls = []
    g, d, opt_g, opt_d = players(seed=1)
    again = run(
        g, d, opt_g, opt_d, steps=10**6, time_limit=0.2, checkpoint=path, callback=calls.append
    )
    assert calls == [] and again.step == first.step
    assert "reached its time limit" in capsys.readouterr().out
    assert load_checkpoint(path, g)["out_of_time"]


def test_package_loop_is_algorithm_1_written_out():
    g1, d1, og1, od1 = players(seed=1)
    g2, d2, og2, od2 = copy.deepcopy((g1, d1, og1, od1))
    og2 = torch.optim.Adam(g2.parameters(), lr=1e-3, betas=(0.5, 0.999))
    od2 = torch.optim.Adam(d2.parameters(), lr=1e-3, betas=(0.5, 0.999))
    config.seed_everything(5)
    run(g1, d1, og1, od1, steps=20, k=3)

    config.seed_everything(5)
    for _ in range(20):
        for _ in range(3):
            x = TARGET.sample(32)
            fake = g2(torch.randn(32, 1)).detach()
            loss_d = -0.5 * (F.logsigmoid(d2(x)).mean() + F.logsigmoid(-d2(fake)).mean())
            od2.zero_grad()
            loss_d.backward()
            od2.step()
        loss_g = -0.5 * F.logsigmoid(d2(g2(torch.randn(32, 1)))).mean()
        og2.zero_grad()
        loss_g.backward()
        og2.step()
    assert torch.allclose(weights(g1, d1), weights(g2, d2), atol=1e-5)


def test_short_training_moves_the_generator_onto_the_data():
    g, d, opt_g, opt_d = players(seed=0)
    with torch.no_grad():
        before = abs(g(torch.randn(4000, 1)).mean().item() - TARGET.mean)
    run(g, d, opt_g, opt_d, steps=300, batch_size=128, k=3)
    with torch.no_grad():
        after = abs(g(torch.randn(4000, 1)).mean().item() - TARGET.mean)
    assert before > 1.0 and after < 0.3, (before, after)


def test_interrupted_run_resumed_from_checkpoint_ends_like_an_uninterrupted_one(tmp_path):
    g, d, opt_g, opt_d = players(seed=3)
    config.seed_everything(11)
    run(g, d, opt_g, opt_d, steps=40, lr_schedule=linear_to_zero)
    reference = weights(g, d)

    path = tmp_path / "run.pt"
    g, d, opt_g, opt_d = players(seed=3)
    config.seed_everything(11)

    def interrupt(step):
        if step == 27:
            raise KeyboardInterrupt

    resumable = {"steps": 40, "checkpoint": path, "every": 10, "lr_schedule": linear_to_zero}
    with pytest.raises(KeyboardInterrupt):
        run(g, d, opt_g, opt_d, **resumable, callback=interrupt)
    assert load_checkpoint(path, mlp_generator(1, 1, (16, 16), activation="tanh"))["step"] == 20

    # A fresh process: new models, other random state; the checkpoint restores everything.
    g, d, opt_g, opt_d = players(seed=99)
    torch.manual_seed(12345)
    history = run(g, d, opt_g, opt_d, **resumable)
    assert history.step == list(range(1, 41))
    assert torch.equal(weights(g, d), reference)


def test_finished_checkpoint_is_loaded_instead_of_retrained(tmp_path, capsys):
    path = tmp_path / "done.pt"
    run(*players(seed=0), steps=15, checkpoint=path)
    g, d, opt_g, opt_d = players(seed=1)
    calls = []
    history = run(g, d, opt_g, opt_d, steps=15, checkpoint=path, callback=calls.append)
    assert calls == [] and len(history) == 15
    assert "its run is finished, at step 15" in capsys.readouterr().out


def test_resuming_with_other_settings_is_a_clear_error(tmp_path):
    path = tmp_path / "k1.pt"
    run(*players(), steps=5, k=1, checkpoint=path)
    g, d, opt_g, opt_d = players(seed=7)
    before = weights(g, d).clone()
    with pytest.raises(ValueError, match=r"other settings \(k=1 there but 3 here\).*resume=False"):
        run(g, d, opt_g, opt_d, steps=10, k=3, checkpoint=path)
    assert torch.equal(weights(g, d), before)  # a refused resume loads nothing


def test_checkpoint_from_an_older_course_resumes_with_a_note_on_what_it_lacks(tmp_path, capsys):
    path = tmp_path / "old.pt"
    run(*players(), steps=5, checkpoint=path)
    payload = torch.load(path, weights_only=False)
    del payload["settings"]["learning_rates"]  # older courses did not record the rates
    torch.save(payload, path)
    capsys.readouterr()
    history = run(*players(seed=7), steps=10, checkpoint=path)
    shown = capsys.readouterr().out
    assert "was saved before the course recorded learning_rates" in shown
    assert "resumed from" in shown and len(history) == 10


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "small.pt"
    run(*players(), steps=5, checkpoint=path)
    with pytest.raises(ValueError, match="different architecture"):
        load_checkpoint(path, mlp_generator(1, 1, (8,)))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"no checkpoint at .*nothing\.pt: train the model first"
    ):
        load_checkpoint(tmp_path / "nothing.pt", mlp_generator())


def test_nan_guard_stops_with_a_clear_message():
    g, d, opt_g, opt_d = players()

    def poisoned_data(m):
        batch = TARGET.sample(m)
        batch[0] = float("nan")
        return batch

    with pytest.raises(
        TrainingDiverged, match=r"discriminator loss became nan at step 1.*learning rates"
    ):
        run(g, d, opt_g, opt_d, steps=10, sample_data=poisoned_data)


def test_nan_guard_names_the_step_and_the_last_checkpoint(tmp_path):
    g, d, opt_g, opt_d = players()

    def explode(step):
        if step == 12:
            with torch.no_grad():
                for p in g.parameters():
                    p.fill_(float("inf"))

    with pytest.raises(TrainingDiverged, match=r"at step 13.*checkpoint, at step 10"):
        run(
            g,
            d,
            opt_g,
            opt_d,
            steps=30,
            checkpoint=tmp_path / "x.pt",
            every=10,
            callback=explode,
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, r"k must be a positive integer, got 0: Algorithm 1"),
        ({"k": 1.5}, r"k must be a positive integer"),
        ({"steps": -1}, r"steps must be an integer >= 0"),
        ({"batch_size": 0}, r"batch_size must be a positive integer"),
        ({"game": "wasserstein?"}, r"unknown game 'wasserstein\?'"),
        ({"steps": None}, r"give steps, time_limit or both"),
        ({"time_limit": 0}, r"time_limit must be a positive number of seconds, got 0"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    steps = kwargs.pop("steps", 5)
    with pytest.raises(ValueError, match=message):
        run(*players(), steps=steps, **kwargs)


def test_generator_of_the_wrong_shape_is_a_clear_error():
    config.seed_everything(0)
    g, d = mlp_generator(1, 2), mlp_discriminator(1)
    with pytest.raises(
        ValueError,
        match=r"generator output has shape \(32, 2\) but the data batch has shape \(32, 1\)",
    ):
        run(g, d, torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()), steps=3)


def test_sampler_returning_the_wrong_batch_size_is_a_clear_error():
    g, d, opt_g, opt_d = players()
    with pytest.raises(ValueError, match=r"sample_data\(32\) returned shape \(10, 1\)"):
        run(g, d, opt_g, opt_d, steps=3, sample_data=lambda m: TARGET.sample(10), batch_size=32)


def test_linear_to_zero_falls_from_one_to_zero():
    assert [linear_to_zero(p) for p in (0.0, 0.25, 1.0)] == [1.0, 0.75, 0.0]


def test_training_repeats_with_the_same_seed():
    first = run(*players(seed=4), steps=10)
    second = run(*players(seed=4), steps=10)
    assert np.array_equal(first.d_loss, second.d_loss)


def test_wasserstein_games_add_the_penalty_clip_after_each_critic_step_and_keep_scores():
    from dataclasses import replace

    from gancourse import losses

    g, d, opt_g, opt_d = players()
    calls = {"penalty": 0}

    def penalty(critic, real, fake):
        calls["penalty"] += 1
        assert real.shape == fake.shape == (32, 1)
        return losses.gradient_penalty(critic, real, fake)

    both = replace(games.game("wgan_clip", clip=0.05), penalty=penalty)
    history = run(g, d, opt_g, opt_d, 4, game=both, k=3)
    assert calls == {"penalty": 12}  # k critic steps per generator step
    assert all(p.abs().max() <= 0.05 for p in d.parameters())
    # raw scores, not probabilities: the same run with ``scores`` off keeps their sigmoid
    raw = run(*players(), 4, game="wgan_gp", k=3)
    probabilities = run(*players(), 4, game=replace(games.GAMES["wgan_gp"], scores=False), k=3)
    expected = torch.sigmoid(torch.tensor(raw.d_real)).numpy()
    assert np.allclose(probabilities.d_real, expected, atol=1e-3)
    assert not np.allclose(raw.d_real, probabilities.d_real, atol=0.1)
    estimate = history.wasserstein_estimate(4, window=2)
    assert estimate == pytest.approx(
        np.mean(np.subtract(history.d_real, history.d_fake)[2:]), rel=1e-6
    )
    with pytest.raises(ValueError, match="no steps"):
        history.wasserstein_estimate(100, window=2)


def test_one_pass_over_data_and_samples_only_where_d_judges_each_sample_alone():
    from gancourse import nets, recipes

    assert judges_each_sample_alone(nets.mlp(2, 1))
    assert judges_each_sample_alone(nets.dcgan_discriminator(8, norm="spectral"))
    for batch_dependent in (
        nets.dcgan_discriminator(8, norm="batch"),
        nets.dcgan_discriminator(8, norm="spectral", minibatch_std=True),
        recipes.models(recipes.Recipe("mb", d_kind="minibatch"))[1],
        recipes.models(recipes.Recipe("pac", d_kind="pacgan2"))[1],
    ):
        assert not judges_each_sample_alone(batch_dependent)


def test_one_pass_gives_the_scores_of_two():
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    together = d(torch.cat([real, fake])).split(8)
    torch.testing.assert_close(together[0], d(real))
    torch.testing.assert_close(together[1], d(fake))


def test_the_generator_step_leaves_d_without_gradients_and_trainable():
    torch.manual_seed(0)
    g, d = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    opt_g, opt_d = torch.optim.SGD(g.parameters(), 0.1), torch.optim.SGD(d.parameters(), 0.1)
    gan_step(
        Players(g, d, opt_g, opt_d),
        games.GAMES["non_saturating"],
        sample_data=lambda m: torch.randn(m, 1),
        sample_noise=lambda m: torch.randn(m, 1),
        batch_size=4,
    )
    assert all(p.requires_grad for p in d.parameters())
    assert all(p.grad is not None for p in g.parameters())


def test_a_progress_bar_refreshes_once_a_second_so_a_long_cell_keeps_its_output():
    from gancourse.train import _progress_bar

    for steps, limit in ((100, None), (None, 60.0)):
        bar = _progress_bar("run", False, steps, 0, limit)
        assert bar.mininterval >= 1.0
        bar.close()
