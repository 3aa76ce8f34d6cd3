"""The playground's headless core: the players of some :class:`~.settings.Settings`, trained
a frame at a time (:class:`Trainer`), and what each frame shows (:class:`FrameData`).

The players, optimisers, game and samplers are ``recipes.build`` of ``settings.recipe()``, and
each frame is a few calls of ``train.gan_step``: a run in the playground is that recipe's run
(a test checks). Frames draw their noise and real points from generators of their own, so
drawing never moves the random numbers training draws.

Slow motion splits one iteration in two: :meth:`Trainer.d_half_step` is the k discriminator
updates of ``train.gan_step`` and :meth:`Trainer.g_half_step` its generator update, the same
calls in the same order (a test checks that the two halves leave the players, their
optimisers and the random state bit for bit as one ``gan_step``). :meth:`Trainer.manifold` is
G applied to a lattice of latent points, for the picture's view of how G warps z.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch
from torch import Tensor

from .. import config, recipes
from ..data import Mixture2D
from ..games import DSideResult, WithPlayers, generator_cost
from ..metrics import ModeCoverage, mode_coverage
from ..nets import MinibatchDiscriminator, sample_generator
from ..toy2d import EVAL_SAMPLES  # VEEGAN's 2,500 samples, from fixed noise
from ..train import (
    History,
    StepStats,
    TrainingDiverged,
    gan_step,
    record_steps,
    set_learning_rates,
)
from .settings import DRAWN_STD, Points, Settings, needs_new_players, settings_problem

# The plotting window: (x_min, x_max, y_min, y_max); the 1D target uses only x.
WINDOWS = {
    "ring": (-3.0, 3.0, -3.0, 3.0),
    "grid": (-6.0, 6.0, -6.0, 6.0),
    "gaussian1d": (-2.0, 5.0),
    "drawn": (-5.0, 5.0, -5.0, 5.0),
}
SHOWN_SAMPLES = 500  # real and generated points drawn
HEAT_RESOLUTION = 64  # heat-map cells per axis (2D) or points (x 4, 1D)
MAX_ARROWS = 64  # more hide each other
# The manifold view: G of a MANIFOLD_SIDE x MANIFOLD_SIDE lattice in the plane of z's first two
# coordinates, the others 0, over [-2, 2]^2 times manifold_scale (2D targets); on the 1D
# target, G of MANIFOLD_SIDE values of z at equal-probability steps of N(0, 1) (lesson 1's
# Figure 1).
MANIFOLD_SIDE = 15
MANIFOLD_RANGE = 2.0


def manifold_scale(latent_dim: int) -> float:
    """sqrt(d / 2): the 2D lattice's unit in a d-dimensional z. z ~ N(0, I_d) has length about
    sqrt(d), so a plane through 0 reaches points of that length only this far out: with d = 256
    the lattice spans +-22.6 and G's image of it is as wide as G's samples, where +-2 (z's own
    scale per coordinate) gives a patch a tenth as wide near G(0). 1 for a 2D z."""
    return float(np.sqrt(max(latent_dim, 2) / 2))


def drawn_mixture(points: Points) -> Mixture2D:
    """The drawn target: an equal-weight mixture of N(point, DRAWN_STD^2 I) over ``points``."""
    return Mixture2D("drawn", torch.tensor(points, dtype=torch.float32), DRAWN_STD)


def latent_lattice(latent_dim: int) -> np.ndarray:
    """The manifold view's latent points. ``latent_dim`` 1: MANIFOLD_SIDE quantiles of N(0, 1)
    at equal steps of probability, shape (S, 1), so equal shares of G's mass lie between
    neighbours. Otherwise: a regular S x S lattice over [-r, r]^2 in the first two coordinates,
    r = MANIFOLD_RANGE x :func:`manifold_scale`, the other coordinates 0, shape
    (S, S, latent_dim); row i has z2 fixed, column j z1 fixed."""
    side = MANIFOLD_SIDE
    if latent_dim == 1:
        normal = NormalDist()
        return np.array([[normal.inv_cdf((i + 0.5) / side)] for i in range(side)])
    reach = MANIFOLD_RANGE * manifold_scale(latent_dim)
    axis = np.linspace(-reach, reach, side)
    z1, z2 = np.meshgrid(axis, axis)
    lattice = np.zeros((side, side, latent_dim))
    lattice[..., 0], lattice[..., 1] = z1, z2
    return lattice


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
    # the manifold view, when asked for: G of ``latent_lattice`` (S, S, 2), or (S, 2) for the
    # 1D target as (z, G(z)) pairs; None when the view is off
    manifold: np.ndarray | None = None


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
        target: recipes.Target = settings.target
        if target == "drawn":
            target = drawn_mixture(settings.points)
        run = recipes.build(recipe, target, settings.seed, self.device)
        self.players, self.game = run.players, run.game
        self.sample_data, self.sample_noise = run.sample_data, run.sample_noise
        self.batch_size, self.latent_dim = recipe.batch_size, recipes.latent_dim(recipe)
        self.target = target = recipes.target_named(target)
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
        # after d_half_step, until g_half_step: the last D update's result (None: no D side)
        self._d_half: tuple[DSideResult | None] | None = None
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
        After a :meth:`d_half_step` the first of them is that iteration's G half, so
        iterations stay whole. Raises :class:`gancourse.train.TrainingDiverged` with what to
        do if a loss blows up."""
        if steps > 0 and self.between_halves:
            self.g_half_step(measure=steps == 1)
            steps -= 1
            if steps == 0:
                return
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

    # --- slow motion: one iteration as two half-steps ------------------------------------
    @property
    def between_halves(self) -> bool:
        """True after :meth:`d_half_step` until the iteration's :meth:`g_half_step`."""
        return self._d_half is not None

    def d_half_step(self) -> DSideResult | None:
        """The discriminator half of one ``train.gan_step`` iteration: its k D updates, each
        on a fresh data batch and noise batch, drawn in gan_step's order, with the game's
        ``after_d_step`` (weight clipping) after each. G does not move. Returns the last
        update's result (its loss, D's mean output on data and samples), None for a game
        with no D side."""
        if self.between_halves:
            raise RuntimeError("D has already taken this iteration's steps: take G's half first")
        players, game, m, k = self.players, self.game, self.batch_size, self.settings.k
        result = None
        # as train.gan_step, line for line (less its check of the batch shape, which draws nothing)
        for _ in range(k if game.has_d_side else 0):
            real = self.sample_data(m)
            result = game.d_loss(players, real, self.sample_noise(m))
            players.opt_d.zero_grad(set_to_none=True)
            result.loss.backward()
            players.opt_d.step()
            game.after_d_step(players)
        self._d_half = (result,)
        self.samples_seen += (k if game.has_d_side else 0) * m
        return result

    def g_half_step(self, measure: bool = True) -> Tensor:
        """The generator half of the iteration :meth:`d_half_step` began: one G update on
        fresh noise, as ``train.gan_step``'s (only G's parameters get gradients); then the
        iteration goes into the history and (when ``measure``) the coverage is measured.
        Returns G's loss. Raises :class:`gancourse.train.TrainingDiverged` if a loss blew up."""
        if self._d_half is None:
            raise RuntimeError("take D's half-step first: an iteration starts with D")
        (result,) = self._d_half
        self._d_half = None
        players, game, m = self.players, self.game, self.batch_size
        loss_g = game.g_loss(players, self.sample_noise(m), lambda: self.sample_data(m))
        players.opt_g.zero_grad(set_to_none=True)
        g_side = [p for group in players.opt_g.param_groups for p in group["params"]]
        loss_g.backward(inputs=g_side)
        players.opt_g.step()
        g = loss_g.detach()
        if result is None:  # no discriminator side: as gan_step, nothing to report for it
            nothing = torch.full_like(g, float("nan"))
            stats = StepStats(torch.zeros_like(g), g, nothing, nothing)
        else:
            stats = StepStats(result.loss.detach(), g, result.real, result.fake)
        record_steps([stats], self.history)
        if measure:
            self.measure()
        return g

    # --- the manifold view --------------------------------------------------------------
    def manifold(self) -> np.ndarray:
        """G applied to :func:`latent_lattice`: (S, S, 2) points for a 2D target (the
        lattice's rows and columns, warped), or (S, 2) pairs (z, G(z)) for the 1D target.
        G in evaluation mode, no gradients, no random numbers drawn."""
        lattice = latent_lattice(self.latent_dim)
        z = torch.as_tensor(lattice.reshape(-1, self.latent_dim), dtype=torch.float32)
        generator = self.generator
        was_training = generator.training
        generator.eval()
        try:
            with torch.no_grad():
                x = generator(z.to(self.device)).cpu().numpy()
        finally:
            generator.train(was_training)
        if self.one_d:
            return np.c_[lattice[:, 0], x[:, 0]]
        return x.reshape(MANIFOLD_SIDE, MANIFOLD_SIDE, 2)

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

    def frame_data(self, manifold: bool = False) -> FrameData:
        """Everything one frame draws, from fixed noise and fixed real points, so that
        drawing never moves the random numbers training draws; with ``manifold``, G's warp
        of the latent lattice too."""
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
            manifold=self.manifold() if manifold else None,
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
