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
"""

from .core import EVAL_SAMPLES, WINDOWS, FrameData, Trainer, minibatch_logits
from .panel import Playground
from .render import Renderer, Renderer1D, Renderer2D, arrow_lengths, renderer
from .settings import (
    GAME_DEFAULTS,
    GAME_LABELS,
    GAMES,
    GAN_GAMES,
    MAX_STEPS_PER_FRAME,
    PLAYGROUND_1D,
    RESET_SETTINGS,
    SETTING_NAMES,
    TARGETS,
    WASSERSTEIN_GAMES,
    Settings,
    needs_new_players,
    settings_problem,
    with_game_defaults,
)

__all__ = [
    "EVAL_SAMPLES",
    "GAMES",
    "GAME_DEFAULTS",
    "GAME_LABELS",
    "GAN_GAMES",
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
    "minibatch_logits",
    "needs_new_players",
    "renderer",
    "settings_problem",
    "with_game_defaults",
]
