"""Lesson 8: InfoGAN, codes that come to mean something without labels.

Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets", arXiv 1606.03657. G reads noise z and a code c: one categorical
code of 10 values and two continuous codes in [-1, 1]. The game adds -lambda L_I, with

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)} [log Q(c | x)] + H(c)  <=  I(c; G(z, c))

(Lemma 5.1): a network Q that guesses c back from G(z, c) bounds the mutual information from
below, and both G and Q raise the bound. Q shares D's body and adds a small head (section 5).
For the categorical code -log Q(c | x) is a cross-entropy; for a continuous code Q is a
Gaussian of fixed unit spread, so -log Q is half the squared error, up to a constant. As in the
authors' code, the bound is raised on both sides: by G, through its samples, and by D's body
and Q, in D's step. No label is read anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conditional import body_and_head
from .config import check_count, rng
from .evaluator import CLASSES, Evaluator
from .games import DSideResult, Players, check_batches, d_side_result
from .nets import dcgan_generator, decode
from .record import BENCH_SAMPLES, Measurement, Outcome, Recorder
from .strokes import slant, stroke_width

CATEGORIES = 10  # one categorical code of 10 values
CONTINUOUS = 2  # and two continuous codes, uniform on [-1, 1]
NOISE_DIM = 62  # z, as in the authors' MNIST launcher
Codes = tuple[Tensor, Tensor, Tensor]  # (z, the categorical code, the continuous codes)


class InfoGenerator(nn.Module):
    """G(z, c, u): lesson 3's DCGAN generator fed [z, onehot(c), u]."""

    def __init__(self, width: int = 64, noise_dim: int = NOISE_DIM) -> None:
        super().__init__()
        self.latent_dim = noise_dim
        self.net = dcgan_generator(noise_dim + CATEGORIES + CONTINUOUS, width)

    def forward(self, z: Tensor, code: Tensor, continuous: Tensor) -> Tensor:
        one_hot = F.one_hot(code, CATEGORIES).to(z.dtype)
        return self.net(torch.cat([z, one_hot, continuous], dim=1))


class InfoDiscriminator(nn.Module):
    """D and Q on one body (lesson 3's spectral-norm D without its last layer): D's head gives
    the logit; Q's head (a hidden layer of 128) gives 10 logits for the categorical code and
    the means of the continuous codes. ``forward`` returns D's logit, ``judge_and_read`` both
    from one pass through the body."""

    def __init__(self, width: int = 64, hidden: int = 128) -> None:
        super().__init__()
        check_count(width, "width")
        self.body, self.head = body_and_head(1, width)
        self.q = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, CATEGORIES + CONTINUOUS),
        )

    def judge_and_read(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """D's logits (N, 1) and Q's outputs (N, 10 + 2), from one pass through the body."""
        features = self.body(images)
        return self.head(features).flatten(1), self.q(features)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images)).flatten(1)


def info_noise(device: torch.device | str = "cpu") -> Callable[[int], Codes]:
    """``sample_noise(m)``: z ~ N(0, I) in 62 dimensions, c uniform over the 10 categories, u
    uniform on [-1, 1]^2."""

    def sample(m: int) -> Codes:
        z = torch.randn(m, NOISE_DIM, device=device)
        code = torch.randint(0, CATEGORIES, (m,), device=device)
        continuous = torch.rand(m, CONTINUOUS, device=device) * 2 - 1
        return z, code, continuous

    return sample


def information_loss(
    q_out: Tensor, code: Tensor, continuous: Tensor, continuous_weight: float
) -> tuple[Tensor, Tensor]:
    """-L_I up to constants: the cross-entropy of Q's guess of the categorical code, plus
    ``continuous_weight`` times half the squared error of its guess of the continuous codes
    (the negative log-density of a unit Gaussian). Returns it and the cross-entropy alone."""
    cross_entropy = F.cross_entropy(q_out[:, :CATEGORIES], code)
    squared = 0.5 * (q_out[:, CATEGORIES:] - continuous).pow(2).sum(dim=1).mean()
    return cross_entropy + continuous_weight * squared, cross_entropy


def mutual_information_bound(cross_entropy: float) -> float:
    """The lower bound on I(c; G(z, c)) for the categorical code: H(c) - cross-entropy, with
    H(c) = log 10 nats for a uniform code (its ceiling)."""
    return math.log(CATEGORIES) - cross_entropy


@dataclass(frozen=True)
class InfoGame:
    """A plain game's costs plus ``weight`` times -L_I on both sides (see the module)."""

    name: str
    d_cost: Callable[[Tensor, Tensor], Tensor]
    g_cost: Callable[[Tensor], Tensor]
    weight: float = 1.0
    continuous_weight: float = 1.0
    scores: bool = False
    has_d_side: bool = True

    def d_loss(self, players: Players, real: Tensor, noise: Codes) -> DSideResult:
        discriminator = players.discriminator
        with torch.no_grad():
            fake = players.generator(*noise)
        check_batches(real, fake)
        real_logits = discriminator(real)
        fake_logits, q_out = discriminator.judge_and_read(fake)
        info, _ = information_loss(q_out, noise[1], noise[2], self.continuous_weight)
        loss = self.d_cost(real_logits, fake_logits) + self.weight * info
        return d_side_result(loss, real_logits, fake_logits, self.scores)

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise: Codes, sample_data: Callable[[], Tensor]) -> Tensor:
        logits, q_out = players.discriminator.judge_and_read(players.generator(*noise))
        info, _ = information_loss(q_out, noise[1], noise[2], self.continuous_weight)
        return self.g_cost(logits) + self.weight * info


def sample_codes(
    generator: nn.Module,
    code: Tensor,
    continuous: Tensor,
    seed: int,
    batch: int = 1000,
    offset: bool = True,
) -> Tensor:
    """G(z, c, u) on the CPU for the given codes, z ~ N(0, I) from its own seeded generator
    (``config.rng``; ``offset=False``: the seed as it is), G in evaluation mode for the draw
    (``nets.decode``)."""
    z = torch.randn(len(code), generator.latent_dim, generator=rng(seed, offset=offset))
    return decode(generator, z, code, continuous, batch=batch)


def best_mapping(codes: Tensor, classes: Tensor) -> tuple[dict[int, int], float]:
    """The one-to-one map from categorical codes to classes that agrees most often (the
    Hungarian algorithm on the 10 x 10 table of counts), and the share it gets right: how well
    the code, learnt without labels, sorts digits into classes."""
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((CATEGORIES, CLASSES), dtype=np.int64)
    np.add.at(counts, (codes.numpy(), classes.numpy()), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
    return mapping, float(counts[rows, cols].sum() / len(codes))


def traversal(
    generator: nn.Module, which: int, values: Sequence[float], rows: int, seed: int
) -> Tensor:
    """Digits (rows, len(values), 1, 28, 28): row i keeps one z and categorical code (code i
    mod 10) and the other continuous code at 0, and sweeps continuous code ``which`` over
    ``values`` (the paper's Figure 2 sweeps -2 to 2, beyond the training range)."""
    count = len(values)
    code = torch.arange(rows).remainder(CATEGORIES).repeat_interleave(count)
    continuous = torch.zeros(rows * count, CONTINUOUS)
    continuous[:, which] = torch.tensor(list(values), dtype=torch.float32).repeat(rows)
    z = torch.randn(rows, generator.latent_dim, generator=rng(seed)).repeat_interleave(count, 0)
    images = decode(generator, z, code, continuous)
    return images.reshape(rows, count, *images.shape[1:])


def traversal_effects(
    frames: Tensor, values: Sequence[float], evaluator: Evaluator
) -> dict[str, float]:
    """What sweeping a continuous code does, over the rows of a :func:`traversal`: the mean
    change of slant and of stroke width per unit of the code (least-squares slope, per row,
    averaged), and the share of frames the evaluator puts in the class of the row's middle
    frame (the class stays put)."""
    rows, count = frames.shape[:2]
    flat = frames.reshape(rows * count, *frames.shape[2:])
    x = torch.tensor(list(values), dtype=torch.float32)
    x = x - x.mean()

    def slope(measure: Tensor) -> float:
        y = measure.reshape(rows, count)
        return float(((y - y.mean(1, keepdim=True)) * x).sum(1).div(x.pow(2).sum()).mean())

    classes = evaluator.predict(flat).reshape(rows, count)
    kept = (classes == classes[:, count // 2 : count // 2 + 1]).float().mean().item()
    return {"slant_per_unit": slope(slant(flat)), "width_per_unit": slope(stroke_width(flat)),
            "class_kept": kept}  # fmt: skip


def measure(
    generator: nn.Module, evaluator: Evaluator, seed: int, offset: bool = True
) -> dict[str, Any]:
    """An InfoGAN generator's figures on ``BENCH_SAMPLES`` digits, categorical codes 0-9 in
    turn, continuous codes uniform on [-1, 1] (noise of ``seed + 1``), z of ``seed`` (see
    :func:`sample_codes`): the best one-to-one mapping from codes to the evaluator's classes
    and the share it gets right, and the Frechet ratio; with the images and their codes."""
    code = torch.arange(BENCH_SAMPLES).remainder(CATEGORIES)
    draw = rng(seed + 1, offset=offset)
    continuous = torch.rand(BENCH_SAMPLES, CONTINUOUS, generator=draw) * 2 - 1
    images = sample_codes(generator, code, continuous, seed, offset=offset)
    mapping, accuracy = best_mapping(code, evaluator.predict(images))
    return {
        "images": images,
        "codes": code,
        "mapping_accuracy": accuracy,
        "mapping": {str(c): d for c, d in mapping.items()},
        "frechet_ratio": evaluator.evaluate(images)["frechet_ratio"],
    }


def info_record(
    generator: nn.Module,
    discriminator: InfoDiscriminator,
    evaluator: Evaluator,
    *,
    every_steps: int = 0,
    at_seconds: Sequence[float] = (),
    probe: int = 3000,
    verbose: bool = False,
) -> Recorder:
    """A Recorder for InfoGAN: at each moment the categorical code's best-mapping accuracy
    against the evaluator's classes and the Frechet ratio on ``probe`` samples (codes 0-9 in
    turn, continuous codes 0, noise of seed 1), and the mutual-information bound log 10 - CE
    of Q's guess of the code on them."""
    code = torch.arange(probe).remainder(CATEGORIES)
    continuous = torch.zeros(probe, CONTINUOUS)

    def measure() -> Measurement:
        images = sample_codes(generator, code, continuous, seed=1)
        device = next(discriminator.parameters()).device
        discriminator.eval()  # spectral norm's iteration stays where training left it
        with torch.no_grad():
            q_out = torch.cat(
                [discriminator.judge_and_read(x.to(device))[1].cpu() for x in images.split(1000)]
            )
        discriminator.train()
        cross_entropy = F.cross_entropy(q_out[:, :CATEGORIES], code).item()
        return Measurement({
            "mapping_accuracy": best_mapping(code, evaluator.predict(images))[1],
            "frechet_ratio": evaluator.evaluate(images)["frechet_ratio"],
            "information_bound": mutual_information_bound(cross_entropy),
        })  # fmt: skip

    return Recorder(measure, every_steps, at_seconds, verbose=verbose)


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 8: InfoGAN (``recipes.INFOGAN``) at its budget (full: 600 seconds of training) on
    the GAN's part of the digits, without their labels. Measured: the best one-to-one mapping
    from the categorical code to the evaluator's classes (accuracy on 10,000 samples), the
    Frechet ratio, the mutual-information bound, and what each continuous code does to slant
    and stroke width. samples.npy: 10,000 digits (codes 0-9 in turn, continuous codes uniform);
    codes.npy: each one's categorical code."""
    from . import recipes
    from .data import load_mnist
    from .dcgan import record_moments
    from .evaluator import gan_training_digits, load_or_train_evaluator

    recipe = recipes.INFOGAN
    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    training = gan_training_digits(digits)
    run = recipes.build(recipe, training.images, seed, device)  # the images alone: no labels
    moments = record_moments(recipe, budget)
    curve = info_record(run.generator, run.discriminator, evaluator, **moments, verbose=True)
    history = recipes.train(run, recipe, budget, callback=curve)
    steps = history.step[-1]
    curve.finish(steps)
    figures = measure(run.generator, evaluator, seed + 1)
    images, code = figures.pop("images"), figures.pop("codes")
    values = [-2.0, -1.0, 0.0, 1.0, 2.0]
    effects = {
        f"continuous_{k}": traversal_effects(
            traversal(run.generator, k, values, 100, seed + 3), values, evaluator
        )
        for k in range(CONTINUOUS)
    }
    return Outcome(
        samples=images.numpy(),
        metrics={
            **figures,
            "information_bound": curve.points[-1]["information_bound"],
            "information_ceiling": math.log(CATEGORIES),
            **effects,
            "curve": curve.points,
            "data": digits.source,
            "labels_read": False,  # the run was built from the images alone
            "recipe": recipe.as_dict(),
        },
        steps=steps,
        train_seconds=curve.train_seconds(),
        generator=run.generator,
        recipe=recipe,
        arrays={"codes": code.numpy()},
    )
