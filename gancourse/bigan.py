"""Lesson 10: running the generator backwards. ALI / BiGAN: an encoder, and D on (x, z) pairs.

Donahue et al. 2016, "Adversarial Feature Learning", arXiv 1605.09782 (BiGAN), and Dumoulin
et al. 2016, "Adversarially Learned Inference", arXiv 1606.00704 (ALI), eq. 1: beside the
generator G: z -> x, an encoder E: x -> z, and a discriminator on pairs,

    min_{G, E} max_D  V(D, G, E) = E_{x ~ data}[log D(x, E(x))] + E_{z ~ p(z)}[log(1 - D(G(z), z))].

D tells the encoder's pairs (x, E(x)) from the generator's (G(z), z). At its optimum the two
joint distributions are equal, and then (deterministic E and G) E = G^-1 almost everywhere:
a pair (x, E(x)) can only look like a (G(z), z) if G(E(x)) = x. G and E play on one side (one
optimiser) with the labels swapped (ALI, section 2.5, the non-saturating form): G wants
D(G(z), z) called real, E wants D(x, E(x)) called fake.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import losses
from .config import rng
from .data import Digits, Mixture2D, grid
from .evaluator import Evaluator
from .games import DSideResult, Players, d_side_result, generate
from .metrics import mode_coverage
from .nets import Scale, decode, mlp, sample_generator
from .record import BENCH_SAMPLES, Measurement, Outcome, Recorder

if TYPE_CHECKING:
    from .recipes import Recipe
    from .toy2d import SeedResult

EVAL_SAMPLES = 2500  # VEEGAN's protocol, as lessons 4 to 6


class JointDiscriminator(nn.Module):
    """D(x, z): one logit per pair, from an MLP on [x / scale flattened, z]; LeakyReLU 0.2, and
    dropout (``dropout`` > 0) after each hidden layer, as in BiGAN's and ALI's MNIST models.
    ``scale``: x in units of the data's spread, as z is in units of the prior's."""

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        hidden: Sequence[int],
        dropout: float = 0.0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = []
        width_in = data_dim + latent_dim
        for width in hidden:
            layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width_in = width
        layers.append(nn.Linear(width_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.net(torch.cat([x.flatten(1) / self.scale, z], dim=1))


class ConvJointDiscriminator(nn.Module):
    """D(x, z) on digits: x through lesson 3's convolutions (28 -> 14 -> 7, ``width`` and
    2 ``width`` maps) to ``hidden`` features, z through two dense layers to as many, then one
    dense layer on both and the logit; LeakyReLU 0.2 and spectral norm on every layer (lesson
    3's improved D). Giving z a path as deep as x's is what lets D look at it at all."""

    def __init__(self, latent_dim: int, width: int = 24, hidden: int = 256) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        act = nn.LeakyReLU(0.2)
        self.x_path = nn.Sequential(
            sn(nn.Conv2d(1, width, 4, 2, 1)), act,
            sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), act,
            nn.Flatten(), sn(nn.Linear(2 * width * 7 * 7, hidden)), act,
        )  # fmt: skip
        self.z_path = nn.Sequential(
            sn(nn.Linear(latent_dim, hidden)), act, sn(nn.Linear(hidden, hidden)), act
        )
        self.joint = nn.Sequential(sn(nn.Linear(2 * hidden, hidden)), act, sn(nn.Linear(hidden, 1)))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.joint(torch.cat([self.x_path(x), self.z_path(z)], dim=1))


def encoder_mlp(
    data_dim: int, latent_dim: int, hidden: Sequence[int], scale: float = 1.0
) -> nn.Module:
    """E: x -> z, an MLP on x / ``scale`` flattened (LeakyReLU 0.2), deterministic as in
    BiGAN."""
    return nn.Sequential(nn.Flatten(), Scale(1 / scale), mlp(data_dim, latent_dim, hidden))


def encoder_of(players: Players) -> nn.Module:
    """The encoder E of a BiGAN's players (``players.extra["encoder"]``)."""
    if "encoder" not in players.extra:
        raise ValueError("the BiGAN game needs an encoder: Players(..., extra={'encoder': E})")
    return players.extra["encoder"]


@dataclass(frozen=True)
class BiGANGame:
    """ALI / BiGAN: D descends the cross-entropy of calling (x, E(x)) real and (G(z), z) fake;
    G and E descend the same cross-entropy with the labels swapped (ALI's section 2.5).

    With ``latent_regression`` = lambda > 0, G and E also descend lambda ||E(G(z)) - z||^2 / dim z:
    E must read back the code of each generated sample (BiGAN's authors' "joint latent
    regressor" baseline, which they ran with lambda 0.25)."""

    latent_regression: float = 0.0
    name: str = "bigan"
    scores: bool = False
    has_d_side: bool = True

    def d_loss(self, players: Players, real: Tensor, noise: Tensor) -> DSideResult:
        with torch.no_grad():  # D's step: the pairs as they are, no graph through G or E
            encoded = encoder_of(players)(real)
            generated = generate(players.generator, noise)
        real_logits = players.discriminator(real, encoded)
        fake_logits = players.discriminator(generated, noise)
        loss = losses.discriminator_loss(real_logits, fake_logits)
        return d_side_result(loss, real_logits, fake_logits, self.scores)

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise: Tensor, sample_data: Callable[[], Tensor]) -> Tensor:
        x, encoder, discriminator = sample_data(), encoder_of(players), players.discriminator
        generated = generate(players.generator, noise)
        real_logits, fake_logits = discriminator(x, encoder(x)), discriminator(generated, noise)
        loss = losses.discriminator_loss(fake_logits, real_logits)  # the labels swapped
        if self.latent_regression:
            loss = loss + self.latent_regression * F.mse_loss(encoder(generated), noise)
        return loss


@torch.no_grad()
def reconstruct(generator: nn.Module, encoder: nn.Module, x: Tensor, batch: int = 1000) -> Tensor:
    """G(E(x)) for each row of ``x``, on the CPU, both models in evaluation mode for the pass
    (``nets.decode``): the generator run backwards, then forwards."""
    return decode(generator, decode(encoder, x, batch=batch), batch=batch)


def nearest_mode(points: Tensor, means: Tensor) -> Tensor:
    """The index of the mode nearest each point, (N,) int64."""
    return torch.cdist(points.float(), means.float()).argmin(dim=1)


def same_mode_fraction(
    x: Tensor, reconstructed: Tensor, mixture: Mixture2D, high_quality: bool = False
) -> float:
    """The share of points whose reconstruction G(E(x)) lands on x's own mode: nearest to the
    same mode; with ``high_quality``, also within 3 standard deviations of it (a high-quality
    point, as VEEGAN counts them)."""
    means = mixture.means
    own = nearest_mode(x, means)
    landed = nearest_mode(reconstructed, means) == own
    if high_quality:
        landed &= (reconstructed.float() - means[own]).norm(dim=1) <= 3 * mixture.std
    return landed.float().mean().item()


def trained_pair(recipe: Recipe, result: SeedResult, mix: Mixture2D) -> tuple[nn.Module, nn.Module]:
    """The generator and the encoder of a finished 2D run (``toy2d.SeedResult``), rebuilt on
    the CPU from their weights, in evaluation mode."""
    from .recipes import encoder_model, models

    generator = models(recipe, "cpu", 2, mix.coordinate_std)[0]
    generator.load_state_dict(result.generator_state)
    encoder = encoder_model(recipe, "cpu", 2, mix.coordinate_std)
    encoder.load_state_dict(result.encoder_state)
    return generator.eval(), encoder.eval()


def grid_figures(
    generator: nn.Module, encoder: nn.Module | None, mix: Mixture2D, seed: int
) -> dict[str, Any]:
    """A 2D generator's figures on ``mix``: VEEGAN's mode metrics on 2,500 of 10,000 samples
    (noise of ``seed``), and with an encoder, the share of 2,500 data points (drawn with
    ``seed + 1``) whose reconstruction G(E(x)) lands on their own mode (nearest to it; and
    within 3 std of it: ``reconstruction_high_quality``)."""
    samples = sample_generator(generator, BENCH_SAMPLES, seed=seed)
    coverage = mode_coverage(samples[:EVAL_SAMPLES].numpy(), mix.means.numpy(), mix.std)
    figures: dict[str, Any] = {"samples": samples, **coverage.as_dict()}
    if encoder is not None:
        x = mix.sample(EVAL_SAMPLES, generator=rng(seed + 1))
        rebuilt = reconstruct(generator, encoder, x)
        figures["reconstruction_same_mode"] = same_mode_fraction(x, rebuilt, mix)
        figures["reconstruction_high_quality"] = same_mode_fraction(x, rebuilt, mix, True)
    return figures


def grid_benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 10: ALI on the grid of 25 (``recipes.ALI_GRID``) and, trained at the same time in
    another worker, the plain GAN with the same G and D widths and no encoder
    (``recipes.GAN_GRID_2D``), both for ALI's steps at ``budget``. ALI's figures: modes, high
    quality and reverse KL on 2,500 of its 10,000 samples (VEEGAN's protocol), and the share of
    2,500 grid points reconstructed on their own mode; the GAN's mode figures beside them."""
    from .recipes import ALI_GRID, GAN_GRID_2D, models
    from .toy2d import Job, train_runs

    mix, steps = grid(), ALI_GRID.steps(budget)
    jobs = [Job("grid", ALI_GRID, steps, seed), Job("grid", GAN_GRID_2D, steps, seed)]
    ali, gan = train_runs(jobs, device, desc="ALI and the GAN on the grid")
    figures = grid_figures(*trained_pair(ALI_GRID, ali, mix), mix, seed + 1)
    plain = models(GAN_GRID_2D, "cpu", 2, mix.coordinate_std)[0]
    plain.load_state_dict(gan.generator_state)
    gan_figures = grid_figures(plain.eval(), None, mix, seed + 1)
    samples = figures.pop("samples")
    return Outcome(
        samples=samples.numpy(),
        metrics={
            "target": "grid",
            "samples_measured": EVAL_SAMPLES,
            **figures,
            "gan": {key: value for key, value in gan_figures.items() if key != "samples"},
            "gan_seconds": round(gan.seconds, 1),
            "recipe": ALI_GRID.as_dict(),
            "gan_recipe": GAN_GRID_2D.as_dict(),
        },
        steps=steps,
        train_seconds=ali.seconds,
        generator=None,
    )


# --- BiGAN on digits -----------------------------------------------------------------------
IMAGE = (1, 28, 28)
PIXELS = 28 * 28


def digit_generator(latent_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """BiGAN's permutation-invariant MNIST generator, narrower: z -> (Linear, batch norm,
    ReLU) per hidden width -> 784 pixels, tanh, shaped (N, 1, 28, 28)."""
    layers: list[nn.Module] = []
    width_in = latent_dim
    for width in hidden:
        layers += [nn.Linear(width_in, width), nn.BatchNorm1d(width), nn.ReLU()]
        width_in = width
    return nn.Sequential(*layers, nn.Linear(width_in, PIXELS), nn.Tanh(), nn.Unflatten(1, IMAGE))


def digit_encoder(latent_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """BiGAN's MNIST encoder, narrower: the pixels as a flat vector -> (Linear, LeakyReLU 0.2)
    per hidden width, batch norm before every activation but the first -> z."""
    layers: list[nn.Module] = [nn.Flatten()]
    width_in = PIXELS
    for index, width in enumerate(hidden):
        norm = [nn.BatchNorm1d(width)] if index else []
        layers += [nn.Linear(width_in, width), *norm, nn.LeakyReLU(0.2)]
        width_in = width
    return nn.Sequential(*layers, nn.Linear(width_in, latent_dim))


def nearest_neighbour_accuracy(
    train: Tensor, train_labels: Tensor, test: Tensor, test_labels: Tensor
) -> float:
    """The accuracy of the 1-nearest-neighbour classifier by cosine similarity (BiGAN's
    feature test): each test row takes the label of the most similar training row."""
    similarity = (
        F.normalize(test.flatten(1).float(), dim=1) @ F.normalize(train.flatten(1).float(), dim=1).T
    )
    predicted = train_labels[similarity.argmax(dim=1)]
    return (predicted == test_labels).float().mean().item()


def feature_figures(
    encoder: nn.Module, untrained: nn.Module, labelled: Digits, test: Digits
) -> dict[str, float]:
    """1-nearest-neighbour accuracy on ``test`` from the ``labelled`` digits alone (100 of
    them, say), on three representations: the trained encoder's E(x), the same encoder
    untrained (its random initial weights), and the raw pixels."""
    representations = {
        "encoder": lambda x: decode(encoder, x),
        "untrained_encoder": lambda x: decode(untrained, x),
        "pixels": lambda x: x,
    }
    return {
        f"nearest_neighbour_{name}": nearest_neighbour_accuracy(
            represent(labelled.images), labelled.labels, represent(test.images), test.labels
        )
        for name, represent in representations.items()
    }


def reconstruction_figures(
    generator: nn.Module, encoder: nn.Module, test: Digits, evaluator: Evaluator
) -> dict[str, Any]:
    """G(E(x)) of every ``test`` digit, and how faithful it is (``icgan.reconstruction_quality``:
    the share in x's class, the pixel distance to x beside another digit of x's class and the
    mean digit): is G(E(x)) x itself, or only its class?"""
    from .icgan import reconstruction_quality

    rebuilt = reconstruct(generator, encoder, test.images)
    return {"reconstructions": rebuilt, **reconstruction_quality(rebuilt, test, evaluator)}


def reconstruction_record(
    generator: nn.Module,
    encoder: nn.Module,
    test: Digits,
    evaluator: Evaluator,
    *,
    every_steps: int = 0,
    at_seconds: Sequence[float] = (),
) -> Recorder:
    """A :class:`~gancourse.record.Recorder` of the reconstructions' class accuracy and pixel
    distance on ``test`` at each moment, with the first ten reconstructions as a snapshot."""

    def measure() -> Measurement:
        figures = reconstruction_figures(generator, encoder, test, evaluator)
        kept = ("reconstruction_accuracy", "reconstruction_distance")
        return Measurement({k: figures[k] for k in kept}, figures["reconstructions"][:10])

    return Recorder(measure, every_steps, at_seconds, verbose=True)


def mnist_benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 10: BiGAN on the GAN's part of the digits (``recipes.BIGAN_MNIST``) at its budget.
    The 1,000 held-out digits reconstructed, G(E(x)) (:func:`reconstruction_figures`), with a
    curve of their accuracy over training; E's features against an untrained encoder and the
    pixels with 100 labelled digits (:func:`feature_figures`). recon.npy holds the
    reconstructions, recon_labels.npy their sources' classes, samples.npy 10,000 of G's digits."""
    from .data import load_mnist
    from .dcgan import record_moments
    from .evaluator import gan_training_digits, held_out_digits, load_or_train_evaluator
    from .recipes import BIGAN_MNIST, build, train
    from .semisupervised import split_digits

    recipe = BIGAN_MNIST
    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    test = held_out_digits(digits)
    run = build(recipe, gan_training_digits(digits), seed, device)
    encoder = encoder_of(run.players)
    untrained = copy.deepcopy(encoder)
    curve = reconstruction_record(
        run.generator, encoder, test, evaluator, **record_moments(recipe, budget)
    )
    history = train(run, recipe, budget, callback=curve)
    steps = history.step[-1]
    curve.finish(steps)
    figures = reconstruction_figures(run.generator, encoder, test, evaluator)
    split = split_digits(digits, per_class=10, seed=seed)
    labelled = Digits(split.labelled, split.labels, "labelled")
    samples = sample_generator(run.generator, BENCH_SAMPLES, seed=seed + 1)
    return Outcome(
        samples=samples.numpy(),
        metrics={
            **{key: value for key, value in figures.items() if key != "reconstructions"},
            **feature_figures(encoder, untrained, labelled, test),
            "labelled_digits": len(labelled.labels),
            "frechet_ratio": evaluator.evaluate(samples)["frechet_ratio"],
            "curve": curve.points,
            "data": digits.source,
            "evaluator_accuracy": evaluator.accuracy,
            "recipe": recipe.as_dict(),
        },
        steps=steps,
        train_seconds=curve.train_seconds(),
        arrays={"recon": figures["reconstructions"].numpy(), "recon_labels": test.labels.numpy()},
    )
