"""Lesson 10: invertible conditional GANs. Encode a digit, change its label, decode it.

Perarnau et al. 2016, "Invertible Conditional GANs for image editing", arXiv 1611.06355. On a
trained conditional generator G(z, y) (lesson 8's), two encoders:

- E_z reads a digit's style back: trained on the generator's own pairs, with
  L_z = E_{z, y'} || z - E_z(G(z, y')) ||^2 (section 3.2; it never sees a real digit);
- E_y reads its class: trained on real labelled digits (the authors regress the one-hot y
  with squared error; for exclusive classes cross-entropy is the natural loss, used here).

A digit x is edited by decoding its code with another label: x' = G(E_z(x), y'); it is
reconstructed by G(E_z(x), E_y(x)). Both encoders train on the course's one loop, each as a
game with one side and no adversary (G stays as it is).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import strokes
from .conditional import CLASSES, labelled_noise, labelled_sampler
from .config import for_budget, rng
from .data import Digits
from .evaluator import Evaluator
from .games import OneSided, Players
from .history import History
from .nets import conv_encoder, decode
from .record import Outcome
from .train import linear_to_zero, train_gan

Labelled = tuple[Tensor, Tensor]


@dataclass
class LatentRegressionGame(OneSided):
    """E_z's training: L_z = mean over the batch of ||z - E_z(G(z, y'))||^2 / dim z, on the
    digits of ``decoder``, the trained conditional G, which stays as it is, in evaluation mode
    (the mode every edit decodes in)."""

    decoder: nn.Module
    name: str = "icgan_latent_regression"

    def g_loss(self, players: Players, noise: Labelled, sample_data: Callable[[], Any]) -> Tensor:
        z, labels = noise
        with torch.no_grad():
            self.decoder.eval()
            digits = self.decoder(z, labels)
        return F.mse_loss(players.generator(digits), z)


@dataclass
class LabelGame(OneSided):
    """E_y's training: the cross-entropy of its logits against the real digits' labels."""

    name: str = "icgan_label"

    def g_loss(self, players: Players, noise: Any, sample_data: Callable[[], Labelled]) -> Tensor:
        images, labels = sample_data()
        return F.cross_entropy(players.generator(images), labels)


@torch.no_grad()
def encode_style(encoder: nn.Module, images: Tensor, batch: int = 1000) -> Tensor:
    """E_z(x) for each digit, on the CPU, the encoder in evaluation mode (``nets.decode``)."""
    return decode(encoder, images, batch=batch)


@torch.no_grad()
def encode_label(encoder: nn.Module, images: Tensor, batch: int = 1000) -> Tensor:
    """E_y(x): the class E_y reads in each digit, (N,) int64."""
    return decode(encoder, images, batch=batch).argmax(dim=1)


def edit(generator: nn.Module, codes: Tensor, labels: Tensor) -> Tensor:
    """G(E_z(x), y'): each code decoded with the label asked for (on the CPU)."""
    return decode(generator, codes, labels)


def edits_of_each(codes: Tensor, classes: int = CLASSES) -> tuple[Tensor, Tensor]:
    """Every code with every label: codes repeated ``classes`` times in a row (source i's ten
    edits are rows 10 i to 10 i + 9) and the labels 0..9 for each, for a grid of one source
    per row and the ten edits across."""
    labels = torch.arange(classes).repeat(len(codes))
    return codes.repeat_interleave(classes, dim=0), labels


def correlation(a: Tensor, b: Tensor) -> float:
    """Pearson's correlation of two equally long series."""
    return float(np.corrcoef(a.double().numpy(), b.double().numpy())[0, 1])


STYLES = {"thickness": strokes.stroke_width, "slant": strokes.slant}


def style_kept(sources: Tensor, edited: Tensor, classes: int = CLASSES) -> dict[str, Any]:
    """How much of each source digit's style its edits keep, for stroke width ("thickness")
    and slant (``strokes``). ``edited`` holds ``classes`` edits per source, in the order of
    :func:`edits_of_each`. For each label asked for, the correlation over sources of the
    source's measure with its edit's (``thickness_by_label``); their mean
    (``thickness_correlation``); and the correlation over all pairs at once
    (``thickness_pooled``), which also counts how the labels differ from each other (a 1 is
    drawn thinner than an 8 whatever the source). 0: the edits forget the source; 1: they
    keep its order exactly."""
    figures: dict[str, Any] = {}
    for style, measure in STYLES.items():
        of_sources, of_edits = measure(sources), measure(edited).view(len(sources), classes)
        by_label = [correlation(of_sources, of_edits[:, k]) for k in range(classes)]
        figures[f"{style}_correlation"] = float(np.mean(by_label))
        figures[f"{style}_by_label"] = by_label
        figures[f"{style}_pooled"] = correlation(
            of_sources.repeat_interleave(classes), of_edits.flatten()
        )
    return figures


@dataclass(frozen=True)
class EncoderRecipe:
    """How E_z and E_y train: Adam (``lr``, beta1 0.5) with rates falling to 0, ``batch_size``,
    and steps at the quick and the full budget."""

    lr: float = 1e-3
    batch_size: int = 64
    style_steps: tuple[int, int] = (400, 2000)
    label_steps: tuple[int, int] = (200, 1000)


ENCODERS = EncoderRecipe()


def _train_encoder(
    outputs: int, game: Any, sample_data: Callable, sample_noise: Callable, steps: int,
    device: torch.device | str, recipe: EncoderRecipe, progress: bool | str,
) -> tuple[nn.Module, History]:  # fmt: skip
    encoder = conv_encoder(outputs).to(device)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=recipe.lr, betas=(0.5, 0.999))
    history = train_gan(
        Players(encoder, None, optimiser),
        game,
        sample_data=sample_data,
        sample_noise=sample_noise,
        steps=steps,
        batch_size=recipe.batch_size,
        lr_schedule=linear_to_zero,
        progress=progress,
    )
    return encoder.eval(), history


def train_style_encoder(
    generator: nn.Module,
    budget: str,
    device: torch.device | str = "cpu",
    recipe: EncoderRecipe | None = None,
    progress: bool | str = "E_z",
) -> tuple[nn.Module, History]:
    """E_z trained on ``generator``'s own digits (:class:`LatentRegressionGame`), from the
    global random state (seed it first), for the budget's steps."""
    check_conditional(generator)
    recipe = recipe or ENCODERS
    steps = for_budget(budget, *recipe.style_steps)
    noise = labelled_noise(generator.latent_dim, device, generator.classes)
    game = LatentRegressionGame(generator)
    return _train_encoder(generator.latent_dim, game, lambda m: None, noise, steps, device,
                          recipe, progress)  # fmt: skip


def train_label_encoder(
    digits: Digits,
    budget: str,
    device: torch.device | str = "cpu",
    recipe: EncoderRecipe | None = None,
    progress: bool | str = "E_y",
) -> tuple[nn.Module, History]:
    """E_y trained on real labelled ``digits`` (:class:`LabelGame`) for the budget's steps."""
    recipe = recipe or ENCODERS
    steps = for_budget(budget, *recipe.label_steps)
    data = labelled_sampler(digits.images, digits.labels, device)
    return _train_encoder(CLASSES, LabelGame(), data, lambda m: None, steps, device, recipe,
                          progress)  # fmt: skip


def check_conditional(generator: nn.Module) -> None:
    """Refuse a generator that cannot be edited: IcGAN needs G(z, y) (lesson 8's)."""
    if not (hasattr(generator, "latent_dim") and hasattr(generator, "classes")):
        raise ValueError(
            f"IcGAN edits with a conditional generator G(z, y), got a {type(generator).__name__}: "
            "load lesson 8's (shipped.load('cgan')) or train recipes.CGAN"
        )


def same_class_partner(labels: Tensor, seed: int = 0) -> Tensor:
    """For each digit, the index of another digit of its class, drawn at random: the class's
    digits in a random order, each paired with the next (the last with the first), so no digit
    is its own partner unless it is alone in its class. The baseline "any digit of the right
    class"."""
    partner = torch.arange(len(labels))
    draw = rng(seed, offset=False)
    for c in labels.unique():
        members = (labels == c).nonzero().flatten()
        order = members[torch.randperm(len(members), generator=draw)]
        partner[order] = order.roll(-1)
    return partner


def pixel_distance(a: Tensor, b: Tensor) -> Tensor:
    """The mean squared difference of two sets of images, per image, in [-1, 1] units."""
    return ((a.float() - b.float()) ** 2).flatten(1).mean(dim=1)


def reconstruction_quality(rebuilt: Tensor, sources: Digits, evaluator: Evaluator) -> dict:
    """How faithful reconstructions of ``sources`` are: the share the evaluator puts in the
    source's class (``reconstruction_accuracy``), and the mean pixel distance to the source
    (:func:`pixel_distance`) beside that of another digit of its class and of the mean digit:
    is the reconstruction the digit itself, or only its class?"""
    x, truth = sources.images, sources.labels
    return {
        "reconstruction_accuracy": evaluator.label_accuracy(rebuilt, truth),
        "reconstruction_distance": pixel_distance(rebuilt, x).mean().item(),
        "same_class_distance": pixel_distance(x[same_class_partner(truth)], x).mean().item(),
        "mean_digit_distance": pixel_distance(x.mean(0, keepdim=True).expand_as(x), x)
        .mean()
        .item(),
    }


def measure(
    generator: nn.Module,
    style_encoder: nn.Module,
    label_encoder: nn.Module,
    sources: Digits,
    evaluator: Evaluator,
    seed: int,
) -> dict[str, Any]:
    """IcGAN's figures on real ``sources``: each edited to all ten labels, G(E_z(x), y') (the
    evaluator's accuracy against the labels asked for, and the style kept: :func:`style_kept`),
    each reconstructed, G(E_z(x), E_y(x)) (the evaluator's accuracy against its true class,
    and the pixel distance to it beside a random digit of its class and the mean digit); and
    the generator's own ceiling: the style kept when G edits its own digits, from noise of
    ``seed``, whose codes are known exactly."""
    x, truth = sources.images, sources.labels
    codes = encode_style(style_encoder, x)
    edit_codes, asked = edits_of_each(codes)
    edited = edit(generator, edit_codes, asked)
    read = encode_label(label_encoder, x)
    rebuilt = edit(generator, codes, read)
    noise = torch.randn(len(x), generator.latent_dim, generator=rng(seed))
    own = edit(generator, noise, truth)
    own_edits = edit(generator, *edits_of_each(noise))
    return {
        "edited": edited,
        "asked": asked,
        "reconstructed": rebuilt,
        "edit_accuracy": evaluator.label_accuracy(edited, asked),
        **style_kept(x, edited),
        "generator_ceiling": style_kept(own, own_edits),
        "label_encoder_accuracy": (read == truth).float().mean().item(),
        **reconstruction_quality(rebuilt, sources, evaluator),
    }


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 10: IcGAN on lesson 8's shipped conditional generator: E_z trained on its digits,
    E_y on the GAN's real labelled digits, both at ``budget``; the 1,000 held-out digits each
    edited to all ten labels (:func:`measure`). samples.npy: the 10,000 edits, source i's ten in
    rows 10 i to 10 i + 9; labels.npy: the label asked of each."""
    from . import shipped
    from .data import load_mnist
    from .evaluator import gan_training_digits, held_out_digits, load_or_train_evaluator

    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    generator = shipped.load("cgan", device)
    start = time.perf_counter()
    style_encoder, style_history = train_style_encoder(generator, budget, device)
    label_encoder, label_history = train_label_encoder(gan_training_digits(digits), budget, device)
    train_seconds = time.perf_counter() - start
    figures = measure(generator, style_encoder, label_encoder, held_out_digits(digits),
                      evaluator, seed + 1)  # fmt: skip
    edited, asked = figures.pop("edited"), figures.pop("asked")
    figures.pop("reconstructed")
    steps = style_history.step[-1] + label_history.step[-1]
    return Outcome(
        samples=edited.numpy(),
        metrics={
            **figures,
            "sources": len(edited) // CLASSES,
            "generator": shipped.describe("cgan"),
            "data": digits.source,
            "evaluator_accuracy": evaluator.accuracy,
            "encoders": asdict(ENCODERS),  # the settings of both encoders
        },
        steps=steps,
        train_seconds=train_seconds,
        arrays={"labels": asked.numpy()},
    )
