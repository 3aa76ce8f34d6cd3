"""The games: what one iteration of Algorithm 1 computes, one object per game, one table.

Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv 1406.2661, Algorithm 1 is the
loop (``train.gan_step``): k discriminator-side updates, then one generator-side update. What
those updates compute is the game's: which models are on each side (through the optimisers of
:class:`Players`), what a batch holds, the discriminator side's loss with its penalty or
clipping, and the generator side's loss. The loop knows nothing else.

``GAMES`` holds the plain games, one name each, used by every lesson, the playground and the
benchmarks: minimax, non_saturating and maximum_likelihood (lessons 1 and 2), hinge (lesson 3's
levers), wgan_clip and wgan_gp (lesson 6). :func:`game` makes one with other settings. A new
lesson's game (labels into G and D, an encoder on the generator side, no discriminator at all)
is a new class with the three methods of :class:`Game`; ``tests/test_games.py`` has four.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from . import losses
from .nets import MinibatchDiscrimination, MinibatchStd, Packed

Batch = Any  # a tensor of samples, or whatever a game's samplers return (images and labels)


@dataclass
class Players:
    """The models and optimisers of one GAN. ``opt_g`` updates the generator side (G, and
    whatever a game puts beside it: an encoder, an auxiliary head), ``opt_d`` the
    discriminator side; a game without a discriminator has ``discriminator`` and ``opt_d``
    None. ``extra`` names the other models a game reads (``extra["encoder"]``)."""

    generator: nn.Module
    discriminator: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None = None
    extra: dict[str, nn.Module] = field(default_factory=dict)

    def modules(self) -> dict[str, nn.Module]:
        """Every model by name: generator, discriminator (if any) and the extras."""
        named = {"generator": self.generator, "discriminator": self.discriminator}
        return {name: m for name, m in {**named, **self.extra}.items() if m is not None}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        named = {"opt_g": self.opt_g, "opt_d": self.opt_d}
        return {name: opt for name, opt in named.items() if opt is not None}

    @cached_property
    def one_pass(self) -> bool:
        """Whether D judges each sample alone (:func:`judges_each_sample_alone`), found once: the
        module walk stays out of the training step."""
        return self.discriminator is not None and judges_each_sample_alone(self.discriminator)

    def train(self) -> None:
        for module in self.modules().values():
            module.train()


class WithPlayers:
    """The generator and the discriminator of ``self.players``, by name."""

    players: Players

    @property
    def generator(self) -> nn.Module:
        return self.players.generator

    @property
    def discriminator(self) -> nn.Module | None:
        return self.players.discriminator


@dataclass
class DSideResult:
    """What a discriminator-side update computed: its loss, and D's mean output on the data
    and on the samples (still on the device)."""

    loss: Tensor
    real: Tensor
    fake: Tensor


class Game(Protocol):
    """A game: ``d_loss`` for each of the k discriminator-side updates, ``after_d_step``
    after each of them, and ``g_loss`` for the generator-side update. ``has_d_side`` is False
    for a game with no discriminator (the loop then takes no D steps); ``scores`` means the
    discriminator's outputs are a critic's raw scores, which the history keeps as they are
    (else it keeps the mean sigmoid, D(x))."""

    name: str
    scores: bool
    has_d_side: bool

    def d_loss(self, players: Players, real: Batch, noise: Batch) -> DSideResult: ...

    def after_d_step(self, players: Players) -> None: ...

    def g_loss(self, players: Players, noise: Batch, sample_data: Callable[[], Batch]) -> Tensor:
        """``sample_data()`` draws a fresh data batch, for a generator side that needs one."""
        ...


class OneSided:
    """A game with one side and no adversary: the loop's one update per step trains the
    players' ``generator`` slot (an encoder, a completer) on ``g_loss``."""

    scores: bool = False
    has_d_side: bool = False

    def d_loss(self, players: Players, real: Any, noise: Any) -> DSideResult:
        raise RuntimeError(f"{self.name} has no discriminator side")

    def after_d_step(self, players: Players) -> None:
        pass


BATCH_DEPENDENT = (nn.modules.batchnorm._BatchNorm, MinibatchDiscrimination, MinibatchStd, Packed)


def judges_each_sample_alone(discriminator: nn.Module) -> bool:
    """True when D's score of a sample depends on that sample alone, so that scoring the data
    and the samples in one batch gives the same scores as scoring them apart. Not so with
    batch norm (training-mode statistics of the batch), minibatch discrimination, the minibatch
    standard deviation or PacGAN's packs, which look at the batch on purpose."""
    return not any(isinstance(module, BATCH_DEPENDENT) for module in discriminator.modules())


def check_discriminator(discriminator: nn.Module) -> None:
    """Refuse a discriminator whose last layer is a sigmoid: every game here takes D's logits
    (or a critic's raw scores) and applies the sigmoid inside its losses, stably. A sigmoid at
    the end would make them read probabilities as logits: training goes on, quietly wrong."""
    leaves = [m for m in discriminator.modules() if not any(True for _ in m.children())]
    if leaves and isinstance(leaves[-1], nn.Sigmoid):
        raise ValueError(
            "the discriminator ends in a sigmoid, but the games take its logits (D(x) = "
            "sigmoid(logit) is computed inside the losses, stably): remove the final nn.Sigmoid"
        )


def check_batches(real: Tensor, fake: Tensor) -> None:
    """Data and generator samples must be alike: one shape, one device."""
    if not isinstance(real, Tensor) or not isinstance(fake, Tensor):
        raise TypeError(
            f"sample_data and the generator must return tensors, got "
            f"{type(real).__name__} and {type(fake).__name__}"
        )
    if fake.shape != real.shape:
        raise ValueError(
            f"generator output has shape {tuple(fake.shape)} but the data batch has shape "
            f"{tuple(real.shape)}: build the generator so G(z) is shaped like a data batch "
            f"(check data_dim, and that sample_noise returns the generator's latent size)"
        )
    if fake.dtype != real.dtype:
        raise ValueError(
            f"the data batch is {real.dtype} but the generator's samples are {fake.dtype}: "
            f"make the data {fake.dtype} (torch.from_numpy keeps NumPy's float64; add .float())"
        )
    if fake.device != real.device:
        raise ValueError(
            f"the data batch is on {real.device} but the generator's samples are on {fake.device}: "
            f"move the models and the samplers to the same device (gancourse.config.device())"
        )


def generate(generator: nn.Module, noise: Tensor) -> Tensor:
    """``generator(noise)``; when the generator cannot take the noise (a latent size or dtype
    that does not match its first layer), torch's error says so with a hint at the cause."""
    try:
        return generator(noise)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as err:
        shape = tuple(noise.shape) if isinstance(noise, Tensor) else type(noise).__name__
        first = (str(err).strip().splitlines() or [""])[0]
        raise ValueError(
            f"the generator cannot take sample_noise's batch of shape {shape} ({first}): does "
            f"sample_noise return the generator's latent size, dtype and device?"
        ) from err


def mean_output(logits: Tensor, scores: bool) -> Tensor:
    """D's mean output over a batch: the raw scores of a critic, or D(x) = sigma(logit)."""
    logits = losses.check_logits(logits)
    return logits.mean() if scores else torch.sigmoid(logits).mean()


def d_side_result(
    loss: Tensor, real_logits: Tensor, fake_logits: Tensor, scores: bool
) -> DSideResult:
    """What a discriminator-side update reports: its loss, and D's mean output on the data and
    on the samples (:func:`mean_output`), detached."""
    return DSideResult(
        loss,
        mean_output(real_logits.detach(), scores),
        mean_output(fake_logits.detach(), scores),
    )


@dataclass(frozen=True)
class AdversarialGame:
    """The game of G against a D that scores each sample with one number: D descends
    ``d_cost(D(x), D(G(z)))`` (plus ``penalty(D, x, G(z))``, and with its weights clipped to
    [-clip, clip] after each step), G descends ``g_cost(D(G(z)))``. Every game of lessons 1 to
    6 is one of these.

    A discriminator that judges each sample on its own (:func:`judges_each_sample_alone`)
    scores the data and the samples in one pass over both batches together: the same scores,
    half the passes (and, on a GPU, half the kernel launches)."""

    name: str
    d_cost: Callable[[Tensor, Tensor], Tensor]
    g_cost: Callable[[Tensor], Tensor]
    scores: bool = False
    penalty: Callable[[nn.Module, Tensor, Tensor], Tensor] | None = None
    clip: float | None = None
    has_d_side: bool = True

    def d_loss(self, players: Players, real: Tensor, noise: Tensor) -> DSideResult:
        generator, discriminator = players.generator, players.discriminator
        with torch.no_grad():  # D's step needs G's samples, not a graph through G
            fake = generate(generator, noise)
        check_batches(real, fake)
        m = len(real)
        if players.one_pass:
            real_logits, fake_logits = discriminator(torch.cat([real, fake])).split(m)
        else:  # batch norm, minibatch features or packs: each batch must be judged alone
            real_logits, fake_logits = discriminator(real), discriminator(fake)
        loss = self.d_cost(real_logits, fake_logits)
        if self.penalty is not None:
            loss = loss + self.penalty(discriminator, real, fake)
        return d_side_result(loss, real_logits, fake_logits, self.scores)

    def after_d_step(self, players: Players) -> None:
        if self.clip is not None:
            losses.clip_weights(players.discriminator, self.clip)

    def g_loss(self, players: Players, noise: Tensor, sample_data: Callable[[], Tensor]) -> Tensor:
        return self.g_cost(players.discriminator(generate(players.generator, noise)))


GAMES: dict[str, AdversarialGame] = {
    # Goodfellow et al. 2014: D's cross-entropy, and three costs for G (lesson 2)
    "minimax": AdversarialGame("minimax", losses.discriminator_loss, losses.minimax),
    "non_saturating": AdversarialGame(
        "non_saturating", losses.discriminator_loss, losses.non_saturating
    ),
    "maximum_likelihood": AdversarialGame(
        "maximum_likelihood", losses.discriminator_loss, losses.maximum_likelihood
    ),
    # Lim and Ye 2017 (arXiv 1705.02894)
    "hinge": AdversarialGame("hinge", losses.hinge_discriminator_loss, losses.hinge_generator_loss),
    # Arjovsky et al. 2017 (arXiv 1701.07875), Algorithm 1: c = 0.01
    "wgan_clip": AdversarialGame(
        "wgan_clip",
        losses.wasserstein_critic_loss,
        losses.wasserstein_generator_loss,
        scores=True,
        clip=0.01,
    ),
    # Gulrajani et al. 2017 (arXiv 1704.00028), Algorithm 1: lambda = 10
    "wgan_gp": AdversarialGame(
        "wgan_gp",
        losses.wasserstein_critic_loss,
        losses.wasserstein_generator_loss,
        scores=True,
        penalty=partial(losses.gradient_penalty, weight=10.0),
    ),
}


def game(
    name: str | Game,
    *,
    clip: float | None = None,
    gp_weight: float | None = None,
    gp_unit: float = 1.0,
    gp_every: int = 1,
) -> Game:
    """The game called ``name`` from ``GAMES`` (a game object passes through), with WGAN's
    clipping bound ``clip``, or WGAN-GP's ``gp_weight`` (lambda), ``gp_unit`` (the distance
    that counts as one for the penalty's slope: ``losses.gradient_penalty``) and ``gp_every``
    (the penalty on one critic step in that many, times that many: ``losses.LazyPenalty``).
    A game with a lazy penalty counts its critic steps: make one for each run."""
    if not isinstance(name, str):
        return name
    try:
        chosen = GAMES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown game {name!r}: choose one of {', '.join(GAMES)}") from None
    if chosen.clip is not None and clip is not None:
        if not clip > 0:
            raise ValueError(f"the clipping bound c must be positive, got {clip}")
        chosen = replace(chosen, clip=clip)
    if chosen.penalty is not None:
        losses.check_every(gp_every, "gp_every")
        weight = 10.0 if gp_weight is None else gp_weight
        penalty = partial(losses.gradient_penalty, weight=weight, unit=gp_unit)
        if not weight >= 0 or not gp_unit > 0:
            raise ValueError(f"need gp_weight >= 0 and gp_unit > 0, got {weight}, {gp_unit}")
        chosen = replace(
            chosen, penalty=losses.LazyPenalty(penalty, gp_every) if gp_every > 1 else penalty
        )
    return chosen


def generator_cost(game_: Game) -> Callable[[Tensor], Tensor]:
    """The generator's cost as a function of D's output on its samples, for an
    :class:`AdversarialGame` (the playground draws its gradient)."""
    if not isinstance(game_, AdversarialGame):
        raise TypeError(f"{game_.name} is not a game of G against a one-number D")
    return game_.g_cost
