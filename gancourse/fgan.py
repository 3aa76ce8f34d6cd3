"""Lesson 12: f-divergences and f-GAN. One Gaussian fitted to two modes, under six divergences.

Nowozin, Cseke and Tomioka 2016, "f-GAN: Training Generative Neural Samplers using Variational
Divergence Minimization", arXiv 1606.00709. For a convex f with f(1) = 0, the f-divergence of the
data P from the model Q, and its variational lower bound (after Nguyen, Wainwright and Jordan
2010),

    D_f(P || Q) = integral of q(x) f(p(x) / q(x)) dx
                >= sup_T  E_{x~P}[T(x)] - E_{x~Q}[f*(T(x))],   f*(t) = sup_u {u t - f(u)},

tight at T*(x) = f'(p(x) / q(x)). The critic is T = g_f(V) with V an unconstrained network and
g_f an output activation into the domain of f* (Table 2), and f-GAN's saddle-point game is

    F(theta, omega) = E_{x~P}[g_f(V_omega(x))] - E_{x~Q_theta}[f*(g_f(V_omega(x)))],

V ascending, Q descending. :data:`DIVERGENCES` holds six rows of Table 2 (the "gan" row's
f(1) is -log 4, not 0: it is Goodfellow et al.'s value function), :func:`true_divergence`
the left-hand side by quadrature, :class:`FGANGame` the game on the course's one loop
(``train.train_gan``), and the experiments are section 4.1's: the critic's bound against the
true value (:func:`critic_bound`), and a Gaussian fitted to a two-mode mixture by the game
(:func:`fit_gaussian`) against the direct minimisation of D_f by quadrature (:func:`direct_fit`).

Which generator update minimises D_f: the game's own, G descending -E_Q[f*(g_f(V(G(z))))]
(``"saddle"``), follows the gradient of D_f(P || Q) at the optimal critic (the envelope
theorem). The non-saturating update, G descending -E_Q[g_f(V(G(z)))] (the paper's practical
choice, after Goodfellow et al.'s -log D), follows instead the gradient of another divergence:
for "kl" it is KL(Q || P), the reverse one (Poole et al. 2016, "Improved generator objectives
for GANs", arXiv 1612.02780; Shannon et al. 2020, arXiv 2010.08029). :func:`generator_gradient`
shows both by quadrature. So the fits here use the saddle update.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import budget as config_budget
from .config import check_count, for_budget, rng, seed_everything
from .data import Gaussian1D
from .games import DSideResult, Players, check_batches, d_side_result, generate
from .history import History
from .metrics import grid_arrays
from .nets import mlp
from .record import BENCH_SAMPLES, Outcome
from .train import linear_to_zero, train_gan
from .workers import run_in_workers

LOG2 = math.log(2.0)
GENERATOR_UPDATES = ("saddle", "non_saturating")  # FGANGame's two generator losses


def _xlogx(u: Tensor) -> Tensor:
    return torch.xlogy(u, u)  # 0 log 0 = 0


def _log_ratio_to_next(u: Tensor) -> Tensor:
    """log(u / (u + 1)) = -log(1 + 1/u), exact for large u where u / (u + 1) rounds to 1."""
    return -torch.log1p(1 / u)


def _gan_f(u: Tensor) -> Tensor:
    # u log u - (u+1) log(u+1) = -u log(1 + 1/u) - log(1 + u): no difference of two huge terms
    return -torch.special.xlog1py(u, 1 / u) - torch.log1p(u)


@dataclass(frozen=True)
class Divergence:
    """One row of Table 2 of Nowozin et al. 2016 (arXiv 1606.00709): the generator function
    f(u) of D_f(P || Q) = integral of q f(p / q), the output activation g_f(v) that maps any
    real v into the domain of the conjugate, the conjugate f*(t), and f'(1), the threshold of
    g_f(V) above which a sample looks more like the data than the model. Beside them, for the
    quadrature and the game: f'(u) (the optimal critic is f'(p / q)) and f*(g_f(v)) written in
    v, which stays finite where composing the two would round to log 0 or overflow."""

    name: str
    title: str
    f: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    threshold: float
    derivative: Callable[[Tensor], Tensor]
    conjugate_of_activation: Callable[[Tensor], Tensor]


DIVERGENCES: dict[str, Divergence] = {
    # f(u) = u log u: KL(P || Q), mode covering (maximum likelihood's divergence)
    "kl": Divergence(
        "kl",
        "Kullback-Leibler KL(P || Q)",
        f=_xlogx,
        activation=lambda v: v,
        conjugate=lambda t: torch.exp(t - 1),
        threshold=1.0,
        derivative=lambda u: torch.log(u) + 1,
        conjugate_of_activation=lambda v: torch.exp(v - 1),
    ),
    # f(u) = -log u: KL(Q || P), mode seeking
    "reverse_kl": Divergence(
        "reverse_kl",
        "reverse Kullback-Leibler KL(Q || P)",
        f=lambda u: -torch.log(u),
        activation=lambda v: -torch.exp(-v),
        conjugate=lambda t: -1 - torch.log(-t),
        threshold=-1.0,
        derivative=lambda u: -1 / u,
        conjugate_of_activation=lambda v: v - 1,  # -1 - log(exp(-v))
    ),
    # f(u) = (u - 1)^2: integral of (p - q)^2 / q
    "pearson": Divergence(
        "pearson",
        "Pearson chi-squared",
        f=lambda u: (u - 1) ** 2,
        activation=lambda v: v,
        conjugate=lambda t: t**2 / 4 + t,
        threshold=0.0,
        derivative=lambda u: 2 * (u - 1),
        conjugate_of_activation=lambda v: v**2 / 4 + v,
    ),
    # f(u) = (sqrt(u) - 1)^2: integral of (sqrt(p) - sqrt(q))^2, no factor 1/2
    "hellinger": Divergence(
        "hellinger",
        "squared Hellinger",
        f=lambda u: (torch.sqrt(u) - 1) ** 2,
        activation=lambda v: -torch.expm1(-v),  # 1 - exp(-v) < 1
        conjugate=lambda t: t / (1 - t),
        threshold=0.0,
        derivative=lambda u: 1 - torch.rsqrt(u),
        conjugate_of_activation=torch.expm1,  # (1 - e^-v) / e^-v = e^v - 1
    ),
    # f(u) = -(u + 1) log((1 + u) / 2) + u log u: the paper's scaling, D_f = 2 JSD(P, Q)
    "js": Divergence(
        "js",
        "Jensen-Shannon, 2 JSD(P, Q)",
        f=lambda u: _gan_f(u) + (u + 1) * LOG2,
        activation=lambda v: LOG2 + F.logsigmoid(v),  # log 2 - log(1 + e^-v) < log 2
        conjugate=lambda t: -torch.log(2 - torch.exp(t)),
        threshold=0.0,
        derivative=lambda u: LOG2 + _log_ratio_to_next(u),
        conjugate_of_activation=lambda v: F.softplus(v) - LOG2,  # -log(2 - 2 sigmoid(v))
    ),
    # f(u) = u log u - (u + 1) log(u + 1): Goodfellow et al.'s game, D_f = 2 JSD(P, Q) - log 4
    "gan": Divergence(
        "gan",
        "GAN, 2 JSD(P, Q) - log 4",
        f=_gan_f,
        activation=F.logsigmoid,  # log D(x) < 0
        conjugate=lambda t: -torch.log(-torch.expm1(t)),
        threshold=-LOG2,
        derivative=_log_ratio_to_next,
        conjugate_of_activation=F.softplus,  # -log(1 - sigmoid(v))
    ),
}


def divergence(name: str | Divergence) -> Divergence:
    """The row of :data:`DIVERGENCES` called ``name`` (a :class:`Divergence` passes through)."""
    if isinstance(name, Divergence):
        return name
    try:
        return DIVERGENCES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown divergence {name!r}: choose one of {', '.join(DIVERGENCES)}"
        ) from None


def variational_bound(div: str | Divergence, v_real: Tensor, v_fake: Tensor) -> Tensor:
    """The critic's lower bound on D_f(P || Q) (Nowozin et al. 2016, the objective F):
    E_P[g_f(V(x))] - E_Q[f*(g_f(V(x)))], estimated on the critic's raw outputs ``v_real`` on
    data and ``v_fake`` on the model's samples."""
    row = divergence(div)
    return row.activation(v_real).mean() - row.conjugate_of_activation(v_fake).mean()


# ---------------------------------------------------------------------------------------------
# Densities on a grid, and the divergence by quadrature


@dataclass(frozen=True)
class Mixture1D:
    """A mixture of 1D Gaussians, sum_k w_k N(mean_k, std_k^2), as a sampler and a density."""

    components: tuple[Gaussian1D, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.components) == 0 or len(self.components) != len(self.weights):
            raise ValueError(
                f"give one weight per component, got {len(self.components)} components and "
                f"{len(self.weights)} weights"
            )
        if not all(w > 0 for w in self.weights) or not math.isclose(sum(self.weights), 1.0):
            raise ValueError(f"the weights must be positive and sum to 1, got {self.weights}")

    @property
    def mean(self) -> float:
        return sum(w * c.mean for w, c in zip(self.weights, self.components, strict=True))

    @property
    def std(self) -> float:
        second = sum(
            w * (c.std**2 + c.mean**2) for w, c in zip(self.weights, self.components, strict=True)
        )
        return math.sqrt(second - self.mean**2)

    def sample(
        self,
        n: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``n`` samples shaped (n, 1): a component for each by its weight, then a draw from
        it; from ``generator`` (on ``device``), else PyTorch's global one."""
        check_count(n, "n", hint="how many samples to draw")
        weights = torch.tensor(self.weights, device=device)
        means = torch.tensor([c.mean for c in self.components], device=device)
        stds = torch.tensor([c.std for c in self.components], device=device)
        which = torch.multinomial(weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, device=device, generator=generator)
        return (means[which] + stds[which] * noise).unsqueeze(1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The density: sum_k w_k N(x; mean_k, std_k^2)."""
        return sum(w * c.pdf(x) for w, c in zip(self.weights, self.components, strict=True))


# A target for section 4.1's experiment: two well separated modes, half the mass each
TWO_MODES = Mixture1D((Gaussian1D(-2.0, 0.5), Gaussian1D(2.0, 0.5)), (0.5, 0.5))
GRID = np.linspace(-16.0, 16.0, 6401)  # wide and fine: spacing 0.005, far past both tails
TINY = 1e-250  # densities below this are underflow, not mass: the integrals skip them


def _on_grid(fn: Callable[[Tensor], Tensor], values: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return fn(torch.from_numpy(np.asarray(values, dtype=np.float64))).numpy()


def _both_positive(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    # Where a density underflows the ratio p / q is 0 / 0 or overflows: those points, far in a
    # tail, hold no mass worth counting, and skipping them keeps every integral finite
    return (p > TINY) & (q > TINY)


def true_divergence(div: str | Divergence, p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """D_f(P || Q) = integral of q(x) f(p(x) / q(x)) dx by the trapezoid rule on the grid x,
    over the points where both densities are above ``TINY`` (Nowozin et al. 2016, section 2).
    Infinite when the integrand overflows (Pearson's p^2 / q where q is far narrower)."""
    row = divergence(div)
    x, p, q = grid_arrays(x, p, q)
    return float(_integrals(row, p, q[None, :], x)[0])


def _integrals(row: Divergence, p: np.ndarray, qs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """D_f(P || Q) for each row of ``qs`` (densities on x, one Q per row)."""
    mask = _both_positive(p[None, :], qs)
    integrand = np.zeros_like(qs)
    with np.errstate(over="ignore"):
        ratio = np.where(mask, p[None, :] / np.where(mask, qs, 1.0), 1.0)
        integrand[mask] = qs[mask] * _on_grid(row.f, ratio[mask])
        return np.trapezoid(integrand, x, axis=1)


def optimal_critic(div: str | Divergence, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """T*(x) = f'(p(x) / q(x)), where the bound is tight (Nowozin et al. 2016, section 2);
    NaN where either density is below ``TINY``."""
    row = divergence(div)
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    mask = _both_positive(p, q)
    critic = np.full(np.broadcast(p, q).shape, np.nan)
    critic[mask] = _on_grid(row.derivative, p[mask] / q[mask])
    return critic


def quadrature_bound(
    div: str | Divergence, critic: np.ndarray, p: np.ndarray, q: np.ndarray, x: np.ndarray
) -> float:
    """The bound of a critic T given on the grid: integral of p T - q f*(T) dx, over the points
    where both densities are above ``TINY``. At T = :func:`optimal_critic` it equals
    :func:`true_divergence`; any other T gives less."""
    row = divergence(div)
    x, p, q = grid_arrays(x, p, q)
    critic = np.asarray(critic, dtype=np.float64)
    if critic.shape != x.shape:
        raise ValueError(f"the critic has shape {critic.shape} but the grid x has {x.shape}")
    mask = _both_positive(p, q)
    integrand = np.zeros_like(x)
    integrand[mask] = p[mask] * critic[mask] - q[mask] * _on_grid(row.conjugate, critic[mask])
    return float(np.trapezoid(integrand, x))


def generator_gradient(
    div: str | Divergence,
    generator_update: str,
    target: Mixture1D,
    mean: float,
    std: float,
    x: np.ndarray = GRID,
) -> np.ndarray:
    """The gradient of the generator's loss with respect to (mean, log std) of Q = N(mean,
    std^2), in expectation and at the optimal critic T* = f'(p / q), by quadrature: the loss is
    -E_Q[h(G(z))] with h = f*(T*) (``"saddle"``) or h = T* (``"non_saturating"``) held fixed,
    whose gradient is -integral of h dq/dtheta. The saddle's is the gradient of D_f(P || Q);
    the non-saturating one's, for "kl", is the gradient of KL(Q || P) (Poole et al. 2016,
    arXiv 1612.02780)."""
    row = divergence(div)
    if generator_update not in GENERATOR_UPDATES:
        raise ValueError(
            f"unknown generator_update {generator_update!r}: choose one of "
            f"{', '.join(GENERATOR_UPDATES)}"
        )
    x = np.asarray(x, dtype=np.float64)
    p, q = target.pdf(x), gaussian_pdf(mean, std, x)
    mask = _both_positive(p, q)
    critic = optimal_critic(row, p, q)[mask]
    held = _on_grid(row.conjugate, critic) if generator_update == "saddle" else critic
    z = (x[mask] - mean) / std
    dq = np.stack([q[mask] * z / std, q[mask] * (z**2 - 1)])  # dq/dmean, dq/dlog std
    integrand = np.zeros((2, len(x)))
    integrand[:, mask] = -held * dq
    return np.trapezoid(integrand, x, axis=1)


def gaussian_pdf(mean: float, std: float, x: np.ndarray) -> np.ndarray:
    """N(x; mean, std^2) on the grid x."""
    return Gaussian1D(float(mean), float(std)).pdf(x)


@dataclass(frozen=True)
class GaussianFit:
    """A Gaussian fitted to a target: its mean and std, and D_f(P || N(mean, std^2)) there."""

    mean: float
    std: float
    divergence: float


def direct_fit(
    div: str | Divergence,
    target: Mixture1D = TWO_MODES,
    means: Sequence[float] | None = None,
    stds: Sequence[float] | None = None,
    x: np.ndarray = GRID,
) -> GaussianFit:
    """The Gaussian N(mu, sigma^2) that minimises D_f(P || N(mu, sigma^2)) by quadrature: the
    best point of a grid of ``means`` and ``stds`` (default: around the target), refined by
    Nelder-Mead on (mu, log sigma): section 4.1's "direct" fit (Nowozin et al. 2016).
    A target symmetric about 0 has two best fits, (mu, sigma) and (-mu, sigma)."""
    from scipy.optimize import minimize

    row = divergence(div)
    x = np.asarray(x, dtype=np.float64)
    p = target.pdf(x)
    if means is None:
        spread = 3 * target.std
        means = np.linspace(target.mean - spread / 2, target.mean + spread / 2, 41)
    if stds is None:
        stds = np.geomspace(0.1, 2 * target.std, 30)
    mu, sigma = np.meshgrid(np.asarray(means, float), np.asarray(stds, float), indexing="ij")
    mu, sigma = mu.ravel(), sigma.ravel()
    coarse = x[::4]  # the grid search only picks a start: every fourth point is plenty for that
    values = np.concatenate(
        [
            _integrals(row, p[::4], _gaussians(mu[i : i + 256], sigma[i : i + 256], coarse), coarse)
            for i in range(0, len(mu), 256)
        ]
    )
    best = int(np.argmin(values))

    def objective(theta: np.ndarray) -> float:
        q = _gaussians(np.array([theta[0]]), np.array([math.exp(theta[1])]), x)
        value = float(_integrals(row, p, q, x)[0])
        return value if math.isfinite(value) else 1e300

    refined = minimize(
        objective,
        np.array([mu[best], math.log(sigma[best])]),
        method="Nelder-Mead",
        options={"xatol": 1e-4, "fatol": 1e-9, "maxiter": 2000},
    )
    return GaussianFit(float(refined.x[0]), float(math.exp(refined.x[1])), float(refined.fun))


def _gaussians(mu: np.ndarray, sigma: np.ndarray, x: np.ndarray) -> np.ndarray:
    z = (x[None, :] - mu[:, None]) / sigma[:, None]
    return np.exp(-0.5 * z**2) / (sigma[:, None] * math.sqrt(2 * math.pi))


# ---------------------------------------------------------------------------------------------
# The game on the one loop


@dataclass(frozen=True)
class FGANGame:
    """f-GAN's game (Nowozin et al. 2016, the saddle-point objective F, on the course's loop): the
    critic V (raw scores, no sigmoid) descends minus :func:`variational_bound`; the generator
    descends, with ``generator_update``,

    - ``"saddle"``: -E_Q[f*(g_f(V(G(z))))], its side of the game: at the optimal critic its
      gradient is the gradient of D_f(P || Q);
    - ``"non_saturating"``: -E_Q[g_f(V(G(z)))], the paper's practical update (for "gan" it is
      Goodfellow et al.'s -log D); it does not minimise D_f in general (for "kl" it minimises
      KL(Q || P)).
    """

    divergence: Divergence | str  # a name of DIVERGENCES or a row; stored as the row
    generator_update: str = "non_saturating"
    scores: bool = True
    has_d_side: bool = True
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "divergence", divergence(self.divergence))
        if self.generator_update not in GENERATOR_UPDATES:
            raise ValueError(
                f"unknown generator_update {self.generator_update!r}: choose one of "
                f"{', '.join(GENERATOR_UPDATES)}"
            )
        suffix = "" if self.generator_update == "non_saturating" else f"_{self.generator_update}"
        object.__setattr__(self, "name", f"fgan_{self.divergence.name}{suffix}")

    def d_loss(self, players: Players, real: Tensor, noise: Tensor) -> DSideResult:
        critic = players.discriminator
        with torch.no_grad():  # V's step needs G's samples, not a graph through G
            fake = generate(players.generator, noise)
        check_batches(real, fake)
        if players.one_pass:
            v_real, v_fake = critic(torch.cat([real, fake])).split(len(real))
        else:
            v_real, v_fake = critic(real), critic(fake)
        loss = -variational_bound(self.divergence, v_real, v_fake)
        return d_side_result(loss, v_real, v_fake, self.scores)

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise: Tensor, sample_data: Any) -> Tensor:
        v_fake = players.discriminator(generate(players.generator, noise))
        if self.generator_update == "saddle":
            return -self.divergence.conjugate_of_activation(v_fake).mean()
        return -self.divergence.activation(v_fake).mean()


class GaussianGenerator(nn.Module):
    """G(z) = mean + std z, z ~ N(0, 1) shaped (m, 1): the model Q = N(mean, std^2), with the
    mean and log std learnable (the log keeps std positive)."""

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"need a finite mean and std > 0, got mean={mean}, std={std}")
        self.mean = nn.Parameter(torch.tensor(float(mean)))
        self.log_std = nn.Parameter(torch.tensor(math.log(std)))

    @property
    def std(self) -> Tensor:
        return self.log_std.exp()

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != 1:
            raise ValueError(f"z must be shaped (m, 1), got {tuple(z.shape)}")
        return self.mean + self.std * z

    def as_gaussian(self) -> Gaussian1D:
        """The Gaussian it samples, as a :class:`data.Gaussian1D`."""
        return Gaussian1D(float(self.mean.detach()), float(self.std.detach()))


# ---------------------------------------------------------------------------------------------
# The experiments of section 4.1


@dataclass(frozen=True)
class FGANRecipe:
    """How lesson 12's 1D experiments train: a critic V = MLP 1 -> ``critic_widths`` -> 1
    (LeakyReLU), Adam with beta1 ``beta1`` at ``lr_critic`` and ``lr_generator``, rates falling
    to 0 over the run, batches of ``batch_size``, ``k`` critic steps per generator step, the
    generator update ``generator_update`` (:class:`FGANGame`), the Gaussian starting at
    (``start_mean``, ``start_std``) after ``critic_warmup`` steps of the critic alone. The bound
    check trains the critic alone against N(``bound_mean``, ``bound_std``^2) for its own steps
    and estimates the bound on ``bound_samples`` samples of each side.

    Why these: reverse KL has two basins on the two-mode target, a mode (its minimum) and a
    wide Gaussian over both modes (a local minimum); the start lies off centre, in the mode's
    basin for reverse KL and in the centre's for the others, as gradient descent on the true
    D_f finds. A generator that outruns its critic follows a wrong gradient into the wide
    basin: hence the warm-up (a fresh critic's gradient points anywhere), a critic faster than
    the generator, and large batches. Pearson's gradient is the noisiest (p / q weighs the
    tails): the full budget's steps are what it needs to come close to its direct fit."""

    critic_widths: tuple[int, ...] = (64, 64)
    lr_critic: float = 3e-3
    lr_generator: float = 5e-3
    beta1: float = 0.5
    batch_size: int = 512
    k: int = 1
    generator_update: str = "saddle"
    start_mean: float = 1.0
    start_std: float = 1.0
    critic_warmup: int = 300
    quick_steps: int = 300
    full_steps: int = 5000
    bound_mean: float = 0.0
    bound_std: float = 1.5
    bound_quick_steps: int = 200
    bound_full_steps: int = 1500
    bound_samples: int = 100_000

    def steps(self, budget: str) -> int:
        return for_budget(budget, self.quick_steps, self.full_steps)

    def bound_steps(self, budget: str) -> int:
        return for_budget(budget, self.bound_quick_steps, self.bound_full_steps)


FGAN_1D = FGANRecipe()


def critic(recipe: FGANRecipe = FGAN_1D, device: torch.device | str = "cpu") -> nn.Module:
    """A fresh critic V: the recipe's MLP with one raw output, from the global random state."""
    return mlp(1, 1, recipe.critic_widths).to(device)


def _players(generator: nn.Module, recipe: FGANRecipe, lr_generator: float, device) -> Players:
    discriminator = critic(recipe, device)
    betas = (recipe.beta1, 0.999)
    return Players(
        generator,
        discriminator,
        torch.optim.Adam(generator.parameters(), lr=lr_generator, betas=betas),
        torch.optim.Adam(discriminator.parameters(), lr=recipe.lr_critic, betas=betas),
    )


def _noise(device: torch.device | str) -> Callable[[int], Tensor]:
    return lambda m: torch.randn(m, 1, device=device)


@dataclass
class BoundCheck:
    """A trained critic's bound on D_f(P || Q) (with the standard error of its estimate from
    samples) beside the true value by quadrature."""

    divergence: Divergence
    bound: float
    standard_error: float
    true: float
    critic: nn.Module
    history: History

    @property
    def ratio(self) -> float:
        """bound / true, both measured from f(1), the divergence of Q = P: 0 for every row but
        "gan", whose f(1) = -log 4 (D_f = 2 JSD - log 4), so that its ratio is that of the two
        estimates of 2 JSD."""
        floor = divergence_at_equality(self.divergence)
        return (self.bound - floor) / (self.true - floor)


def divergence_at_equality(div: str | Divergence) -> float:
    """f(1): D_f(P || Q) when Q = P. 0 for a proper f-divergence; -log 4 for the "gan" row."""
    return float(_on_grid(divergence(div).f, np.array(1.0)))


@torch.no_grad()
def estimate_bound(
    div: str | Divergence,
    critic_net: nn.Module,
    target: Mixture1D,
    model: Gaussian1D,
    samples: int,
    seed: int,
    device: torch.device | str = "cpu",
) -> tuple[float, float]:
    """The bound E_P[g_f(V)] - E_Q[f*(g_f(V))] of ``critic_net`` on ``samples`` fresh samples
    of each side, drawn from a random generator of their own (seeded by ``seed``, so training's
    random numbers are untouched), and the standard error of that estimate."""
    check_count(samples, "samples", hint="how many samples of each side the estimate takes")
    row = divergence(div)
    generator = rng(seed)
    real = target.sample(samples, generator=generator).to(device)
    fake = (model.mean + model.std * torch.randn(samples, 1, generator=generator)).to(device)
    data_side = row.activation(critic_net(real)).double()
    model_side = row.conjugate_of_activation(critic_net(fake)).double()
    bound = data_side.mean() - model_side.mean()
    error = torch.sqrt((data_side.var() + model_side.var()) / samples)
    return float(bound), float(error)


def critic_bound(
    div: str | Divergence,
    target: Mixture1D = TWO_MODES,
    model: Gaussian1D | None = None,
    steps: int | None = None,
    seed: int = 0,
    *,
    recipe: FGANRecipe = FGAN_1D,
    budget: str | None = None,
    device: torch.device | str = "cpu",
    progress: bool | str = False,
) -> BoundCheck:
    """Train a critic alone to maximise the bound on D_f(target || model) with the model fixed
    (``model`` default: N(``recipe.bound_mean``, ``recipe.bound_std``^2)), on the course's loop
    with the generator's learning rate 0, for ``steps`` (default: the recipe's at ``budget``,
    else at the budget in force); returns its bound on ``recipe.bound_samples`` fresh samples
    of each side, with its standard error, beside the true value by quadrature. The bound can
    only fall short, by what the critic family and its training miss, up to sampling error."""
    row = divergence(div)
    model = model or Gaussian1D(recipe.bound_mean, recipe.bound_std)
    steps = recipe.bound_steps(budget or config_budget()) if steps is None else steps
    seed_everything(seed)
    players = _players(GaussianGenerator(model.mean, model.std).to(device), recipe, 0.0, device)
    history = train_gan(
        players,
        FGANGame(row),
        sample_data=lambda m: target.sample(m, device),
        sample_noise=_noise(device),
        steps=steps,
        batch_size=recipe.batch_size,
        k=recipe.k,
        lr_schedule=linear_to_zero,
        progress=progress,
    )
    bound, error = estimate_bound(
        row, players.discriminator, target, model, recipe.bound_samples, seed + 1, device
    )
    true = true_divergence(row, target.pdf(GRID), model.pdf(GRID), GRID)
    return BoundCheck(row, bound, error, true, players.discriminator, history)


@dataclass
class TrainedFit:
    """A Gaussian fitted by the game: its mean and std, the generator and critic, the history."""

    mean: float
    std: float
    generator: GaussianGenerator
    critic: nn.Module
    history: History


def fit_gaussian(
    div: str | Divergence,
    target: Mixture1D = TWO_MODES,
    steps: int | None = None,
    seed: int = 0,
    *,
    recipe: FGANRecipe = FGAN_1D,
    generator_update: str | None = None,
    budget: str | None = None,
    device: torch.device | str = "cpu",
    progress: bool | str = False,
) -> TrainedFit:
    """Fit Q = N(mean, std^2) (:class:`GaussianGenerator`) to ``target`` with f-GAN's game
    (:class:`FGANGame`, ``generator_update`` default the recipe's) on the course's loop, from
    ``seed``, for ``steps`` (default: the recipe's at ``budget``, else at the budget in force,
    ``GANCOURSE_BUDGET``); the critic first trains alone for ``recipe.critic_warmup`` steps.
    Section 4.1's learned fit."""
    row = divergence(div)
    update = generator_update or recipe.generator_update
    steps = recipe.steps(budget or config_budget()) if steps is None else steps
    seed_everything(seed)
    generator = GaussianGenerator(recipe.start_mean, recipe.start_std).to(device)
    players = _players(generator, recipe, recipe.lr_generator, device)
    game = FGANGame(row, update)

    def sample_data(m: int) -> Tensor:
        return target.sample(m, device)

    if recipe.critic_warmup:
        # The critic first learns the bound for the starting Gaussian, the generator held still:
        # a fresh critic's gradient points anywhere, and the generator's first steps would follow it
        frozen = torch.optim.SGD(generator.parameters(), lr=0.0)
        train_gan(
            Players(generator, players.discriminator, frozen, players.opt_d),
            game,
            sample_data=sample_data,
            sample_noise=_noise(device),
            steps=recipe.critic_warmup,
            batch_size=recipe.batch_size,
            k=recipe.k,
            progress=False,
        )
    history = train_gan(
        players,
        game,
        sample_data=sample_data,
        sample_noise=_noise(device),
        steps=steps,
        batch_size=recipe.batch_size,
        k=recipe.k,
        lr_schedule=linear_to_zero,
        progress=progress,
    )
    fitted = generator.as_gaussian()
    return TrainedFit(fitted.mean, fitted.std, generator, players.discriminator, history)


def fit_gap(fit: GaussianFit | TrainedFit, direct: GaussianFit) -> float:
    """How far a fit lies from the direct fit: the larger of the gaps in |mean| and in std.
    |mean|, because the two-mode target is symmetric about 0: (mu, sigma) and (-mu, sigma) fit
    it equally well, and which mode a mode-seeking fit takes is chance."""
    return max(abs(abs(fit.mean) - abs(direct.mean)), abs(fit.std - direct.std))


def on_side_of(direct: GaussianFit, mean: float) -> GaussianFit:
    """The direct fit to :data:`TWO_MODES`, mirrored to the side of 0 that ``mean`` is on:
    the target is symmetric about 0, so (-mu, sigma) fits it exactly as well as (mu, sigma)."""
    return replace(direct, mean=math.copysign(direct.mean, mean))


def _fit_samples(fit: TrainedFit, seed: int) -> np.ndarray:
    z = torch.randn(BENCH_SAMPLES, 1, generator=rng(seed))
    with torch.no_grad():
        return fit.generator.cpu()(z).numpy()[:, 0]


PLOT_X = np.linspace(-5.0, 5.0, 501)  # where the notebook draws each trained critic


def fit_and_check(name: str, seed: int, budget: str | None, device: str) -> dict[str, Any]:
    """One divergence's two experiments, for a worker process (:func:`run_all`): the bound
    check (:func:`critic_bound`) and the fit (:func:`fit_gaussian`); with the trained critic's
    T = g_f(V) on :data:`PLOT_X`, to draw beside T* = f'(p / q)."""
    check = critic_bound(name, seed=seed, budget=budget, device=device)
    fit = fit_gaussian(name, seed=seed, budget=budget, device=device)
    with torch.no_grad():
        v = check.critic(torch.from_numpy(PLOT_X).float()[:, None].to(device))
        critic_t = divergence(name).activation(v).cpu().numpy()[:, 0]
    figures = ("bound", "standard_error", "true", "ratio")
    return {**{key: getattr(check, key) for key in figures}, "critic_t": critic_t,
            "mean": fit.mean, "std": fit.std}  # fmt: skip


def run_all(
    seed: int, budget: str | None = None, device: torch.device | str = "cpu"
) -> dict[str, dict[str, Any]]:
    """:func:`fit_and_check` for every divergence of :data:`DIVERGENCES`, from one seed, in
    worker processes of one thread each (one after the other on a GPU)."""
    device = str(torch.device(device))
    jobs = [(name, seed, budget, device) for name in DIVERGENCES]
    done = run_in_workers(fit_and_check, jobs, in_process=device != "cpu", desc="divergences")
    return dict(zip(DIVERGENCES, done, strict=True))


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 12: for each divergence of :data:`DIVERGENCES`, a Gaussian fitted to
    :data:`TWO_MODES` by f-GAN's game (:func:`fit_gaussian`) beside the direct fit by
    quadrature (:func:`direct_fit`), and a critic's bound on D_f(TWO_MODES || N(bound_mean,
    bound_std^2)) beside the true value (:func:`critic_bound`); and "kl" fitted once more with
    the non-saturating update, which minimises KL(Q || P) instead. samples.npy: 10,000
    samples of each fitted Gaussian, one column per divergence, in the order of ``columns``."""
    recipe = FGAN_1D
    names = list(DIVERGENCES)
    rows: dict[str, dict[str, Any]] = {}
    columns, steps, seconds = [], 0, 0.0
    for j, name in enumerate(names):
        start = time.perf_counter()
        fit = fit_gaussian(name, seed=seed, recipe=recipe, budget=budget, device=device)
        check = critic_bound(name, seed=seed, recipe=recipe, budget=budget, device=device)
        seconds += time.perf_counter() - start
        steps += recipe.critic_warmup + recipe.steps(budget) + recipe.bound_steps(budget)
        direct = on_side_of(direct_fit(name), fit.mean)
        rows[name] = {
            "fitted": {"mean": fit.mean, "std": fit.std},
            "direct": {"mean": direct.mean, "std": direct.std, "divergence": direct.divergence},
            "gap": fit_gap(fit, direct),
            "bound_check": {
                "bound": check.bound,
                "standard_error": check.standard_error,
                "true": check.true,
                "ratio": check.ratio,
            },
        }
        columns.append(_fit_samples(fit, seed + 10 + j))
        print(
            f"{name:10s} fit ({fit.mean:+.3f}, {fit.std:.3f})  direct ({direct.mean:+.3f}, "
            f"{direct.std:.3f})  bound {check.bound:.4f} +- {check.standard_error:.4f}  true "
            f"{check.true:.4f}  ratio {check.ratio:.3f}",
            flush=True,
        )
    start = time.perf_counter()
    other = fit_gaussian(
        "kl", seed=seed, recipe=recipe, generator_update="non_saturating", budget=budget,
        device=device,
    )  # fmt: skip
    seconds += time.perf_counter() - start
    steps += recipe.critic_warmup + recipe.steps(budget)
    reverse = on_side_of(direct_fit("reverse_kl"), other.mean)
    print(f"kl, non-saturating update: fit ({other.mean:+.3f}, {other.std:.3f})", flush=True)
    return Outcome(
        samples=np.stack(columns, axis=1).astype(np.float32),
        metrics={
            "columns": names,
            "divergences": rows,
            "kl_non_saturating": {
                "fitted": {"mean": other.mean, "std": other.std},
                "reverse_kl_direct": {"mean": reverse.mean, "std": reverse.std},
            },
            "target": {
                "weights": list(TWO_MODES.weights),
                "means": [c.mean for c in TWO_MODES.components],
                "stds": [c.std for c in TWO_MODES.components],
            },
            "bound_model": {"mean": recipe.bound_mean, "std": recipe.bound_std},
            "recipe": asdict(recipe),
        },
        steps=steps,
        train_seconds=seconds,
    )
