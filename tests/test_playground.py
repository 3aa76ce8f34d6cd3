"""The instructor's playground, driven without a browser: what its controls do, its messages
for bad values, and that it trains exactly as the package does."""

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from gancourse import config, games, playground, recipes, toy1d
from gancourse.games import Players
from gancourse.nets import MinibatchDiscriminator
from gancourse.playground import Playground, Settings, Trainer
from gancourse.train import History, gan_step, record_steps, train_gan

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One CPU thread, as the notebooks run these small networks: faster, and two threads
    spin-wait badly when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def steps_shown(panel: Playground) -> int:
    """The step count as the readout shows it (what the browser test reads)."""
    text = panel.readout.value.split("gancourse-steps'>")[1].split("<")[0]
    return int(text.replace(",", ""))


@pytest.fixture
def panel():
    return Playground(device="cpu", steps_per_frame=3)


def test_panel_builds_with_a_first_picture(panel):
    assert isinstance(panel.widget, widgets.VBox)
    assert panel.png.startswith(PNG)
    assert steps_shown(panel) == 0
    assert "gancourse-modes" in panel.readout.value and "of 8" in panel.readout.value
    assert set(panel.controls) == set(playground.SETTING_NAMES)


def test_step_trains_one_frame_and_redraws(panel):
    before = panel.png
    assert panel.step()
    assert panel.trainer.steps_done == 3 == steps_shown(panel)
    assert panel.history.step == [1, 2, 3]
    assert panel.trainer.samples_seen == 3 * 128
    assert panel.png != before
    panel.step_button.click()
    assert panel.trainer.steps_done == 6
    assert panel.trainer.coverage_steps == [0, 3, 6]


def test_play_ticks_run_frames_and_stop_does_not(panel):
    panel.play.value += 1
    assert panel.trainer.steps_done == 3
    panel.play.value = 0  # the stop button sends the counter back: no frame
    assert panel.trainer.steps_done == 3


def test_ticks_that_queued_behind_a_slow_frame_are_skipped(panel):
    panel.play.value += 1
    panel.play.value += 1  # arrives at once after the first frame ended: a stale tick
    assert panel.trainer.steps_done == 3


def test_switching_among_gan_games_keeps_the_players(panel):
    panel.step()
    generator = panel.trainer.generator
    assert panel.set(game="minimax", lr_g=2e-3, k=2)
    assert panel.trainer.generator is generator and panel.trainer.steps_done == 3
    assert panel.trainer.opt_g.param_groups[0]["lr"] == 2e-3
    assert "applied to the running game" in panel.status.value
    panel.step()
    assert panel.trainer.steps_done == 6
    assert panel.trainer.samples_seen == 3 * 128 + 3 * 2 * 128


def test_a_wasserstein_game_resets_with_its_own_defaults(panel):
    panel.step()
    assert panel.set(game="wgan_clip")
    s = panel.settings
    assert (s.lr_d, s.lr_g, s.k) == (5e-5, 5e-5, 5)
    assert panel.trainer.steps_done == 0 and "new players" in panel.status.value
    assert isinstance(panel.trainer.opt_d, torch.optim.RMSprop)
    assert panel.controls["k"].value == 5 and panel.controls["game"].value == "wgan_clip"
    panel.step()
    bound = max(p.abs().max().item() for p in panel.trainer.discriminator.parameters())
    assert bound <= s.clip + 1e-9
    assert panel.set(game="wgan_gp", lr_d=2e-4)  # a given rate wins over the default
    assert (panel.settings.lr_d, panel.settings.lr_g) == (2e-4, 1e-3)


def test_reset_starts_again_from_the_seed(panel):
    first = panel.png
    panel.step()
    panel.reset_button.click()
    assert panel.trainer.steps_done == 0 and len(panel.history) == 0
    assert panel.png == first


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr_d": -0.001}, "lr_d must lie between 0 and 1"),
        ({"lr_g": "fast"}, "lr_g must be a number"),
        ({"k": 0}, "k must be a whole number from 1"),
        ({"game": "minmax"}, "unknown game 'minmax': choose one of minimax"),
        ({"target": "spiral"}, "unknown target 'spiral'"),
        ({"clip": 0.0}, "clip must lie between"),
        ({"speed": 3}, "unknown setting speed"),
        ({"minibatch": True, "game": "wgan_gp"}, "minibatch discrimination goes with the GAN"),
        ({"minibatch": True, "target": "gaussian1d"}, "offered on the 2D targets"),
    ],
)
def test_bad_values_are_a_message_in_the_panel_and_change_nothing(panel, changes, message):
    before = panel.settings
    assert not panel.set(**changes)
    assert message in panel.status.value and "gancourse-error" in panel.status.value
    assert panel.settings == before
    assert panel.controls["k"].value == before.k


def test_a_bad_value_typed_into_a_control_is_reported_and_undone(panel):
    panel.controls["k"].value = 0
    assert "k must be a whole number" in panel.status.value
    assert panel.controls["k"].value == 1 and panel.settings.k == 1
    panel.controls["lr_d"].value = -1.0
    assert "lr_d must lie between" in panel.status.value and panel.controls["lr_d"].value == 1e-3
    panel.controls["minibatch"].value = True  # a good value: new players
    assert panel.settings.minibatch and "new players" in panel.status.value


def test_a_diverging_game_pauses_with_a_message(panel):
    panel.play.playing = True
    panel.trainer.sample_data = lambda m: torch.full((m, 2), float("nan"))
    assert not panel.step()
    assert "diverged" in panel.status.value and "Reset" in panel.status.value
    assert panel.play.playing is False
    panel.play.value += 1  # the panel catches whatever a tick raises: no traceback
    assert "gancourse-error" in panel.status.value


def test_bad_settings_at_construction_raise_a_clear_error():
    with pytest.raises(ValueError, match="unknown game"):
        Playground(device="cpu", game="wasserstein")


@pytest.mark.parametrize(
    "changes",
    [
        {"target": "gaussian1d"},
        {"target": "gaussian1d", "game": "wgan_gp"},
        {"target": "grid", "minibatch": True, "game": "maximum_likelihood"},
        {"game": "wgan_clip"},
    ],
    ids=["1d", "1d-critic", "grid-minibatch", "ring-clipping"],
)
def test_every_kind_of_frame_draws(changes):
    panel = Playground(device="cpu", steps_per_frame=2, **changes)
    assert panel.step() and panel.png.startswith(PNG)
    assert steps_shown(panel) == 2


@pytest.mark.parametrize("game", ["non_saturating", "wgan_gp", "wgan_clip"])
def test_the_playground_trains_exactly_as_its_recipe(game):
    lab = Playground(device="cpu", target="grid", game=game, steps_per_frame=4)
    lab.run(10)
    recipe = lab.settings.recipe()
    run = recipes.build(recipe, "grid", seed=0)
    history = recipes.train(run, recipe, steps=10, progress=False)
    for ours, theirs in zip(
        [*lab.trainer.generator.parameters(), *lab.trainer.discriminator.parameters()],
        [*run.generator.parameters(), *run.discriminator.parameters()],
        strict=True,
    ):
        assert torch.equal(ours, theirs)
    assert history.as_dict() == lab.history.as_dict()


def test_settings_are_a_recipe_with_each_games_optimiser():
    gan, clip, gp = (Settings(game=g).recipe() for g in ("minimax", "wgan_clip", "wgan_gp"))
    assert (gan.optimizer, gan.beta1, gan.beta2, gan.latent_dim) == ("adam", 0.5, 0.999, 256)
    assert (clip.optimizer, clip.latent_dim, clip.standardize) == ("rmsprop", 2, True)
    assert (gp.optimizer, gp.beta2, gp.gp_weight) == ("adam", 0.9, 0.1)
    mine = Settings(minibatch=True, k=3, lr_d=2e-3, lr_g=5e-4).recipe()
    assert (mine.d_kind, mine.n_critic, mine.lr_d, mine.lr_g) == ("minibatch", 3, 2e-3, 5e-4)
    one_d = Settings(target="gaussian1d").recipe()
    assert (one_d.latent_dim, one_d.g_hidden, one_d.d_hidden) == (1, 32, 64)  # lesson 1's
    assert all(r.batch_size == 128 and not r.lr_decay for r in (gan, clip, gp, one_d))


def test_the_game_is_made_once_per_change_of_settings():
    trainer = Trainer(Settings(game="wgan_clip", k=5, lr_d=5e-5, lr_g=5e-5), device="cpu")
    made = trainer.game
    trainer.advance(2)
    assert trainer.game is made and made.clip == 0.01
    trainer.apply(Settings(game="wgan_clip", k=2, lr_d=1e-4, lr_g=5e-5, clip=0.05))
    assert trainer.game.clip == 0.05 and trainer.opt_d.param_groups[0]["lr"] == 1e-4
    trainer.advance(1)
    assert max(p.abs().max().item() for p in trainer.discriminator.parameters()) <= 0.05
    assert trainer.samples_seen == 2 * 5 * 128 + 1 * 2 * 128


def test_the_1d_playground_trains_as_train_gan_with_lesson_1s_players():
    trainer = Trainer(Settings(target="gaussian1d", k=2), device="cpu")
    trainer.advance(5)
    config.seed_everything(0)
    generator, discriminator = toy1d.players()
    players = Players(
        generator,
        discriminator,
        torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999)),
        torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999)),
    )
    history = train_gan(
        players,
        "non_saturating",
        sample_data=toy1d.TARGET.sample,
        sample_noise=toy1d.noise_sampler(),
        steps=5,
        batch_size=128,
        k=2,
        progress=False,
    )
    assert history.as_dict() == trainer.history.as_dict()
    assert torch.equal(generator[0].weight, trainer.generator[0].weight)


def test_gan_step_and_record_steps_keep_a_history_as_train_gan_does():
    tiny = recipes.Recipe("tiny", g_hidden=8, d_hidden=8, d_layers=1, batch_size=16)
    histories = []
    for loop in ("gan_step", "train_gan"):
        torch.manual_seed(0)
        generator, discriminator = recipes.models(tiny)
        players = Players(
            generator,
            discriminator,
            torch.optim.SGD(generator.parameters(), lr=0.01),
            torch.optim.SGD(discriminator.parameters(), lr=0.01),
        )
        samplers = (lambda m: torch.randn(m, 2), lambda m: torch.randn(m, 2))
        game = games.GAMES["non_saturating"]
        history = History()
        if loop == "gan_step":
            record_steps([gan_step(players, game, *samplers, 16) for _ in range(2)], history)
            record_steps([gan_step(players, game, *samplers, 16)], history)
        else:
            history = train_gan(
                players,
                game,
                sample_data=samplers[0],
                sample_noise=samplers[1],
                steps=3,
                batch_size=16,
                progress=False,
            )
        histories.append(history)
    assert histories[0].step == [1, 2, 3] and all(0 < d < 1 for d in histories[0].d_real)
    assert histories[0].as_dict() == histories[1].as_dict()


def test_minibatch_heat_map_is_d_judging_one_more_sample_of_the_batch():
    torch.manual_seed(0)
    discriminator = MinibatchDiscriminator(hidden=16, layers=2, kernels=4, kernel_dim=3)
    context, points = torch.randn(31, 2), torch.randn(5, 2)
    fast = playground.minibatch_logits(discriminator, points, context)
    for point, value in zip(points, fast, strict=True):
        batch = torch.cat([point[None], context])  # the point, and the 31 others
        assert torch.allclose(discriminator(batch)[0], value, atol=1e-5)


def test_arrows_point_where_d_rises_for_a_gan_and_the_critic_rises_for_a_wgan():
    for game in ("non_saturating", "wgan_gp"):
        trainer = Trainer(Settings(target="ring", game=game, **playground.GAME_DEFAULTS[game]))
        trainer.advance(20)
        fakes = torch.as_tensor(trainer.generated(128), device=trainer.device)
        arrows = trainer.generator_gradient(fakes)
        with torch.no_grad():
            before = trainer.discriminator(fakes).mean()
            after = trainer.discriminator(fakes + 1e-3 * arrows / arrows.norm(dim=1).mean()).mean()
        assert after > before, game


def test_arrow_lengths_keep_direction_and_stay_on_screen():
    vectors = np.array([[3.0, 4.0], [1e-6, 0.0], [0.0, 0.0]])
    drawn = playground.arrow_lengths(vectors, window_width=6.0)
    assert np.allclose(drawn[0] / np.linalg.norm(drawn[0]), [0.6, 0.8])
    assert np.linalg.norm(drawn[0]) == pytest.approx(0.6, rel=1e-3)  # the cap: 0.1 window
    assert np.linalg.norm(drawn[1]) < 1e-4 and not np.any(drawn[2])


def test_needs_new_players_only_for_what_the_running_game_cannot_take():
    base = Settings()
    assert not playground.needs_new_players(base, Settings(game="minimax", lr_d=0.1, k=3))
    for changed in ({"target": "grid"}, {"minibatch": True}, {"seed": 1}, {"game": "wgan_gp"}):
        assert playground.needs_new_players(base, Settings(**changed))
    assert playground.needs_new_players(Settings(game="wgan_clip"), Settings(game="wgan_gp"))
