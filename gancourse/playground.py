"""Instructor mode: a live GAN playground in JupyterLab, in the spirit of GAN Lab.

Kahng, Thorat, Chau, Viegas and Wattenberg 2018, "GAN Lab: Understanding Complex Deep
Generative Models using Interactive Visual Experimentation", arXiv 1809.01587: pick a target
and a game, press play, pause or step, and watch the real and generated samples, the
discriminator's value as a background heat map, the generator's gradient on its samples as
arrows, the losses and the modes covered, all updating as the players train.

Nothing here trains a GAN a second way. Each frame calls :func:`gancourse.train.gan_step`, the
body of :func:`gancourse.train.train_gan`'s loop, a few times; the players and optimisers are
``toy2d``'s (2D targets) and ``toy1d``'s (the 1D Gaussian), the games are ``losses``' and the
modes are counted by ``metrics.mode_coverage``. A 2D run with the non-saturating or a
Wasserstein game is exactly ``toy2d.train_toy2d`` with the same setup and seed (a test checks).

:class:`Playground` is the panel: show ``panel.widget``; ``panel.set(...)``, ``panel.step()``,
``panel.run(steps)`` and ``panel.reset()`` do what its controls do, so pytest and the
notebook's checks drive it without a browser. :class:`Trainer` is its headless core.
"""

from __future__ import annotations

import html
import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from typing import Any

import ipywidgets as widgets
import numpy as np
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor, nn

from . import config, losses, toy1d, toy2d
from .data import Gaussian1D, Mixture2D, mixture
from .metrics import ModeCoverage, mode_coverage
from .nets import sample_generator
from .train import History, StepStats, TrainingDiverged, gan_step, record_steps

TARGETS = {"ring": "ring of 8", "grid": "grid of 25", "gaussian1d": "1D Gaussian N(2, 0.5²)"}
GAN_GAMES = tuple(losses.GENERATOR_LOSSES)  # minimax, non_saturating, maximum_likelihood
WASSERSTEIN_GAMES = ("wgan_clip", "wgan_gp")
GAMES = (*GAN_GAMES, *WASSERSTEIN_GAMES)
GAME_LABELS = {
    "minimax": "minimax",
    "non_saturating": "non-saturating",
    "maximum_likelihood": "maximum likelihood",
    "wgan_clip": "Wasserstein, weight clipping",
    "wgan_gp": "Wasserstein, gradient penalty",
}

# The 2D players are the course's own. The GAN games use lesson 4's (toy2d.LESSON, the
# Unrolled GAN paper's mode-collapse setting: z in 256 dimensions, G 2 x 128 ReLU, D 1 x 128,
# Adam 0.001 with beta1 0.5) at batch 128, so that a frame with minibatch discrimination
# still takes well under half a second on one CPU thread. The Wasserstein games use lesson
# 6's (toy2d.WGAN_GP: z in 2 dimensions, G and critic 3 x 128, in units of the target's
# standard deviation), also at batch 128. Neither decays its learning rate: a live game has
# no planned end.
PLAYERS_2D = {
    "gan": replace(toy2d.LESSON, batch_size=128, lr_decay=False),
    "wasserstein": replace(toy2d.WGAN_GP, batch_size=128, lr_decay=False),
}
# Each game's learning rates and k, taken when a game that needs new players is picked (unless
# given in the same call): lessons 1 and 4's Adam at 0.001 with k = 1; WGAN's Algorithm 1
# (RMSProp at 5e-5, n_critic = 5) and WGAN-GP's toy setting (Adam at 0.001, n_critic = 5).
GAME_DEFAULTS: dict[str, dict[str, Any]] = {
    **{game: {"lr_d": 1e-3, "lr_g": 1e-3, "k": 1} for game in GAN_GAMES},
    "wgan_clip": {"lr_d": 5e-5, "lr_g": 5e-5, "k": 5},
    "wgan_gp": {"lr_d": 1e-3, "lr_g": 1e-3, "k": 5},
}
BATCH_1D = 128  # the 1D players are lesson 1's (toy1d.players)
# The plotting window: (x_min, x_max, y_min, y_max); the 1D target uses only x.
WINDOWS = {
    "ring": (-3.0, 3.0, -3.0, 3.0),
    "grid": (-6.0, 6.0, -6.0, 6.0),
    "gaussian1d": (-2.0, 5.0),
}
EVAL_SAMPLES = toy2d.EVAL_SAMPLES  # VEEGAN's 2,500 samples, from fixed noise
SHOWN_SAMPLES = 500  # real and generated points drawn
HEAT_RESOLUTION = 64  # heat-map cells per axis (2D) or points (x 4, 1D)
MAX_ARROWS = 64  # more hide each other
MAX_STEPS_PER_FRAME = 100  # the slider's end


@dataclass(frozen=True)
class Settings:
    """What an instructor chooses. ``k`` is Algorithm 1's discriminator (critic) steps per
    generator step; ``clip`` is WGAN's bound c (Arjovsky et al. 2017, arXiv 1701.07875) and
    ``gp_weight`` WGAN-GP's lambda (Gulrajani et al. 2017, arXiv 1704.00028), each used by its
    own game only; ``steps_per_frame`` generator steps make one frame (one press of Step)."""

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SETTING_NAMES = tuple(f.name for f in fields(Settings))
# Changing these builds new players (a reset); the others apply to the running game.
RESET_SETTINGS = ("target", "minibatch", "seed")


def _is_int(value: Any) -> bool:
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
    if not _is_int(value) or not low <= value <= high:
        return f"{name} must be a whole number from {low} to {high}, got {value!r}: {meaning}"
    return None


def settings_problem(settings: Settings) -> str | None:
    """What is wrong with ``settings`` and what to do instead, or None when they can run."""
    checks = [
        _choice_problem("target", settings.target, tuple(TARGETS)),
        _choice_problem("game", settings.game, GAMES),
        None
        if isinstance(settings.minibatch, bool)
        else f"minibatch must be True or False, got {settings.minibatch!r}",
        _number_problem("lr_d", settings.lr_d, 0.0, 1.0, "D's learning rate (0 freezes D)"),
        _number_problem("lr_g", settings.lr_g, 0.0, 1.0, "G's learning rate (0 freezes G)"),
        _count_problem("k", settings.k, 1, 100, "Algorithm 1 takes k >= 1 D steps per G step"),
        _count_problem(
            "steps_per_frame",
            settings.steps_per_frame,
            1,
            MAX_STEPS_PER_FRAME,
            "generator steps per frame",
        ),
        _number_problem("clip", settings.clip, 1e-6, 10.0, "WGAN's clipping bound c > 0"),
        _number_problem("gp_weight", settings.gp_weight, 0.0, 1e3, "WGAN-GP's lambda >= 0"),
        _count_problem("seed", settings.seed, 0, 2**31 - 1, "any non-negative integer"),
    ]
    for problem in checks:
        if problem is not None:
            return problem
    if settings.minibatch and settings.target == "gaussian1d":
        return (
            "minibatch discrimination is offered on the 2D targets (toy2d's minibatch D "
            "takes 2D points): untick it or pick the ring or the grid"
        )
    if settings.minibatch and settings.game in WASSERSTEIN_GAMES:
        return (
            f"minibatch discrimination goes with the GAN games, not {settings.game}: a "
            f"critic's score must depend on its own sample alone (the gradient penalty is "
            f"per sample). Untick minibatch, or pick minimax, non_saturating or "
            f"maximum_likelihood"
        )
    return None


def _family(game: str) -> str:
    return "wasserstein" if game in WASSERSTEIN_GAMES else "gan"


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
    D, seed, or a game with another optimiser or another meaning of D's output. Learning
    rates, k, c, lambda and a switch among the three GAN games apply on the fly."""
    if any(getattr(old, name) != getattr(new, name) for name in RESET_SETTINGS):
        return True
    return old.game != new.game and (
        _family(old.game) == "wasserstein" or _family(new.game) == "wasserstein"
    )


def toy2d_setup(settings: Settings) -> toy2d.Setup:
    """The ``toy2d.Setup`` of these settings: the ``PLAYERS_2D`` of the game's family with
    its k, learning rates and optimiser (RMSProp for weight clipping as in WGAN's Algorithm
    1; Adam with betas (0.5, 0.9) for WGAN-GP as its authors', (0.5, 0.999) for the GAN
    games as lessons 1 and 4)."""
    wasserstein = settings.game in WASSERSTEIN_GAMES
    return replace(
        PLAYERS_2D[_family(settings.game)],
        kind="minibatch" if settings.minibatch else "plain",
        game=settings.game if wasserstein else "gan",
        n_critic=settings.k,
        lr=settings.lr_d,
        lr_g=settings.lr_g,
        optimizer="rmsprop" if settings.game == "wgan_clip" else "adam",
        beta2=0.9 if settings.game == "wgan_gp" else 0.999,
        clip=settings.clip,
        gp_weight=settings.gp_weight,
    )


def game_arguments(settings: Settings, critic: nn.Module, unit: float) -> dict[str, Any]:
    """The keyword arguments of :func:`gancourse.train.gan_step` for ``settings.game``, from
    ``toy2d.game_arguments``, the wiring ``toy2d.train_toy2d`` trains with; the GAN games pass
    their generator cost by name."""
    g_loss = settings.game if settings.game in GAN_GAMES else "non_saturating"
    return toy2d.game_arguments(toy2d_setup(settings), critic, unit, g_loss=g_loss)


def minibatch_logits(
    discriminator: toy2d.MinibatchDiscriminator, points: Tensor, context: Tensor
) -> Tensor:
    """D's logit at each of ``points`` (P, 2) as if each point alone joined the batch
    ``context`` (N, 2): what minibatch discrimination (Salimans et al. 2016, arXiv
    1606.03498) says of one more sample among G's current batch. The same formula as
    ``nets.MinibatchDiscrimination``, o(x)_b = sum_j exp(-||M_x,b - M_j,b||_1) over the N
    others (divided by N when it averages), without the N x N pairs of the context itself, so
    a heat map of thousands of points costs one pass. Returns (P, 1)."""
    layer = discriminator.minibatch
    features, others = discriminator.features(points), discriminator.features(context)

    points_m, others_m = layer.kernel_points(features), layer.kernel_points(others)
    closeness = torch.exp(-torch.cdist(points_m, others_m, p=1)).sum(dim=2)
    if layer.average:
        closeness = closeness / len(context)
    return discriminator.out(torch.cat([features, closeness.T], dim=1))


def _unwrap_minibatch(
    discriminator: nn.Module,
) -> tuple[Callable[[Tensor], Tensor], toy2d.MinibatchDiscriminator] | None:
    """(the input scaling, the minibatch D) when ``discriminator`` has minibatch
    discrimination (``toy2d.players`` puts a ``Scale`` before it when standardising)."""
    if isinstance(discriminator, toy2d.MinibatchDiscriminator):
        return (lambda x: x), discriminator
    if isinstance(discriminator, nn.Sequential) and isinstance(
        discriminator[-1], toy2d.MinibatchDiscriminator
    ):
        return discriminator[:-1], discriminator[-1]
    return None


@dataclass
class FrameData:
    """What one frame shows: samples, D's surface, G's gradient and the figures so far."""

    real: np.ndarray  # (n, 2) real points; 1D: (n, 1)
    fake: np.ndarray  # (n, 2) or (n, 1) generated points, from fixed noise
    heat: np.ndarray  # D (sigmoid) or the critic's raw score: (R, R) over the window; 1D: (R,)
    heat_x: np.ndarray  # the 1D heat map's x; empty for 2D
    arrow_at: np.ndarray  # (a, 2) or (a, 1): the fakes that carry arrows
    arrows: np.ndarray  # -grad_x J(G) at those fakes, per sample: where G moves them
    coverage: ModeCoverage


class Trainer:
    """The playground's headless core: the players of ``settings``, trained a few
    :func:`gancourse.train.gan_step` iterations at a time, with their history and the mode
    coverage measured after each call of :meth:`advance`."""

    def __init__(self, settings: Settings, device: torch.device | str | None = None) -> None:
        problem = settings_problem(settings)
        if problem is not None:
            raise ValueError(problem)
        self.settings = settings
        self.device = torch.device(device) if device is not None else config.device()
        self.one_d = settings.target == "gaussian1d"
        self.history = History()
        self.coverage_steps: list[int] = []
        self.coverage: list[ModeCoverage] = []
        self.sample_means: list[float] = []
        self.samples_seen = 0  # real samples D has seen: k x batch per generator step
        self._real: np.ndarray | None = None
        self._build()
        self.measure()

    # --- building -----------------------------------------------------------------------
    def _build(self) -> None:
        s, device = self.settings, self.device
        self.setup = toy2d_setup(s)  # also the optimiser settings of the 1D players
        if self.one_d:
            self.target: Mixture2D | Gaussian1D = toy1d.TARGET
            config.seed_everything(s.seed)
            self.generator, self.discriminator = toy1d.players(device)
            self.latent_dim, self.batch_size, self.unit = 1, BATCH_1D, 1.0
            self.sample_data = lambda m: toy1d.TARGET.sample(m, device)
            self.sample_noise = toy1d.noise_sampler(device)
            self.means = np.array([[toy1d.TARGET.mean, 0.0]])
            self.mode_std = toy1d.TARGET.std
        else:
            target = mixture(s.target)
            self.target = target
            self.generator, self.discriminator = toy2d.seeded_players(
                target, self.setup, s.seed, device
            )
            self.latent_dim, self.batch_size = self.setup.latent_dim, self.setup.batch_size
            self.unit = target.coordinate_std if self.setup.standardize else 1.0
            self.sample_data = target.sampler(device)
            latent = self.latent_dim
            self.sample_noise = lambda m: torch.randn(m, latent, device=device)
            self.means, self.mode_std = target.means.numpy(), target.std
        self.opt_g, self.opt_d = toy2d.optimizers(self.setup, self.generator, self.discriminator)

    def apply(self, settings: Settings) -> None:
        """Take new learning rates, k, c, lambda, frame size or GAN game without a reset."""
        if needs_new_players(self.settings, settings):
            raise ValueError("these settings need new players: build a new Trainer")
        self.settings = settings
        self.setup = toy2d_setup(settings)
        for opt, lr in ((self.opt_d, settings.lr_d), (self.opt_g, settings.lr_g)):
            for group in opt.param_groups:
                group["lr"] = lr

    # --- training -----------------------------------------------------------------------
    @property
    def steps_done(self) -> int:
        return self.history.step[-1] if self.history.step else 0

    def advance(self, steps: int) -> None:
        """``steps`` iterations of Algorithm 1 (k D steps and one G step each), then measure.
        Raises :class:`gancourse.train.TrainingDiverged` with what to do if a loss blows up."""
        arguments = game_arguments(self.settings, self.discriminator, self.unit)
        stats: list[StepStats] = []
        for _ in range(steps):
            stats.append(
                gan_step(
                    self.generator,
                    self.discriminator,
                    sample_data=self.sample_data,
                    sample_noise=self.sample_noise,
                    opt_g=self.opt_g,
                    opt_d=self.opt_d,
                    batch_size=self.batch_size,
                    k=self.settings.k,
                    **arguments,
                )
            )
        self.samples_seen += steps * self.settings.k * self.batch_size
        record_steps(stats, self.history)
        self.measure()

    # --- measuring ----------------------------------------------------------------------
    def generated(self, n: int = EVAL_SAMPLES) -> np.ndarray:
        """``n`` samples of G from fixed noise (seed 1, as ``toy2d.evaluate``), shape (n, d)."""
        return sample_generator(self.generator, n, self.latent_dim, seed=1).numpy()

    def measure(self) -> ModeCoverage:
        """Modes captured, high-quality share and reverse KL of ``EVAL_SAMPLES`` samples
        (VEEGAN's and PacGAN's protocol, ``metrics.mode_coverage``). On the 1D Gaussian the
        one mode is N(2, 0.5^2) itself: high quality means within 3 std of its mean."""
        samples = self.generated()
        if not np.all(np.isfinite(samples)):
            raise TrainingDiverged(
                "the generator's samples are no longer finite: lower the learning rates or "
                "pick a more stable game, then press Reset"
            )
        self.sample_means.append(float(samples[:, 0].mean()))
        points = np.c_[samples, np.zeros(len(samples))] if self.one_d else samples
        coverage = mode_coverage(points, self.means, self.mode_std)
        self.coverage_steps.append(self.steps_done)
        self.coverage.append(coverage)
        return coverage

    def critic_values(self, points: Tensor, context: Tensor) -> Tensor:
        """D(x) (the sigmoid, GAN games) or the critic's raw score f(x) (Wasserstein) at
        ``points``; a minibatch D judges each point as one more sample of ``context``. Both go
        to the players' device first."""
        points, context = points.to(self.device), context.to(self.device)
        unwrapped = _unwrap_minibatch(self.discriminator)
        if unwrapped is None:
            out = self.discriminator(points)
        else:
            scale, inner = unwrapped
            out = minibatch_logits(inner, scale(points), scale(context))
        out = out.reshape(-1)
        return out if self.settings.game in WASSERSTEIN_GAMES else torch.sigmoid(out)

    def generator_gradient(self, fakes: Tensor) -> Tensor:
        """-grad_x J(G) at each generated sample x of the batch ``fakes``, per sample (the
        batch mean's gradient times N): the direction in which G's next step moves it. On the
        players' device, whatever device ``fakes`` comes from."""
        cost = game_arguments(self.settings, self.discriminator, self.unit)["g_loss"]
        cost = losses.generator_loss(cost) if isinstance(cost, str) else cost
        x = fakes.detach().to(self.device).clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(cost(self.discriminator(x)), x)
        return -grad * len(x)

    def frame_data(self) -> FrameData:
        """Everything one frame draws, from fixed noise and fixed real points, so that
        drawing never moves the random numbers training draws."""
        fake_all = self.generated()
        fake = torch.as_tensor(fake_all, device=self.device)
        context = fake[: self.batch_size]
        window = WINDOWS[self.settings.target]
        with torch.no_grad():
            if self.one_d:
                xs = np.linspace(window[0], window[1], 4 * HEAT_RESOLUTION)
                grid = torch.as_tensor(xs, dtype=torch.float32, device=self.device)[:, None]
                heat = self.critic_values(grid, context).cpu().numpy()
                real = np.empty((0, 1))
            else:
                xs = np.linspace(window[0], window[1], HEAT_RESOLUTION)
                ys = np.linspace(window[2], window[3], HEAT_RESOLUTION)
                gx, gy = np.meshgrid(xs, ys)
                grid = torch.as_tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
                values = self.critic_values(grid.to(self.device), context)
                heat = values.cpu().numpy().reshape(HEAT_RESOLUTION, HEAT_RESOLUTION)
                real = self._real_points()
                xs = np.empty(0)
        arrows = self.generator_gradient(context).cpu().numpy()
        count = min(MAX_ARROWS, len(context))
        return FrameData(
            real=real,
            fake=fake_all[:SHOWN_SAMPLES],
            heat=heat,
            heat_x=xs,
            arrow_at=fake_all[:count],
            arrows=arrows[:count],
            coverage=self.coverage[-1],
        )

    def _real_points(self) -> np.ndarray:
        """``SHOWN_SAMPLES`` real points, drawn once from their own generator."""
        if self._real is None:
            rng = config.rng(self.settings.seed + 12345)
            self._real = self.target.sample(SHOWN_SAMPLES, generator=rng).numpy()
        return self._real

    def gradient_size(self) -> float:
        """Mean length of G's per-sample gradient on a batch of its samples (fixed noise):
        near 0 when the game saturates."""
        fake = torch.as_tensor(self.generated(self.batch_size), device=self.device)
        return float(self.generator_gradient(fake).norm(dim=1).mean())


# --- drawing ------------------------------------------------------------------------------
GAN_CMAP = "PRGn"  # GAN Lab's colours: green where D says real, purple where it says fake
REAL_COLOUR, FAKE_COLOUR, ARROW_COLOUR = "#1b7837", "#762a83", "#e08214"
FIGSIZE, DPI = (10.5, 4.4), 80


def arrow_lengths(vectors: np.ndarray, window_width: float) -> np.ndarray:
    """Arrows to draw for gradients ``vectors``: same direction, length
    0.1 window x tanh(|g| / 0.1), so that strong gradients stay on screen and a saturated
    game's near-zero gradients shrink to nothing (the readout prints the true sizes)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    scale = 0.1 * window_width * np.tanh(norms / 0.1) / np.maximum(norms, 1e-12)
    return vectors * scale


class Renderer:
    """Draws frames into PNG bytes with matplotlib's Agg backend (no pyplot, no display).
    The figure and its artists are made once per target and updated in place each frame."""

    def __init__(self, target: str, wasserstein: bool) -> None:
        self.target, self.wasserstein = target, wasserstein
        self.one_d = target == "gaussian1d"
        self.figure = Figure(figsize=FIGSIZE, dpi=DPI)
        FigureCanvasAgg(self.figure)
        # fixed positions (figure fractions): no layout engine to rerun on every frame
        self.main = self.figure.add_axes((0.06, 0.12, 0.40, 0.80))
        self.colour_ax = self.figure.add_axes((0.475, 0.16, 0.012, 0.72))
        self.loss_ax = self.figure.add_axes((0.61, 0.62, 0.37, 0.30))
        self.mode_ax = self.figure.add_axes((0.61, 0.12, 0.37, 0.30))
        self.artists: dict[str, Any] = {}
        self._made = False

    def _make(self, frame: FrameData) -> None:
        window = WINDOWS[self.target]
        label = "critic f(x)" if self.wasserstein else "D(x)"
        norm = {} if self.wasserstein else {"vmin": 0.0, "vmax": 1.0}
        ax = self.main
        if self.one_d:
            p = toy1d.TARGET.pdf(frame.heat_x)
            top = self.top = 1.3 * p.max()
            self.artists["heat"] = ax.imshow(
                frame.heat[None, :],
                extent=(window[0], window[1], 0, 10 * top),  # the y limit follows G
                aspect="auto",
                origin="lower",
                cmap=GAN_CMAP,
                alpha=0.55,
                **norm,
            )
            ax.plot(frame.heat_x, p, color=REAL_COLOUR, lw=2.5, label=r"$p_{data}$")
            self.bins = np.linspace(window[0], window[1], 71)
            self.artists["fake"] = ax.stairs(
                np.zeros(70), self.bins, color=FAKE_COLOUR, lw=2, label="G's samples"
            )
            if not self.wasserstein:
                (self.artists["d_line"],) = ax.plot(
                    frame.heat_x, frame.heat, color="black", ls="--", lw=1.2, label="D(x)"
                )
            heights = 0.03 * top + 0.12 * top * np.linspace(0, 1, len(frame.arrow_at))
            self.arrow_heights = heights
            self.artists["arrows"] = ax.quiver(
                frame.arrow_at[:, 0],
                heights,
                np.zeros(len(heights)),
                np.zeros(len(heights)),
                color=ARROW_COLOUR,
                angles="xy",
                scale_units="xy",
                scale=1,
                width=0.003,
            )
            ylabel = "density" if self.wasserstein else "density / D(x)"
            ax.set(xlim=window, ylim=(0, top), xlabel="x", ylabel=ylabel)
            ax.legend(loc="upper left", fontsize=8)
        else:
            self.artists["heat"] = ax.imshow(
                frame.heat,
                extent=window,
                origin="lower",
                cmap=GAN_CMAP,
                alpha=0.75,
                interpolation="bilinear",
                **norm,
            )
            self.artists["real"] = ax.scatter(
                *frame.real.T, s=5, color=REAL_COLOUR, label="real", zorder=3
            )
            self.artists["fake"] = ax.scatter(
                *frame.fake.T, s=5, color=FAKE_COLOUR, label="generated", zorder=3
            )
            self.artists["arrows"] = ax.quiver(
                *frame.arrow_at.T,
                *np.zeros_like(frame.arrow_at).T,
                color=ARROW_COLOUR,
                angles="xy",
                scale_units="xy",
                scale=1,
                width=0.004,
                zorder=4,
            )
            ax.set(xlim=window[:2], ylim=window[2:], aspect="equal", xlabel="x1", ylabel="x2")
            ax.legend(loc="upper right", fontsize=8, markerscale=3, framealpha=0.8)
        self.figure.colorbar(self.artists["heat"], cax=self.colour_ax, label=label)
        (self.artists["d_loss"],) = self.loss_ax.plot([], [], color="tab:blue", label="D loss")
        (self.artists["g_loss"],) = self.loss_ax.plot([], [], color="tab:red", label="G loss")
        self.loss_ax.set(title="losses", xlabel="generator step")
        self.loss_ax.legend(loc="upper right", fontsize=8)
        (self.artists["modes"],) = self.mode_ax.plot([], [], color="black", marker=".")
        if self.one_d:
            self.mode_ax.axhline(toy1d.TARGET.mean, color=REAL_COLOUR, ls=":", label="data mean")
            self.mode_ax.set(title="mean of G's samples", xlabel="generator step", ylabel="mean")
            self.mode_ax.legend(loc="lower right", fontsize=8)
        else:
            modes = frame.coverage.modes
            self.mode_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            self.mode_ax.set(
                title="modes captured",
                xlabel="generator step",
                ylabel=f"of {modes}",
                ylim=(-0.5, modes + 0.5),
            )
        self._made = True

    def draw(self, frame: FrameData, trainer: Trainer, title: str) -> bytes:
        """One frame as PNG bytes."""
        if not self._made:
            self._make(frame)
        a = self.artists
        a["heat"].set_data(frame.heat[None, :] if self.one_d else frame.heat)
        if self.wasserstein:  # raw scores: the colour scale follows the surface
            low, high = np.percentile(frame.heat, [2, 98])
            a["heat"].set_clim(low, max(high, low + 1e-6))
        window = WINDOWS[self.target]
        width = window[1] - window[0]
        lengths = arrow_lengths(frame.arrows, width)
        if self.one_d:
            counts, _ = np.histogram(frame.fake[:, 0], bins=self.bins, density=False)
            density = counts / (len(frame.fake) * (self.bins[1] - self.bins[0]))
            a["fake"].set_data(density)
            self.main.set_ylim(0, min(max(self.top, 1.1 * density.max()), 6 * self.top))
            if "d_line" in a:
                a["d_line"].set_ydata(frame.heat)
            a["arrows"].set_offsets(np.c_[frame.arrow_at[:, 0], self.arrow_heights])
            a["arrows"].set_UVC(lengths[:, 0], np.zeros(len(lengths)))
            means = trainer.sample_means
        else:
            a["fake"].set_offsets(frame.fake)
            a["arrows"].set_offsets(frame.arrow_at)
            a["arrows"].set_UVC(lengths[:, 0], lengths[:, 1])
            means = [c.modes_captured for c in trainer.coverage]
        h = trainer.history
        a["d_loss"].set_data(h.step, h.d_loss)
        a["g_loss"].set_data(h.step, h.g_loss)
        a["modes"].set_data(trainer.coverage_steps, means)
        for ax in (self.loss_ax, self.mode_ax):
            ax.relim()
            ax.autoscale_view(scaley=ax is self.loss_ax or self.one_d)
        self.main.set_title(title, fontsize=10)
        return self._png()

    def _png(self) -> bytes:
        """Render with Agg and encode at PNG compression level 1: a few milliseconds."""
        canvas = self.figure.canvas
        canvas.draw()
        image = PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


# --- the panel ----------------------------------------------------------------------------
def _describe(trainer: Trainer, frame_ms: float | None) -> str:
    """The readout under the picture: counts a test can read (class names) and a person too."""
    c = trainer.coverage[-1]
    h = trainer.history
    losses_text = f"D loss {h.d_loss[-1]:.3f} · G loss {h.g_loss[-1]:.3f}" if h.step else ""
    if trainer.one_d:
        shape = f"mean of G's samples {trainer.sample_means[-1]:.2f} (data: 2.00)"
    else:
        shape = f"reverse KL {c.reverse_kl:.2f}"
    timing = "" if frame_ms is None else f" · last frame {frame_ms:.0f} ms"
    return (
        f"<div class='gancourse-readout'>G steps <b class='gancourse-steps'>"
        f"{trainer.steps_done:,}</b> · real samples seen <b class='gancourse-samples'>"
        f"{trainer.samples_seen:,}</b> · modes captured <b class='gancourse-modes'>"
        f"{c.modes_captured}</b> of {c.modes} · high quality {c.high_quality:.0%} · {shape}"
        f"<br>{losses_text}{timing}</div>"
    )


def _changes(old: Settings, new: Settings) -> str:
    changed = [
        f"{name} {getattr(old, name)} -> {getattr(new, name)}"
        for name in SETTING_NAMES
        if getattr(old, name) != getattr(new, name)
    ]
    return ", ".join(changed) or "nothing changed"


def _status(message: str, kind: str = "info") -> str:
    colour = {"info": "#333", "error": "#b00020", "ok": "#1b7837"}[kind]
    return (
        f"<div class='gancourse-status gancourse-{kind}' style='color:{colour}'>"
        f"{html.escape(message, quote=False)}</div>"
    )


class Playground:
    """The instructor's panel (after GAN Lab, Kahng et al. 2018, arXiv 1809.01587): controls,
    play / pause / step / reset, the live picture and a readout.

    Show ``panel.widget`` in a notebook. ``set(**settings)`` changes settings as the controls
    do (returns False and shows the reason in ``panel.status`` when a value is bad),
    ``step()`` trains one frame and draws it, ``run(steps)`` trains headlessly, ``reset()``
    starts again from the seed. Play is an ``ipywidgets.Play``: the browser's timer ticks and
    each tick runs :meth:`step` in the kernel, so no threads are needed.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        device: torch.device | str | None = None,
        interval_ms: int = 300,
        **changes: Any,
    ) -> None:
        settings = settings or Settings()
        settings = replace(settings, **with_game_defaults(settings, changes))
        problem = settings_problem(settings)
        if problem is not None:
            raise ValueError(problem)
        self.device = device
        self.settings = settings
        self.last_frame_ms: float | None = None
        self.frame_times: list[tuple[float, float]] = []  # (training ms, drawing ms)
        self._syncing = False
        self._last_tick_end = 0.0
        self._build_controls(interval_ms)
        self.reset()

    # --- controls -----------------------------------------------------------------------
    def _build_controls(self, interval_ms: int) -> None:
        s = self.settings
        short = widgets.Layout(width="190px")
        style = {"description_width": "72px"}
        self.controls: dict[str, widgets.Widget] = {
            "target": widgets.Dropdown(
                options=[(label, name) for name, label in TARGETS.items()],
                value=s.target,
                description="target",
                style=style,
                layout=widgets.Layout(width="250px"),
            ),
            "game": widgets.Dropdown(
                options=[(label, name) for name, label in GAME_LABELS.items()],
                value=s.game,
                description="game",
                style=style,
                layout=widgets.Layout(width="290px"),
            ),
            "minibatch": widgets.Checkbox(
                value=s.minibatch, description="minibatch discrimination", indent=False
            ),
            "lr_d": widgets.FloatText(value=s.lr_d, description="lr of D", style=style),
            "lr_g": widgets.FloatText(value=s.lr_g, description="lr of G", style=style),
            "k": widgets.IntText(value=s.k, description="k (D steps)", style=style),
            "steps_per_frame": widgets.IntSlider(
                value=s.steps_per_frame,
                min=1,
                max=MAX_STEPS_PER_FRAME,
                description="steps/frame",
                style={"description_width": "80px"},
                layout=widgets.Layout(width="300px"),
            ),
            "clip": widgets.FloatText(value=s.clip, description="clip c", style=style),
            "gp_weight": widgets.FloatText(value=s.gp_weight, description="GP λ", style=style),
            "seed": widgets.IntText(value=s.seed, description="seed", style=style),
        }
        for name, control in self.controls.items():
            if name not in ("target", "game", "minibatch", "steps_per_frame"):
                control.layout = short
            control.observe(partial(self._on_control, name), names="value")
        self.play = widgets.Play(
            value=0,
            min=0,
            max=10**9,
            interval=interval_ms,
            description="play",
            show_repeat=False,
            layout=widgets.Layout(width="110px"),  # play / pause, and stop
        )
        self.play.observe(self._on_tick, names="value")
        self.step_button = widgets.Button(
            description="Step", icon="step-forward", tooltip="train one frame and draw it"
        )
        self.reset_button = widgets.Button(
            description="Reset", icon="refresh", tooltip="new players from the seed"
        )
        self.step_button.on_click(lambda _: self._guarded(self.step))
        self.reset_button.on_click(lambda _: self._guarded(self.reset))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="840px"))
        self.readout = widgets.HTML()
        self.status = widgets.HTML()
        c = self.controls
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>GAN playground</b> (after GAN Lab, Kahng et al. 2018)"),
                widgets.HBox([c["target"], c["game"], c["minibatch"]]),
                widgets.HBox([c["lr_d"], c["lr_g"], c["k"], c["seed"]]),
                widgets.HBox([c["clip"], c["gp_weight"], c["steps_per_frame"]]),
                widgets.HBox([self.play, self.step_button, self.reset_button]),
                self.status,
                self.image,
                self.readout,
            ],
            layout=widgets.Layout(width="860px"),
        )
        self.widget.add_class("gancourse-playground")

    def _sync_controls(self) -> None:
        """Show the settings in force in the controls (after a refused value, say)."""
        self._syncing = True
        try:
            for name, control in self.controls.items():
                value = getattr(self.settings, name)
                if control.value != value:
                    control.value = value
        finally:
            self._syncing = False

    def _on_control(self, name: str, change: dict) -> None:
        if not self._syncing:
            self._guarded(lambda: self.set(**{name: change["new"]}))

    def _on_tick(self, change: dict) -> None:
        """A tick of the Play widget. Ticks that queued up while a slow frame ran arrive
        back to back; those are skipped, so pausing stops the picture at once."""
        if self._syncing or change["new"] <= change["old"]:
            return  # the stop button, or our own reset of the counter
        if time.perf_counter() - self._last_tick_end < 0.3 * self.play.interval / 1000:
            return
        self._guarded(self.step)
        self._last_tick_end = time.perf_counter()

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run a control's action; anything that goes wrong is a message in the panel."""
        try:
            action()
        except Exception as err:  # the panel must not leave a traceback in a live class
            self._stop(f"{type(err).__name__}: {err}")

    def _stop(self, message: str) -> None:
        self.play.playing = False
        self.status.value = _status(message, "error")

    # --- what the controls do -----------------------------------------------------------
    def set(self, **changes: Any) -> bool:
        """Change settings as the controls would. Learning rates, k, c, lambda, the frame
        size and a switch among the GAN games apply to the running game; a new target, D,
        seed or a switch to or from a Wasserstein game resets. A bad value changes nothing:
        the panel's status says what was wrong and what to do, and this returns False."""
        unknown = sorted(set(changes) - set(SETTING_NAMES))
        if unknown:
            self.status.value = _status(
                f"unknown setting {', '.join(unknown)}: choose from {', '.join(SETTING_NAMES)}",
                "error",
            )
            return False
        changes = {
            k: float(v) if k in ("lr_d", "lr_g") and _is_int(v) else v for k, v in changes.items()
        }
        new = replace(self.settings, **with_game_defaults(self.settings, changes))
        problem = settings_problem(new)
        if problem is not None:
            self._stop(problem)
            self._sync_controls()
            return False
        old, self.settings = self.settings, new
        self._sync_controls()
        if needs_new_players(old, new):
            self.reset()
            self.status.value = _status(f"new players from the seed: {_changes(old, new)}", "ok")
        else:
            self.trainer.apply(new)
            self.status.value = _status(f"applied to the running game: {_changes(old, new)}", "ok")
            self.redraw()
        return True

    def reset(self) -> None:
        """New players from the seed, an empty history, and the first picture."""
        self.trainer = Trainer(self.settings, self.device)
        self.renderer = Renderer(self.settings.target, self.settings.game in WASSERSTEIN_GAMES)
        self.last_frame_ms = None
        self.status.value = _status("ready: press Step, or play")
        self.redraw()

    def step(self) -> bool:
        """One frame: ``steps_per_frame`` generator steps, then draw. False (and a message
        in the panel, and play paused) if training diverged."""
        started = time.perf_counter()
        try:
            self.trainer.advance(self.settings.steps_per_frame)
        except TrainingDiverged as err:
            self._stop(f"{err} Press Reset to start again.")
            return False
        trained = time.perf_counter()
        self.redraw()
        drawn = time.perf_counter()
        self.frame_times.append((1e3 * (trained - started), 1e3 * (drawn - trained)))
        self.last_frame_ms = 1e3 * (drawn - started)
        self.readout.value = _describe(self.trainer, self.last_frame_ms)
        return True

    def run(self, steps: int, draw: bool = False) -> ModeCoverage:
        """Train ``steps`` generator steps headlessly, measuring every ``steps_per_frame``
        as playing would; draw only at the end (when ``draw``). Returns the last coverage.
        Raises :class:`gancourse.train.TrainingDiverged` if a loss blows up."""
        if not _is_int(steps) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
        left = steps
        while left > 0:
            chunk = min(left, self.settings.steps_per_frame)
            self.trainer.advance(chunk)
            left -= chunk
        if draw:
            self.redraw()
        else:
            self.readout.value = _describe(self.trainer, None)
        return self.trainer.coverage[-1]

    def redraw(self) -> None:
        """Draw the current state into the picture and the readout."""
        s = self.settings
        title = (
            f"{TARGETS[s.target]} · {GAME_LABELS[s.game]}"
            f"{' · minibatch D' if s.minibatch else ''} · step {self.trainer.steps_done}"
        )
        self.image.value = self.renderer.draw(self.trainer.frame_data(), self.trainer, title)
        self.readout.value = _describe(self.trainer, self.last_frame_ms)

    # --- what the notebook reads ----------------------------------------------------------
    @property
    def png(self) -> bytes:
        """The picture last drawn, as PNG bytes (``IPython.display.Image(panel.png)``)."""
        return bytes(self.image.value)

    @property
    def history(self) -> History:
        return self.trainer.history

    @property
    def coverage(self) -> ModeCoverage:
        return self.trainer.coverage[-1]

    def gradient_size(self) -> float:
        """Mean length of G's gradient on its samples, per sample (``Trainer.gradient_size``)."""
        return self.trainer.gradient_size()
