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
from gancourse.playground.core import MANIFOLD_SIDE, drawn_mixture, latent_lattice
from gancourse.playground.render import manifold_caption
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
    # one control per setting; the drawn target's points have the drawing pad
    assert set(panel.controls) | {"points"} == set(playground.SETTING_NAMES)


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


# --- slow motion: one iteration as two half-steps -----------------------------------------------
def same_players(a: Trainer, b: Trainer) -> bool:
    """The weights and the optimisers' states of two trainers, bit for bit."""
    weights = [*a.generator.parameters(), *a.discriminator.parameters()]
    theirs = [*b.generator.parameters(), *b.discriminator.parameters()]
    if not all(torch.equal(x, y) for x, y in zip(weights, theirs, strict=True)):
        return False
    for ours, other in ((a.opt_d, b.opt_d), (a.opt_g, b.opt_g)):
        for state, their_state in zip(ours.state.values(), other.state.values(), strict=True):
            if state.keys() != their_state.keys():
                return False
            if not all(torch.equal(state[key], their_state[key]) for key in state):
                return False
    return True


@pytest.mark.parametrize(
    ("game", "k"), [("non_saturating", 2), ("wgan_gp", 2), ("wgan_clip", 2)], ids=str
)
def test_a_d_half_step_then_a_g_half_step_is_one_gan_step_bit_for_bit(game, k):
    """The penalty draws its own random numbers and clipping acts after each D step: the
    halves must do both where train.gan_step does."""
    settings = Settings(game=game, **{**playground.GAME_DEFAULTS[game], "k": k})
    halves = Trainer(settings, device="cpu")
    halves.advance(2)  # the optimisers have moments
    before = torch.get_rng_state()
    halves.d_half_step()
    assert halves.between_halves and halves.steps_done == 2
    halves.g_half_step()
    after = torch.get_rng_state()
    assert not halves.between_halves and halves.steps_done == 3

    whole = Trainer(settings, device="cpu")
    whole.advance(2)
    assert torch.equal(torch.get_rng_state(), before)
    stats = gan_step(
        whole.players, whole.game, whole.sample_data, whole.sample_noise, whole.batch_size, k
    )
    record_steps([stats], whole.history)
    assert torch.equal(torch.get_rng_state(), after)
    assert same_players(halves, whole)
    assert halves.history.as_dict() == whole.history.as_dict()
    assert halves.samples_seen == 3 * k * 128


def test_the_half_step_button_shows_d_then_g(panel):
    generator = [p.clone() for p in panel.trainer.generator.parameters()]
    discriminator = [p.clone() for p in panel.trainer.discriminator.parameters()]
    before = panel.png
    panel.half_button.click()
    assert "D updated: 1 D step" in panel.status.value and "G's samples did not" in (
        panel.status.value
    )
    assert panel.trainer.steps_done == 0 == steps_shown(panel)
    assert "half-way: D updated" in panel.readout.value and panel.png != before
    now = panel.trainer
    assert all(map(torch.equal, generator, now.generator.parameters()))  # G did not move
    assert not all(map(torch.equal, discriminator, now.discriminator.parameters()))
    panel.half_button.click()
    assert "G updated" in panel.status.value and "iteration 1 is whole" in panel.status.value
    assert panel.trainer.steps_done == 1 == steps_shown(panel) and len(panel.history) == 1
    assert "half-way" not in panel.readout.value
    assert panel.half_step() and "D updated" in panel.status.value  # and round again


def test_step_after_a_d_half_step_finishes_the_iteration_first(panel):
    assert panel.half_step()
    assert panel.step()
    assert panel.trainer.steps_done == 3 and panel.trainer.coverage_steps == [0, 3]
    assert panel.trainer.samples_seen == 3 * 128 and not panel.trainer.between_halves
    straight = Playground(device="cpu", steps_per_frame=3)
    straight.step()
    assert same_players(panel.trainer, straight.trainer)
    assert panel.history.as_dict() == straight.history.as_dict()
    panel.half_step()
    panel.run(4)  # run() keeps whole iterations too
    assert panel.trainer.steps_done == 7 and not panel.trainer.between_halves


# --- the manifold view: G's warp of a lattice of z ---------------------------------------------
def test_the_manifold_view_is_g_of_a_lattice_in_a_plane_of_z(panel):
    trainer = panel.trainer
    lattice = latent_lattice(trainer.latent_dim)  # 256 dimensions: the plane of z1 and z2
    assert lattice.shape == (MANIFOLD_SIDE, MANIFOLD_SIDE, 256) and not lattice[..., 2:].any()
    assert lattice[0, 0, :2] == pytest.approx([-2 * 128**0.5] * 2)  # z's typical length
    assert panel.trainer.frame_data().manifold is None
    rng = torch.get_rng_state()
    warped = trainer.manifold()
    assert torch.equal(torch.get_rng_state(), rng)  # drawing draws no random numbers
    with torch.no_grad():
        expected = trainer.generator(torch.as_tensor(lattice[3, 5], dtype=torch.float32))
    assert warped.shape == (MANIFOLD_SIDE, MANIFOLD_SIDE, 2)
    assert warped[3, 5] == pytest.approx(expected.numpy(), abs=1e-5)
    assert "z3..z256 = 0" in manifold_caption(256) and "(z1, z2) plane" in manifold_caption(256)

    before = panel.png
    panel.manifold_box.value = True  # the checkbox
    assert panel.manifold and panel.png != before and "manifold view shown" in panel.status.value
    panel.step()  # it follows G
    assert panel.trainer.frame_data(manifold=True).manifold is not None
    assert panel.show_manifold(False) and not panel.manifold_box.value
    assert not panel.show_manifold("yes") and "True or False" in panel.status.value


def test_the_1d_manifold_view_maps_z_to_g_of_z():
    panel = Playground(device="cpu", target="gaussian1d", steps_per_frame=2)
    pairs = panel.trainer.manifold()
    z = pairs[:, 0]
    assert pairs.shape == (MANIFOLD_SIDE, 2) and np.all(np.diff(z) > 0)
    assert z == pytest.approx(-z[::-1]) and z[MANIFOLD_SIDE // 2] == 0  # quantiles of N(0, 1)
    with torch.no_grad():
        g = panel.trainer.generator(torch.as_tensor(z[:, None], dtype=torch.float32))
    assert pairs[:, 1] == pytest.approx(g[:, 0].numpy(), abs=1e-5)
    assert panel.show_manifold(True) and panel.step() and panel.png.startswith(PNG)


# --- the drawn target ----------------------------------------------------------------------------
def test_a_drawn_target_is_a_mixture_at_the_points_and_trains_as_its_recipe(panel):
    points = [(-2, 0), (2.5, 1)]
    assert panel.set_target_points(points)
    s, trainer = panel.settings, panel.trainer
    assert s.target == "drawn" and s.points == ((-2.0, 0.0), (2.5, 1.0))
    assert trainer.means.tolist() == [[-2.0, 0.0], [2.5, 1.0]]
    assert trainer.mode_std == playground.DRAWN_STD
    assert "new players from the seed (2 modes)" in panel.status.value
    assert "of 2" in panel.readout.value and steps_shown(panel) == 0
    assert panel.pad[(-2.0, 0.0)].value and not panel.pad[(0.0, 0.0)].value
    assert panel.drawing.layout.display == "flex"
    panel.run(6)
    run = recipes.build(s.recipe(), drawn_mixture(s.points), seed=0)
    history = recipes.train(run, s.recipe(), steps=6, progress=False)
    assert history.as_dict() == panel.history.as_dict()
    assert panel.set(target="ring") and panel.drawing.layout.display == "none"


def test_the_drawing_pad_places_modes_and_the_button_trains_on_them(panel):
    assert panel.set(target="drawn") and panel.settings.points == playground.DEFAULT_POINTS
    panel.clear_button.click()
    assert panel.points_text.value == "" and not any(t.value for t in panel.pad.values())
    panel.draw_button.click()  # nothing drawn: refused
    assert "no points" in panel.status.value and panel.settings.target == "drawn"
    assert panel.settings.points == playground.DEFAULT_POINTS
    for point in ((-3.0, 3.0), (3.0, 3.0), (0.0, -2.0), (3.0, 3.0)):  # the last click: undone
        panel.pad[point].value = not panel.pad[point].value
    assert panel.points_text.value == "-3, 3; 0, -2"
    assert "2</span> modes drawn" in panel.pad_info.value
    panel.points_text.value = "-3, 3; 0, -2; 1.5, 0.25"  # typed: off the pad's lattice
    assert panel.draft == ((-3.0, 3.0), (0.0, -2.0), (1.5, 0.25))
    panel.draw_button.click()
    assert panel.settings.points == panel.draft and "of 3" in panel.readout.value
    assert "training on them" in panel.pad_info.value
    panel.points_text.value = "1, 2; 3"  # a typo: the box shows the drawing as it was
    assert "modes box: points must be" in panel.status.value
    assert panel.points_text.value == "-3, 3; 0, -2; 1.5, 0.25"


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([], "no points"),
        ([(0.0, float("nan"))], "is not finite"),
        ([(9.0, 0.0)], "lies outside the view"),
        ([(i / 10, 0.0) for i in range(51)], "51 points is more than 50"),
        ([(1.0, 1.0), (1, 1)], "is given twice"),
        ("1, 2, 3", "points must be a list of (x, y) pairs"),
        ([(1.0, "a")], "points must be a list of (x, y) pairs"),
        (7, "points must be"),
    ],
    ids=["none", "nan", "outside", "too-many", "twice", "triple", "text", "number"],
)
def test_bad_drawn_points_are_refused_with_a_message(panel, points, message):
    before = panel.settings
    assert not panel.set_target_points(points)
    assert message in panel.status.value and "gancourse-error" in panel.status.value
    assert panel.settings == before and panel.trainer.settings.target == "ring"


def test_new_points_reset_only_on_the_drawn_target():
    drawn = Settings(target="drawn")
    moved = Settings(target="drawn", points=((1.0, 1.0),))
    assert playground.needs_new_players(drawn, moved)
    assert not playground.needs_new_players(Settings(), Settings(points=((1.0, 1.0),)))
    assert playground.settings_problem(moved) is None


def test_a_panel_can_start_on_a_drawn_target():
    panel = Playground(device="cpu", target="drawn", points=np.array([[1, 1], [-2, 0.5]]))
    assert panel.settings.points == ((1.0, 1.0), (-2.0, 0.5)) and "of 2" in panel.readout.value
    assert panel.pad[(1.0, 1.0)].value and panel.points_text.value == "1, 1; -2, 0.5"
    with pytest.raises(ValueError, match="no points"):
        Playground(device="cpu", target="drawn", points=[])
