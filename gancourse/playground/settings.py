"""What an instructor chooses in the playground (:class:`Settings`), what is wrong with a
choice (:func:`settings_problem`), and which changes need new players.

A :class:`Settings` is a small view over a :class:`gancourse.recipes.Recipe`:
:meth:`Settings.recipe` is the recipe it trains, so the playground has no configuration of its
own to translate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from ..recipes import PLAYGROUND_1D, PLAYGROUND_GAN, PLAYGROUND_WASSERSTEIN, Recipe

TARGETS = {
    "ring": "ring of 8",
    "grid": "grid of 25",
    "gaussian1d": "1D Gaussian N(2, 0.5²)",
    "drawn": "drawn modes (click them)",
}
# The drawn target: an equal-weight mixture of 2D Gaussians of the grid's std at the points
# the instructor places, each coordinate within DRAW_LIMIT (the view is -5 to 5), at most
# MAX_POINTS of them. The default, until something is drawn, is a triangle of three modes.
DRAWN_STD = 0.05
DRAW_LIMIT = 4.5
MAX_POINTS = 50
DEFAULT_POINTS: tuple[tuple[float, float], ...] = ((-2.0, -1.0), (2.0, -1.0), (0.0, 2.0))
Points = tuple[tuple[float, float], ...]
GAN_GAMES = ("minimax", "non_saturating", "maximum_likelihood")
WASSERSTEIN_GAMES = ("wgan_clip", "wgan_gp")
GAMES = (*GAN_GAMES, *WASSERSTEIN_GAMES)  # the names of games.GAMES the panel offers
GAME_LABELS = {
    "minimax": "minimax",
    "non_saturating": "non-saturating",
    "maximum_likelihood": "maximum likelihood",
    "wgan_clip": "Wasserstein, weight clipping",
    "wgan_gp": "Wasserstein, gradient penalty",
}
# Each game's learning rates and k, taken when a game that needs new players is picked (unless
# given in the same call): lessons 1 and 4's Adam at 0.001 with k = 1; WGAN's Algorithm 1
# (RMSProp at 5e-5, n_critic = 5) and WGAN-GP's toy setting (Adam at 0.001, n_critic = 5).
GAME_DEFAULTS: dict[str, dict[str, Any]] = {
    **{game: {"lr_d": 1e-3, "lr_g": 1e-3, "k": 1} for game in GAN_GAMES},
    "wgan_clip": {"lr_d": 5e-5, "lr_g": 5e-5, "k": 5},
    "wgan_gp": {"lr_d": 1e-3, "lr_g": 1e-3, "k": 5},
}
MAX_STEPS_PER_FRAME = 100  # the slider's end
# k times steps_per_frame: a frame runs in one go, with the kernel busy (Pause acts between
# frames), so a frame must stay short enough to stop
MAX_D_STEPS_PER_FRAME = 500


@dataclass(frozen=True)
class Settings:
    """What an instructor chooses. ``k`` is Algorithm 1's discriminator (critic) steps per
    generator step; ``clip`` is WGAN's bound c (Arjovsky et al. 2017, arXiv 1701.07875) and
    ``gp_weight`` WGAN-GP's lambda (Gulrajani et al. 2017, arXiv 1704.00028), each used by its
    own game only; ``steps_per_frame`` generator steps make one frame (one press of Step).
    ``points`` are the modes of the ``"drawn"`` target (other targets ignore them)."""

    target: str = "ring"
    game: str = "non_saturating"
    minibatch: bool = False
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    k: int = 1
    steps_per_frame: int = 10
    clip: float = 0.01
    gp_weight: float = 0.1
    seed: int = 0
    points: Points = DEFAULT_POINTS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def recipe(self) -> Recipe:
        """The recipe these settings train: lesson 1's players on the 1D Gaussian, lesson 4's
        (``PLAYGROUND_GAN``) for the GAN games and lesson 6's (``PLAYGROUND_WASSERSTEIN``) for
        the Wasserstein games on the ring and the grid; RMSProp for weight clipping as in
        WGAN's Algorithm 1, Adam with betas (0.5, 0.9) for WGAN-GP as its authors', (0.5,
        0.999) for the GAN games as lessons 1 and 4."""
        if self.target == "gaussian1d":
            base = PLAYGROUND_1D
        else:
            base = PLAYGROUND_WASSERSTEIN if self.game in WASSERSTEIN_GAMES else PLAYGROUND_GAN
        return replace(
            base,
            d_kind="minibatch" if self.minibatch else "plain",
            game=self.game,
            n_critic=self.k,
            lr_d=self.lr_d,
            lr_g=self.lr_g,
            optimizer="rmsprop" if self.game == "wgan_clip" else "adam",
            beta2=0.9 if self.game == "wgan_gp" else 0.999,
            clip=self.clip,
            gp_weight=self.gp_weight,
        )


SETTING_NAMES = tuple(f.name for f in fields(Settings))
# Changing these builds new players (a reset); the others apply to the running game.
RESET_SETTINGS = ("target", "minibatch", "seed")


def is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _choice_problem(name: str, value: Any, choices: tuple[str, ...]) -> str | None:
    if value in choices:
        return None
    return f"unknown {name} {value!r}: choose one of {', '.join(choices)}"


def _number_problem(name: str, value: Any, low: float, high: float, meaning: str) -> str | None:
    if not _is_number(value) or not math.isfinite(value):
        return f"{name} must be a number, got {value!r}"
    if not low <= value <= high:
        return f"{name} must lie between {low:g} and {high:g}, got {value!r}: {meaning}"
    return None


def _count_problem(name: str, value: Any, low: int, high: int, meaning: str) -> str | None:
    if not is_int(value) or not low <= value <= high:
        return f"{name} must be a whole number from {low} to {high}, got {value!r}: {meaning}"
    return None


def as_points(value: Any) -> Points | Any:
    """``value`` (a sequence of (x, y) pairs, a (K, 2) array, or a string "x, y; x, y") as a
    tuple of float pairs; anything that does not have that shape comes back unchanged, for
    :func:`points_problem` to name."""
    if isinstance(value, str):
        try:
            value = [
                tuple(float(c) for c in pair.split(","))
                for pair in value.replace("\n", ";").split(";")
                if pair.strip()
            ]
        except ValueError:
            return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        return value
    pairs = []
    for pair in value:
        if isinstance(pair, np.ndarray):
            pair = pair.tolist()
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(map(_is_number, pair)):
            return value
        pairs.append((float(pair[0]), float(pair[1])))
    return tuple(pairs)


def format_points(points: Points) -> str:
    """``points`` as the points control shows them: "x, y; x, y"."""
    return "; ".join(f"{x:g}, {y:g}" for x, y in points)


def points_problem(points: Any) -> str | None:
    """What is wrong with the drawn target's ``points``, or None when they make a target."""
    shape = "a list of (x, y) pairs, as 'x, y; x, y' in the points box"
    if not isinstance(points, tuple) or not all(
        isinstance(p, tuple) and len(p) == 2 and all(map(_is_number, p)) for p in points
    ):
        return f"points must be {shape}, got {points!r}"
    if not points:
        return "no points: click at least one mode on the drawing pad, or type x, y"
    if len(points) > MAX_POINTS:
        return f"{len(points)} points is more than {MAX_POINTS}: draw fewer modes"
    for x, y in points:
        if not (math.isfinite(x) and math.isfinite(y)):
            return f"point ({x}, {y}) is not finite: give numbers"
        if abs(x) > DRAW_LIMIT or abs(y) > DRAW_LIMIT:
            return (
                f"point ({x:g}, {y:g}) lies outside the view: each coordinate must lie between "
                f"{-DRAW_LIMIT:g} and {DRAW_LIMIT:g}"
            )
    if len(set(points)) < len(points):
        twice = next(p for p in points if points.count(p) > 1)
        return f"point ({twice[0]:g}, {twice[1]:g}) is given twice: each mode once"
    return None


def settings_problem(settings: Settings) -> str | None:
    """What is wrong with ``settings`` and what to do instead, or None when they can run."""
    s = settings
    checks = [
        _choice_problem("target", s.target, tuple(TARGETS)),
        _choice_problem("game", s.game, GAMES),
        None
        if isinstance(s.minibatch, bool)
        else f"minibatch must be True or False, got {s.minibatch!r}",
        _number_problem("lr_d", s.lr_d, 0.0, 1.0, "D's learning rate (0 freezes D)"),
        _number_problem("lr_g", s.lr_g, 0.0, 1.0, "G's learning rate (0 freezes G)"),
        _count_problem("k", s.k, 1, 100, "Algorithm 1 takes k >= 1 D steps per G step"),
        _count_problem(
            "steps_per_frame",
            s.steps_per_frame,
            1,
            MAX_STEPS_PER_FRAME,
            "generator steps per frame",
        ),
        _number_problem("clip", s.clip, 1e-6, 10.0, "WGAN's clipping bound c > 0"),
        _number_problem("gp_weight", s.gp_weight, 0.0, 1e3, "WGAN-GP's lambda >= 0"),
        _count_problem("seed", s.seed, 0, 2**31 - 1, "any non-negative integer"),
        points_problem(s.points),
    ]
    if isinstance(s.k, int) and isinstance(s.steps_per_frame, int):
        d_steps = s.k * s.steps_per_frame
        if d_steps > MAX_D_STEPS_PER_FRAME:
            checks.append(
                f"k = {s.k} with {s.steps_per_frame} steps per frame is {d_steps:,} D steps a "
                f"frame, more than {MAX_D_STEPS_PER_FRAME}: a frame that long blocks the "
                f"notebook (Pause acts between frames). Lower k or steps_per_frame"
            )
    if s.minibatch and s.target == "gaussian1d":
        checks.append(
            "minibatch discrimination is offered on the 2D targets (the minibatch D takes 2D "
            "points): untick it or pick the ring or the grid"
        )
    if s.minibatch and s.game in WASSERSTEIN_GAMES:
        checks.append(
            f"minibatch discrimination goes with the GAN games, not {s.game}: a critic's score "
            f"must depend on its own sample alone (the gradient penalty is per sample). Untick "
            f"minibatch, or pick minimax, non_saturating or maximum_likelihood"
        )
    return next((problem for problem in checks if problem is not None), None)


def with_game_defaults(settings: Settings, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` to ``settings`` plus the new game's ``GAME_DEFAULTS`` for whatever they do
    not give, when they pick a game that needs new players (any change but one among the
    three GAN games, whose rates carry over)."""
    game = changes.get("game")
    if game not in GAMES or game == settings.game or {game, settings.game} <= set(GAN_GAMES):
        return changes
    return {**GAME_DEFAULTS[game], **changes}


def needs_new_players(old: Settings, new: Settings) -> bool:
    """True when going from ``old`` to ``new`` needs fresh players (a reset): another target,
    D, seed, other drawn points (on the drawn target), or a game with another optimiser or
    another meaning of D's output. Learning rates, k, c, lambda and a switch among the three
    GAN games apply on the fly."""
    if any(getattr(old, name) != getattr(new, name) for name in RESET_SETTINGS):
        return True
    if new.target == "drawn" and old.points != new.points:
        return True
    return old.game != new.game and bool({old.game, new.game} & set(WASSERSTEIN_GAMES))
