"""The game table, and four games of the lessons to come written against the unchanged loop.

Each "next lesson" game is a class with the three methods of ``games.Game`` and nothing else:
what a batch holds, which models sit on each side (through the optimisers of ``Players``), the
discriminator side's loss and the generator side's. ``train.train_gan`` trains each as it is,
and a quantity the game is meant to lower falls.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancourse import config, games, losses
from gancourse.games import DSideResult, Players, mean_output
from gancourse.nets import mlp
from gancourse.train import train_gan

MODES = torch.tensor([[2.0, 2.0], [2.0, -2.0], [-2.0, 2.0], [-2.0, -2.0]])


def sample_labelled(m: int) -> tuple[Tensor, Tensor]:
    """m points of four Gaussians (std 0.1) and the index of each one's mode."""
    labels = torch.randint(len(MODES), (m,))
    return MODES[labels] + 0.1 * torch.randn(m, 2), labels


def sample_points(m: int) -> Tensor:
    return sample_labelled(m)[0]


def train_on_points(players: Players, game, steps: int, batch_size: int = 64, **kwargs):
    """``train_gan`` on the four Gaussians, z ~ N(0, I) in 2 dimensions unless given."""
    kwargs.setdefault("sample_noise", lambda m: torch.randn(m, 2))
    return train_gan(players, game, sample_data=kwargs.pop("sample_data", sample_points),
                     steps=steps, batch_size=batch_size, progress=False, **kwargs)  # fmt: skip


def adam(*modules: nn.Module, lr: float = 2e-3) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr, betas=(0.5, 0.999))


class WithLabel(nn.Module):
    """A network that reads a one-hot label beside its input: f([x, onehot(y)])."""

    def __init__(self, in_dim: int, out_dim: int, classes: int = len(MODES)) -> None:
        super().__init__()
        self.net, self.classes = mlp(in_dim + classes, out_dim, (64, 64)), classes

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([x, F.one_hot(y, self.classes).float()], dim=1))


# --- 1. a conditional GAN (Mirza and Osindero 2014): labels into G and D ----------------------
class ConditionalGame:
    """A batch is (points, labels); noise is (z, the labels asked for). D judges a point with
    its label, so G must draw the mode it is asked for."""

    name, scores, has_d_side = "conditional", False, True

    def d_loss(self, players: Players, real, noise) -> DSideResult:
        (x, y), (z, y_fake) = real, noise
        with torch.no_grad():
            fake = players.generator(z, y_fake)
        real_logits = players.discriminator(x, y)
        fake_logits = players.discriminator(fake, y_fake)
        loss = losses.discriminator_loss(real_logits, fake_logits)
        return DSideResult(loss, mean_output(real_logits, False), mean_output(fake_logits, False))

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise, sample_data) -> Tensor:
        z, y = noise
        return losses.non_saturating(players.discriminator(players.generator(z, y), y))


def labelled_noise(m: int) -> tuple[Tensor, Tensor]:
    return torch.randn(m, 2), torch.randint(len(MODES), (m,))


def distance_to_asked_mode(generator: nn.Module) -> float:
    z, y = labelled_noise(2000)
    with torch.no_grad():
        return (generator(z, y) - MODES[y]).norm(dim=1).mean().item()


def test_a_conditional_game_draws_the_mode_it_is_asked_for():
    config.seed_everything(0)
    generator, discriminator = WithLabel(2, 2), WithLabel(2, 1)
    players = Players(generator, discriminator, adam(generator), adam(discriminator))
    before = distance_to_asked_mode(generator)
    train_on_points(
        players, ConditionalGame(), 300, sample_data=sample_labelled, sample_noise=labelled_noise
    )
    after = distance_to_asked_mode(generator)
    assert before > 2.0 and after < 0.5 * before, (before, after)


# --- 2. InfoGAN (Chen et al. 2016): an auxiliary head Q on the generator side ------------------
class InfoGame:
    """The plain game plus lambda L_I, L_I = the cross-entropy of Q's guess of the categorical
    code c from G(z, c): a lower bound on the mutual information I(c; G(z, c)) less H(c).
    Q (``players.extra["q"]``) trains with G, in ``opt_g``."""

    name, scores, has_d_side = "infogan", False, True
    weight = 1.0

    def d_loss(self, players: Players, real, noise) -> DSideResult:
        return games.GAMES["non_saturating"].d_loss(
            Players(lambda zc: players.generator(*zc), players.discriminator, players.opt_g),
            real,
            noise,
        )

    def after_d_step(self, players: Players) -> None:
        pass

    def information_loss(self, players: Players, noise) -> Tensor:
        z, code = noise
        return F.cross_entropy(players.extra["q"](players.generator(z, code)), code)

    def g_loss(self, players: Players, noise, sample_data) -> Tensor:
        z, code = noise
        adversarial = losses.non_saturating(players.discriminator(players.generator(z, code)))
        return adversarial + self.weight * self.information_loss(players, noise)


def test_an_infogan_head_on_the_generator_side_learns_to_read_the_code():
    config.seed_everything(0)
    generator, discriminator, q = WithLabel(2, 2), mlp(2, 1, (64, 64)), mlp(2, 4, (64,))
    players = Players(generator, discriminator, adam(generator, q), adam(discriminator), {"q": q})
    game = InfoGame()
    probe = labelled_noise(2000)
    with torch.no_grad():
        before = game.information_loss(players, probe).item()
    train_on_points(players, game, steps=200, sample_noise=labelled_noise)
    with torch.no_grad():
        after = game.information_loss(players, probe).item()
    assert before > 0.8 * math.log(4) and after < 0.25 * before, (before, after)


# --- 3. BiGAN / ALI (Donahue et al. 2016, Dumoulin et al. 2016): D on (x, z) pairs ------------
class BiGame:
    """D tells (x, E(x)) from (G(z), z). The encoder E (``players.extra["encoder"]``) trains on
    the generator side with G, in ``opt_g``: both want D to swap its answers."""

    name, scores, has_d_side = "bigan", False, True

    @staticmethod
    def pairs(players: Players, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        real = torch.cat([x, players.extra["encoder"](x)], dim=1)
        fake = torch.cat([players.generator(z), z], dim=1)
        return players.discriminator(real), players.discriminator(fake)

    def d_loss(self, players: Players, real, noise) -> DSideResult:
        with torch.no_grad():  # D's step: the pairs as they are, no graph through G or E
            encoded, drawn = players.extra["encoder"](real), players.generator(noise)
        real_logits = players.discriminator(torch.cat([real, encoded], dim=1))
        fake_logits = players.discriminator(torch.cat([drawn, noise], dim=1))
        loss = losses.discriminator_loss(real_logits, fake_logits)
        return DSideResult(loss, mean_output(real_logits, False), mean_output(fake_logits, False))

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise, sample_data) -> Tensor:
        real_logits, fake_logits = self.pairs(players, sample_data(), noise)
        return losses.discriminator_loss(fake_logits, real_logits)  # the labels swapped


def distance_to_nearest_mode(points: Tensor) -> float:
    return torch.cdist(points, MODES).min(dim=1).values.mean().item()


def test_a_bigan_encoder_trains_on_the_generator_side_against_a_pair_discriminator():
    config.seed_everything(0)
    generator, encoder, discriminator = (
        mlp(2, 2, (64, 64)),
        mlp(2, 2, (64, 64)),
        mlp(4, 1, (64, 64)),
    )
    players = Players(
        generator,
        discriminator,
        adam(generator, encoder),
        adam(discriminator),
        {"encoder": encoder},
    )
    z = torch.randn(2000, 2)
    with torch.no_grad():
        before = distance_to_nearest_mode(generator(z))
        encoder_before = [p.clone() for p in encoder.parameters()]
    train_on_points(players, BiGame(), steps=300)
    with torch.no_grad():
        after = distance_to_nearest_mode(generator(z))
    assert any(
        not torch.equal(a, b) for a, b in zip(encoder_before, encoder.parameters(), strict=True)
    )
    assert before > 1.5 and after < 0.75 * before, (before, after)


# --- 4. a generator with no discriminator: MMD (Li et al. 2015; Dziugaite et al. 2015) ---------
def mmd_squared(x: Tensor, y: Tensor, bandwidths: tuple[float, ...] = (0.5, 1.0, 2.0)) -> Tensor:
    """MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y) with a sum of Gaussian kernels
    k(a, b) = exp(-|a - b|^2 / (2 s^2)) (the biased estimate, with the diagonals)."""
    points = torch.cat([x, y])
    distances = torch.cdist(points, points) ** 2
    kernel = sum(torch.exp(-distances / (2 * s**2)) for s in bandwidths)
    n = len(x)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


class MMDGame:
    """Generative moment matching: G lowers the MMD between its samples and a data batch. There
    is no discriminator side: the loop takes no D steps."""

    name, scores, has_d_side = "mmd", False, False

    def d_loss(self, players: Players, real, noise) -> DSideResult:
        raise AssertionError("a game without a discriminator has no D step")

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise, sample_data) -> Tensor:
        return mmd_squared(players.generator(noise), sample_data())


def test_a_game_without_a_discriminator_lowers_the_mmd():
    config.seed_everything(0)
    generator = mlp(2, 2, (64, 64))
    players = Players(generator, None, adam(generator))
    z, data = torch.randn(500, 2), sample_points(500)
    with torch.no_grad():
        before = mmd_squared(generator(z), data).item()
    history = train_on_points(players, MMDGame(), steps=200, batch_size=128)
    with torch.no_grad():
        after = mmd_squared(generator(z), data).item()
    assert after < 0.3 * before, (before, after)
    assert history.g_loss[-1] < history.g_loss[0]


# --- the table ---------------------------------------------------------------------------------
def test_the_table_holds_every_plain_game_once():
    assert list(games.GAMES) == [
        "minimax",
        "non_saturating",
        "maximum_likelihood",
        "hinge",
        "wgan_clip",
        "wgan_gp",
    ]
    assert all(game.name == name for name, game in games.GAMES.items())
    assert [name for name, game in games.GAMES.items() if game.scores] == ["wgan_clip", "wgan_gp"]


@pytest.mark.parametrize("name", list(games.GAMES))
def test_every_game_of_the_table_trains_a_plain_gan_towards_the_data(name):
    config.seed_everything(0)
    generator, discriminator = mlp(2, 2, (64, 64)), mlp(2, 1, (64, 64))
    rmsprop = lambda model: torch.optim.RMSprop(model.parameters(), 5e-3)  # noqa: E731
    optimizer = rmsprop if name == "wgan_clip" else adam  # WGAN's Algorithm 1 uses RMSProp
    opts = (optimizer(generator), optimizer(discriminator))
    players = Players(generator, discriminator, *opts)
    z = torch.randn(2000, 2)
    with torch.no_grad():
        before = distance_to_nearest_mode(generator(z))
    train_on_points(players, name, steps=200, k=5 if name.startswith("wgan") else 1)
    with torch.no_grad():
        after = distance_to_nearest_mode(generator(z))
    assert after < 0.8 * before, (name, before, after)


def test_a_game_with_settings_is_made_by_name():
    clipped = games.game("wgan_clip", clip=0.05)
    assert clipped.clip == 0.05 and games.GAMES["wgan_clip"].clip == 0.01
    lazy = games.game("wgan_gp", gp_weight=1.0, gp_every=4)
    assert isinstance(lazy.penalty, losses.LazyPenalty) and lazy.penalty.every == 4
    with pytest.raises(ValueError, match="unknown game 'gan': choose one of minimax"):
        games.game("gan")
    with pytest.raises(ValueError, match="gp_every must be a positive integer"):
        games.game("wgan_gp", gp_every=0)
