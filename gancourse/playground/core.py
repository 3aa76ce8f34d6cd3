"""The playground's headless core: the players of some :class:`~.settings.Settings`, trained
a frame at a time (:class:`Trainer`), and what each frame shows (:class:`FrameData`).

The players, optimisers, game and samplers are ``recipes.build`` of ``settings.recipe()``, and
each frame is a few calls of ``train.gan_step``: a run in the playground is that recipe's run
(a test checks). Frames draw their noise and real points from generators of their own, so
drawing never moves the random numbers training draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import config, recipes
from ..games import WithPlayers, generator_cost
from ..metrics import ModeCoverage, mode_coverage
from ..nets import MinibatchDiscriminator, sample_generator
from ..toy2d import EVAL_SAMPLES  # VEEGAN's 2,500 samples, from fixed noise
from ..train import History, TrainingDiverged, gan_step, record_steps, set_learning_rates
from .settings import Settings, needs_new_players, settings_problem

# The plotting window: (x_min, x_max, y_min, y_max); the 1D target uses only x.
WINDOWS = {
    "ring": (-3.0, 3.0, -3.0, 3.0),
    "grid": (-6.0, 6.0, -6.0, 6.0),
    "gaussian1d": (-2.0, 5.0),
}
SHOWN_SAMPLES = 500  # real and generated points drawn
HEAT_RESOLUTION = 64  # heat-map cells per axis (2D) or points (x 4, 1D)
MAX_ARROWS = 64  # more hide each other


def minibatch_logits(
    discriminator: MinibatchDiscriminator, points: Tensor, context: Tensor
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


@dataclass
class FrameData:
    """What one frame shows: samples, D's surface, G's gradient and the figures so far."""

    real: np.ndarray  # (n, 2) real points; 1D: (0, 1), the density is drawn instead
    fake: np.ndarray  # (n, 2) or (n, 1) generated points, from fixed noise
    heat: np.ndarray  # D (sigmoid) or the critic's raw score: (R, R) over the window; 1D: (R,)
    heat_x: np.ndarray  # the 1D heat map's x; empty for 2D
    arrow_at: np.ndarray  # (a, 2) or (a, 1): the fakes that carry arrows
    arrows: np.ndarray  # -grad_x J(G) at those fakes, per sample: where G moves them
    coverage: ModeCoverage


class Trainer(WithPlayers):
    """The playground's headless core: the players of ``settings`` (``recipes.build`` of
    ``settings.recipe()``), trained a few :func:`gancourse.train.gan_step` iterations at a
    time, with their history and the mode coverage measured after each :meth:`advance`."""

    def __init__(self, settings: Settings, device: torch.device | str | None = None) -> None:
        problem = settings_problem(settings)
        if problem is not None:
            raise ValueError(problem)
        self.settings = settings
        self.device = config.device(device)  # checked: 'gpu', or cuda on a CPU machine, is refused
        self.one_d = settings.target == "gaussian1d"
        recipe = settings.recipe()
        run = recipes.build(recipe, settings.target, settings.seed, self.device)
        self.players, self.game = run.players, run.game
        self.sample_data, self.sample_noise = run.sample_data, run.sample_noise
        self.batch_size, self.latent_dim = recipe.batch_size, recipes.latent_dim(recipe)
        self.target = target = recipes.target_named(settings.target)
        # the gradient penalty's unit of distance: the target's spread for standardised players
        self.unit = target.coordinate_std if recipe.standardize else 1.0
        if self.one_d:  # one mode, N(2, 0.5^2), on the x axis of the 2D mode metrics
            self.means, self.mode_std = np.array([[target.mean, 0.0]]), target.std
        else:
            self.means, self.mode_std = target.means.numpy(), target.std
        self.history = History()
        self.coverage_steps: list[int] = []
        self.coverage: list[ModeCoverage] = []
        self.sample_means: list[float] = []
        self.samples_seen = 0  # real samples D has seen: k x batch per generator step
        self._real: np.ndarray | None = None
        self.measure()

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        return self.players.opt_g

    @property
    def opt_d(self) -> torch.optim.Optimizer:
        return self.players.opt_d

    def apply(self, settings: Settings) -> None:
        """Take new learning rates, k, c, lambda, frame size or GAN game without a reset: the
        optimisers' rates are set and the game is made again (``recipes.game_of``)."""
        if needs_new_players(self.settings, settings):
            raise ValueError("these settings need new players: build a new Trainer")
        self.settings, recipe = settings, settings.recipe()
        set_learning_rates([self.opt_d, self.opt_g], [[recipe.lr_d], [recipe.lr_g]], 1.0)
        self.game = recipes.game_of(recipe, self.unit)

    # --- training -----------------------------------------------------------------------
    @property
    def steps_done(self) -> int:
        return self.history.step[-1] if self.history.step else 0

    def advance(self, steps: int) -> None:
        """``steps`` iterations of Algorithm 1 (k D steps and one G step each), then measure.
        Raises :class:`gancourse.train.TrainingDiverged` with what to do if a loss blows up."""
        k = self.settings.k
        stats = [
            gan_step(
                self.players, self.game, self.sample_data, self.sample_noise, self.batch_size, k
            )
            for _ in range(steps)
        ]
        self.samples_seen += steps * k * self.batch_size
        record_steps(stats, self.history)
        self.measure()

    # --- measuring ----------------------------------------------------------------------
    def generated(self, n: int = EVAL_SAMPLES) -> np.ndarray:
        """``n`` samples of G from fixed noise (seed 1, as ``toy2d.evaluate``), shape (n, d)."""
        return sample_generator(self.generator, n, seed=1, latent_dim=self.latent_dim).numpy()

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
        # (a minibatch D is never standardised here: only PLAYGROUND_WASSERSTEIN's players are)
        if isinstance(self.discriminator, MinibatchDiscriminator):
            out = minibatch_logits(self.discriminator, points, context)
        else:
            out = self.discriminator(points)
        out = out.reshape(-1)
        return out if self.game.scores else torch.sigmoid(out)

    def generator_gradient(self, fakes: Tensor) -> Tensor:
        """-grad_x J(G) at each generated sample x of the batch ``fakes``, per sample (the
        batch mean's gradient times N): the direction in which G's next step moves it. On the
        players' device, whatever device ``fakes`` comes from."""
        cost = generator_cost(self.game)
        x = fakes.detach().to(self.device).clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(cost(self.discriminator(x)), x)
        return -grad * len(x)

    def frame_data(self) -> FrameData:
        """Everything one frame draws, from fixed noise and fixed real points, so that
        drawing never moves the random numbers training draws."""
        fake_all = self.generated()
        context = torch.as_tensor(fake_all, device=self.device)[: self.batch_size]
        window = WINDOWS[self.settings.target]
        if self.one_d:
            xs = np.linspace(window[0], window[1], 4 * HEAT_RESOLUTION)
            grid, shape = xs[:, None], (len(xs),)
        else:
            xs = np.linspace(window[0], window[1], HEAT_RESOLUTION)
            gx, gy = np.meshgrid(xs, np.linspace(window[2], window[3], HEAT_RESOLUTION))
            grid, shape = np.c_[gx.ravel(), gy.ravel()], (HEAT_RESOLUTION, HEAT_RESOLUTION)
        with torch.no_grad():
            values = self.critic_values(torch.as_tensor(grid, dtype=torch.float32), context)
        arrows = self.generator_gradient(context).cpu().numpy()
        count = min(MAX_ARROWS, len(context))
        return FrameData(
            real=self._real_points(),
            fake=fake_all[:SHOWN_SAMPLES],
            heat=values.cpu().numpy().reshape(shape),
            heat_x=xs if self.one_d else np.empty(0),
            arrow_at=fake_all[:count],
            arrows=arrows[:count],
            coverage=self.coverage[-1],
        )

    def _real_points(self) -> np.ndarray:
        """``SHOWN_SAMPLES`` real points, drawn once from their own generator (2D targets)."""
        if self.one_d:
            return np.empty((0, 1))
        if self._real is None:
            rng = config.rng(self.settings.seed + 12345)
            self._real = self.target.sample(SHOWN_SAMPLES, generator=rng).numpy()
        return self._real

    def gradient_size(self) -> float:
        """Mean length of G's per-sample gradient on a batch of its samples (fixed noise):
        near 0 when the game saturates."""
        fake = torch.as_tensor(self.generated(self.batch_size), device=self.device)
        return float(self.generator_gradient(fake).norm(dim=1).mean())
