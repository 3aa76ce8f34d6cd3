"""Lesson 8: asking for what you want. A conditional GAN on MNIST.

Mirza and Osindero 2014, "Conditional Generative Adversarial Nets", arXiv 1411.1784, eq. 2:
min_G max_D E[log D(x | y)] + E[log(1 - D(G(z | y) | y))], the label y fed to both players.
Here y is a digit class: G reads [z, onehot(y)] (the DCGAN way: Radford et al.'s conditional
MNIST code concatenates the one-hot label), and D reads y either as ten constant feature maps
beside the image ("concat") or through a projection (Miyato and Koyama 2018, "cGANs with
Projection Discriminator", arXiv 1802.05637): D(x, y) = psi(phi(x)) + embed(y) . phi(x).

``ConditionalGame`` is the game: a data batch is (images, labels), a noise batch is (z, labels
asked for); it wraps any plain game's costs (``games.GAMES``). With ``mismatch`` > 0 it is
matching-aware (Reed et al. 2016, arXiv 1605.05396, GAN-CLS): a real image with a wrong label
also counts as fake, with that weight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import strokes
from .config import check_count, rng
from .evaluator import Evaluator
from .games import DSideResult, Players, check_batches, d_side_result
from .nets import dcgan_discriminator, dcgan_generator, decode
from .record import BENCH_SAMPLES, Measurement, Outcome, Recorder

CLASSES = 10
Labelled = tuple[Tensor, Tensor]  # (images or noise, labels)


def one_hot(labels: Tensor, classes: int, like: Tensor) -> Tensor:
    """``labels`` (N,) as one-hot rows (N, classes) of ``like``'s dtype and device."""
    return F.one_hot(labels, classes).to(dtype=like.dtype, device=like.device)


class ConditionalGenerator(nn.Module):
    """G(z, y): lesson 3's DCGAN generator fed [z, onehot(y)] instead of z.

    The first fractionally-strided convolution maps the 1x1 input [z, onehot(y)] to 7x7 maps,
    so each class gets its own learned 7x7 template added to what z makes: the label steers
    the digit from the first layer on."""

    def __init__(self, latent_dim: int = 100, width: int = 64, classes: int = CLASSES) -> None:
        super().__init__()
        check_count(latent_dim, "latent_dim")
        check_count(classes, "classes", 2, "a conditional GAN needs at least two classes")
        self.latent_dim, self.classes = latent_dim, classes
        self.net = dcgan_generator(latent_dim + classes, width)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.net(torch.cat([z, one_hot(labels, self.classes, z)], dim=1))


def body_and_head(in_channels: int, width: int) -> tuple[nn.Module, nn.Module]:
    """Lesson 3's improved D (spectral norm, ``nets.dcgan_discriminator``) split in two: the
    body phi, 28 -> 14 -> 7 with LeakyReLU, reading ``in_channels`` maps; and the head psi,
    the 7x7 convolution to one logit."""
    discriminator = dcgan_discriminator(width, norm="spectral", in_channels=in_channels)
    return discriminator[:4], discriminator[4]


class ConcatDiscriminator(nn.Module):
    """D(x, y) with the label as ``classes`` constant feature maps beside the image: every
    filter of the first layer sees the label at every position (the DCGAN conditional code)."""

    def __init__(self, width: int = 64, classes: int = CLASSES) -> None:
        super().__init__()
        check_count(width, "width")
        self.classes = classes
        self.body, self.head = body_and_head(1 + classes, width)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        maps = one_hot(labels, self.classes, images)[:, :, None, None]
        maps = maps.expand(-1, -1, *images.shape[2:])
        return self.head(self.body(torch.cat([images, maps], dim=1))).flatten(1)


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = psi(phi(x)) + embed(y) . sum_positions phi(x) (Miyato and Koyama 2018, eq. 3):
    the image alone is judged by psi, and the label enters as an inner product of a learned
    class vector with the image's pooled features, as the log-ratio of a softmax classifier
    would. The label touches nothing else."""

    def __init__(self, width: int = 64, classes: int = CLASSES) -> None:
        super().__init__()
        check_count(width, "width")
        self.body, self.head = body_and_head(1, width)
        self.embed = nn.utils.parametrizations.spectral_norm(nn.Embedding(classes, 2 * width))
        nn.init.normal_(self.embed.parametrizations.weight.original, 0.0, 0.02)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        features = self.body(images)  # phi(x): (N, 2 width, 7, 7)
        pooled = features.sum(dim=(2, 3))  # (N, 2 width)
        projection = (self.embed(labels) * pooled).sum(dim=1, keepdim=True)
        return self.head(features).flatten(1) + projection


DISCRIMINATORS = {"concat": ConcatDiscriminator, "projection": ProjectionDiscriminator}


def labelled_sampler(
    images: Tensor, labels: Tensor, device: torch.device | str = "cpu"
) -> Callable[[int], Labelled]:
    """``sample_data(m)``: m (image, label) pairs drawn at random, both kept on the device."""
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(
            f"need as many labels as images, and some of each: got {len(images)} images and "
            f"{len(labels)} labels"
        )
    on_device, labels_on = images.to(device), labels.to(device)

    def sample(m: int) -> Labelled:
        index = torch.randint(len(on_device), (m,), device=on_device.device)
        return on_device[index], labels_on[index]

    return sample


def labelled_noise(
    latent_dim: int, device: torch.device | str = "cpu", classes: int = CLASSES
) -> Callable[[int], Labelled]:
    """``sample_noise(m)``: z ~ N(0, I) and labels asked for, uniform over all ``classes``
    (``torch.randint``'s upper bound is exclusive: randint(0, 9) would never ask for a 9)."""

    def sample(m: int) -> Labelled:
        z = torch.randn(m, latent_dim, device=device)
        return z, torch.randint(0, classes, (m,), device=device)

    return sample


def wrong_labels(labels: Tensor, classes: int = CLASSES) -> Tensor:
    """Each label replaced by another class, uniformly among the other classes-1."""
    shift = torch.randint(1, classes, labels.shape, device=labels.device)
    return (labels + shift) % classes


@dataclass(frozen=True)
class ConditionalGame:
    """A plain game's costs (``d_cost``, ``g_cost``: e.g. ``games.GAMES["non_saturating"]``'s)
    played on labelled batches: D judges each image with its label, G draws for the labels it
    is asked for. ``mismatch`` (GAN-CLS, Reed et al. 2016, Algorithm 1): D's cost on
    fakes becomes (1 - mismatch) fake + mismatch (real image, wrong label)."""

    name: str
    d_cost: Callable[[Tensor, Tensor], Tensor]
    g_cost: Callable[[Tensor], Tensor]
    mismatch: float = 0.0
    scores: bool = False
    has_d_side: bool = True
    wrong: Callable[[Tensor], Tensor] = wrong_labels  # wrong labels (or captions) for a batch

    def d_loss(self, players: Players, real: Labelled, noise: Labelled) -> DSideResult:
        (images, labels), (z, asked) = real, noise
        discriminator = players.discriminator
        with torch.no_grad():
            fake = players.generator(z, asked)
        check_batches(images, fake)
        real_logits = discriminator(images, labels)
        fake_logits = discriminator(fake, asked)
        loss = self.d_cost(real_logits, fake_logits)
        if self.mismatch > 0:
            wrong_logits = discriminator(images, self.wrong(labels))
            loss = (1 - self.mismatch) * loss + self.mismatch * self.d_cost(
                real_logits, wrong_logits
            )
        return d_side_result(loss, real_logits, fake_logits, self.scores)

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(
        self, players: Players, noise: Labelled, sample_data: Callable[[], Labelled]
    ) -> Tensor:
        z, asked = noise
        return self.g_cost(players.discriminator(players.generator(z, asked), asked))


def sample_for_labels(
    generator: nn.Module, labels: Tensor, seed: int, batch: int = 1000, offset: bool = True
) -> Tensor:
    """G(z, y) on the CPU for each label asked for in ``labels``, z ~ N(0, I) from its own
    seeded generator (``config.rng``; ``offset=False``: the seed as it is, whatever
    GANCOURSE_SEED says), G in evaluation mode for the draw (``nets.decode``)."""
    noise = torch.randn(len(labels), generator.latent_dim, generator=rng(seed, offset=offset))
    return decode(generator, noise, labels, batch=batch)


def asked_labels(n: int, classes: int = CLASSES) -> Tensor:
    """0, 1, ..., 9, 0, 1, ...: ``n`` labels with every class equally often in any prefix of
    ``classes`` or more, so that measuring the first k samples is fair to every class."""
    return torch.arange(classes).repeat(-(-n // classes))[:n]


def conditional_record(
    generator: nn.Module,
    evaluator: Evaluator,
    *,
    every_steps: int = 0,
    at_seconds: Sequence[float] = (),
    probe: int = 3000,
    verbose: bool = False,
) -> Recorder:
    """A :class:`~gancourse.record.Recorder` for a conditional generator: at each moment the
    evaluator's accuracy against the labels asked for and the Frechet ratio on ``probe``
    samples (labels 0-9 in turn, noise of seed 1), and a snapshot of one digit per class."""
    labels = asked_labels(probe)

    def measure() -> Measurement:
        images = sample_for_labels(generator, labels, seed=1)
        return Measurement(
            {
                "label_accuracy": evaluator.label_accuracy(images, labels),
                "frechet_ratio": evaluator.evaluate(images)["frechet_ratio"],
            },
            sample_for_labels(generator, asked_labels(CLASSES), seed=2),
        )

    return Recorder(measure, every_steps, at_seconds, verbose=verbose)


def measure(
    generator: nn.Module,
    evaluator: Evaluator,
    seed: int,
    offset: bool = True,
    n: int = BENCH_SAMPLES,
) -> dict[str, Any]:
    """A conditional generator's figures on ``n`` digits (the benchmark's 10,000), as many asked
    of each class (noise of ``seed``, see :func:`sample_for_labels`): the evaluator's accuracy
    against the labels asked for, the Frechet ratio of them all (its first 3,000 on the bundled
    subset: 300 of each class), each class's own Frechet ratio, and the share of each class
    it sees."""
    labels = asked_labels(n)
    images = sample_for_labels(generator, labels, seed, offset=offset)
    figures = evaluator.evaluate(images)
    return {
        "images": images,
        "labels": labels,
        "label_accuracy": evaluator.label_accuracy(images, labels),
        "frechet_ratio": figures["frechet_ratio"],
        "inception_score": figures["inception_score"],
        "class_histogram": figures["class_histogram"],
        "min_class_fraction": min(figures["class_histogram"]),
        "max_class_fraction": max(figures["class_histogram"]),
        "class_frechet_ratios": [
            round(r, 3) for r in evaluator.class_frechet_ratios(images, labels)
        ],
    }


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 8: the conditional DCGAN (``recipes.CGAN``) trained at its budget (full: 600
    seconds of training, as lesson 3's ``dcgan`` benchmark) on the GAN's part of the digits with
    their labels, measured with the held-out evaluator: accuracy against the labels asked for,
    the Frechet ratio, each class's ratio. samples.npy holds 10,000 digits, 1,000 asked of each
    class (labels 0-9 in turn); labels.npy the label asked for each."""
    from . import recipes
    from .data import load_mnist
    from .dcgan import record_moments
    from .evaluator import gan_training_digits, load_or_train_evaluator

    recipe = recipes.CGAN
    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    run = recipes.build(recipe, gan_training_digits(digits), seed, device)
    moments = record_moments(recipe, budget)
    curve = conditional_record(run.generator, evaluator, **moments, verbose=True)
    history = recipes.train(run, recipe, budget, callback=curve)
    steps = history.step[-1]
    curve.finish(steps)
    figures = measure(run.generator, evaluator, seed + 1)
    images, labels = figures.pop("images"), figures.pop("labels")
    return Outcome(
        samples=images.numpy(),
        metrics={
            **figures,
            "curve": curve.points,
            "data": digits.source,
            "evaluator_accuracy": evaluator.accuracy,
            "recipe": recipe.as_dict(),
        },
        steps=steps,
        train_seconds=curve.train_seconds(),
        generator=run.generator,
        recipe=recipe,
        arrays={"labels": labels.numpy()},
    )


# --- A tiny text-to-image: captions from each digit's class and measured attributes ----------
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOCABULARY = ("a", *NUMBERS, "thin", "thick", "slanted", "left", "right")
WORD = {word: index for index, word in enumerate(VOCABULARY)}


@dataclass(frozen=True)
class Attributes:
    """What a caption says of a digit beyond its class: thick or thin (stroke width above its
    class's median, ``strokes.stroke_width``), slanted right or left (slant above its class's
    median, ``strokes.slant``). The medians come from the training digits, so each class splits
    into four groups of about a quarter each."""

    width_medians: Tensor  # (10,)
    slant_medians: Tensor  # (10,)

    @classmethod
    def of(cls, digits: Any) -> Attributes:
        """The medians of ``digits`` (a ``data.Digits``), class by class."""
        width, lean = strokes.stroke_width(digits.images), strokes.slant(digits.images)
        medians = [(width[digits.labels == c].median(), lean[digits.labels == c].median())
                   for c in range(CLASSES)]  # fmt: skip
        return cls(torch.stack([m[0] for m in medians]), torch.stack([m[1] for m in medians]))

    def measure(self, images: Tensor, classes: Tensor) -> tuple[Tensor, Tensor]:
        """(thick, right) for each image read as ``classes``: booleans, (N,) each."""
        classes = classes.cpu()
        thick = strokes.stroke_width(images) > self.width_medians[classes]
        right = strokes.slant(images) > self.slant_medians[classes]
        return thick, right


def caption_tokens(classes: Tensor, thick: Tensor, right: Tensor) -> Tensor:
    """Captions as word indices, (N, 5): "a thick seven slanted left" and the like."""
    n = len(classes)
    return torch.stack(
        [
            torch.full((n,), WORD["a"]),
            torch.where(thick.cpu(), WORD["thick"], WORD["thin"]),
            classes.cpu() + WORD["zero"],
            torch.full((n,), WORD["slanted"]),
            torch.where(right.cpu(), WORD["right"], WORD["left"]),
        ],
        dim=1,
    )


def caption_text(tokens: Tensor) -> str:
    """One caption's words."""
    return " ".join(VOCABULARY[i] for i in tokens.tolist())


def held_out(classes: Tensor, thick: Tensor, right: Tensor) -> Tensor:
    """The attribute combinations kept out of training, one per class: digit d loses the
    combination number d mod 4 of (thin left, thin right, thick left, thick right), so every
    word and every class is seen in training, but not every pairing."""
    combination = 2 * thick.long() + right.long()
    return combination == classes.cpu() % 4


def word_counts(tokens: Tensor, like: Tensor) -> Tensor:
    """A caption as a bag of words: how often each word of ``VOCABULARY`` occurs, (N, 16), of
    ``like``'s dtype and device. Word order is lost. A linear layer on the counts is the sum of
    one learned vector per word, the bag-of-words embedding."""
    return F.one_hot(tokens, len(VOCABULARY)).sum(dim=1).to(dtype=like.dtype, device=like.device)


class CaptionGenerator(nn.Module):
    """G(z, caption): lesson 3's DCGAN generator fed [z, word counts], as the conditional G is
    fed [z, onehot(y)]. Its first layer embeds the words: each word's column of weights is its
    learned vector, summed over the caption. The counts keep the scale of a one-hot label; a
    separate embedding table fed to G, free to grow, drowned z, and G drew one digit per
    caption whatever z was (README, lesson 8)."""

    def __init__(self, latent_dim: int = 100, width: int = 64) -> None:
        super().__init__()
        check_count(latent_dim, "latent_dim")
        self.latent_dim = latent_dim
        self.net = dcgan_generator(latent_dim + len(VOCABULARY), width)

    def forward(self, z: Tensor, tokens: Tensor) -> Tensor:
        return self.net(torch.cat([z, word_counts(tokens, z)], dim=1))


class CaptionDiscriminator(nn.Module):
    """D(x, caption) = psi(phi(x)) + embed(caption) . sum_positions phi(x): the projection
    discriminator with the caption's bag-of-words embedding (a spectral-norm linear map of the
    word counts, as the class vectors are spectrally normed) in place of a class's vector."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        check_count(width, "width")
        self.body, self.head = body_and_head(1, width)
        embed = nn.Linear(len(VOCABULARY), 2 * width, bias=False)
        self.embed = nn.utils.parametrizations.spectral_norm(embed)

    def forward(self, images: Tensor, tokens: Tensor) -> Tensor:
        features = self.body(images)
        text = self.embed(word_counts(tokens, images))
        return self.head(features).flatten(1) + (text * features.sum(dim=(2, 3))).sum(1, True)


def other_captions(tokens: Tensor) -> Tensor:
    """Wrong captions for a batch: each image gets the next image's caption (Reed et al.'s
    mismatched text), which differs from its own in most pairs."""
    return tokens.roll(1, dims=0)


def captioned(digits: Any) -> tuple[Tensor, Tensor, Attributes]:
    """The training digits of a caption GAN and their captions, the held-out combinations taken
    out (:func:`held_out`), and the attributes' medians (measured on all of ``digits``)."""
    attributes = Attributes.of(digits)
    thick, right = attributes.measure(digits.images, digits.labels)
    keep = ~held_out(digits.labels, thick, right)
    tokens = caption_tokens(digits.labels, thick, right)
    return digits.images[keep], tokens[keep], attributes


def caption_samplers(
    digits: Any, latent_dim: int, device: torch.device | str = "cpu"
) -> tuple[Callable[[int], Labelled], Callable[[int], Labelled]]:
    """``sample_data`` (images with their captions) and ``sample_noise`` (z with captions drawn
    from the training captions) for a caption GAN, without the held-out combinations."""
    images, tokens, _ = captioned(digits)
    sample_data = labelled_sampler(images, tokens, device)
    bank = tokens.to(device)

    def sample_noise(m: int) -> Labelled:
        z = torch.randn(m, latent_dim, device=device)
        return z, bank[torch.randint(len(bank), (m,), device=bank.device)]

    return sample_data, sample_noise
