"""Instructor mode: a live GAN playground in JupyterLab, in the spirit of GAN Lab.

Kahng, Thorat, Chau, Viegas and Wattenberg 2018, "GAN Lab: Understanding Complex Deep
Generative Models using Interactive Visual Experimentation", arXiv 1809.01587: pick a target
and a game, press play, pause or step, and watch the real and generated samples, the
discriminator's value as a background heat map, the generator's gradient on its samples as
arrows, the losses and the modes covered, all updating as the players train.

Nothing here trains a GAN a second way. The settings are a recipe (``Settings.recipe()``), the
players, game and samplers are ``recipes.build``'s, and each frame calls
:func:`gancourse.train.gan_step`, the body of :func:`gancourse.train.train_gan`'s loop, a few
times; the modes are counted by ``metrics.mode_coverage``. A run is exactly ``recipes.build``
and ``recipes.train`` of the same recipe and seed (a test checks).

- :mod:`.settings`: what an instructor chooses, and what is wrong with a choice;
- :mod:`.core`: :class:`Trainer`, the headless core, and what a frame shows;
- :mod:`.render`: the picture, one renderer for the 2D targets and one for the 1D Gaussian;
- :mod:`.panel`: :class:`Playground`, the ipywidgets panel. Show ``panel.widget``;
  ``panel.set(...)``, ``panel.step()``, ``panel.run(steps)`` and ``panel.reset()`` do what its
  controls do, so pytest and the notebook's checks drive it without a browser.

Three views from GAN Lab on top: ``panel.show_manifold(True)`` (the checkbox) draws G's warp
of a lattice of z; ``panel.half_step()`` (the Half step button) is slow motion, D's k updates
then, at the next press, G's update, the halves of ``train.gan_step`` (``Trainer.d_half_step``
and ``Trainer.g_half_step``: a test checks they are one ``gan_step`` bit for bit); and
``panel.set_target_points([(x, y), ...])`` (the drawing pad) trains on a target drawn as
points, an equal-weight mixture of Gaussians of std ``DRAWN_STD`` there.
"""

from .core import (
    EVAL_SAMPLES,
    MANIFOLD_SIDE,
    WINDOWS,
    FrameData,
    Trainer,
    drawn_mixture,
    latent_lattice,
    manifold_scale,
    minibatch_logits,
)
from .panel import Playground
from .render import Renderer, Renderer1D, Renderer2D, arrow_lengths, renderer
from .settings import (
    DEFAULT_POINTS,
    DRAW_LIMIT,
    DRAWN_STD,
    GAME_DEFAULTS,
    GAME_LABELS,
    GAMES,
    GAN_GAMES,
    MAX_POINTS,
    MAX_STEPS_PER_FRAME,
    PLAYGROUND_1D,
    RESET_SETTINGS,
    SETTING_NAMES,
    TARGETS,
    WASSERSTEIN_GAMES,
    Settings,
    as_points,
    needs_new_players,
    points_problem,
    settings_problem,
    with_game_defaults,
)

__all__ = [
    "DEFAULT_POINTS",
    "DRAWN_STD",
    "DRAW_LIMIT",
    "EVAL_SAMPLES",
    "GAMES",
    "GAME_DEFAULTS",
    "GAME_LABELS",
    "GAN_GAMES",
    "MANIFOLD_SIDE",
    "MAX_POINTS",
    "MAX_STEPS_PER_FRAME",
    "PLAYGROUND_1D",
    "RESET_SETTINGS",
    "SETTING_NAMES",
    "TARGETS",
    "WASSERSTEIN_GAMES",
    "WINDOWS",
    "FrameData",
    "Playground",
    "Renderer",
    "Renderer1D",
    "Renderer2D",
    "Settings",
    "Trainer",
    "arrow_lengths",
    "as_points",
    "drawn_mixture",
    "latent_lattice",
    "manifold_scale",
    "minibatch_logits",
    "needs_new_players",
    "points_problem",
    "renderer",
    "settings_problem",
    "with_game_defaults",
]
