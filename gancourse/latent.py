"""Lesson 8: arithmetic on a generator's codes (Radford et al. 2015, arXiv 1511.06434,
section 6.3.2): "smiling woman - neutral woman + neutral man = smiling man", on digits.

A concept is a set of codes z whose digits share a class and an attribute (thick or thin
strokes, ``strokes.stroke_width``; or any other measure, such as ``strokes.slant``: leaning
right or left), found by drawing many digits from a trained unconditional
generator and measuring them: the evaluator gives the class, the pixels the attribute. The
paper averaged the codes of three exemplars per concept, since arithmetic on single codes was
unstable; :func:`success_rate` measures both over many random choices of exemplars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .config import rng
from .evaluator import Evaluator
from .nets import decode, latent_size
from .strokes import stroke_width

Measure = Callable[[Tensor], Tensor]  # images (N, 1, 28, 28) -> one number each, (N,)


@dataclass
class Pool:
    """Codes drawn for a generator, and what their digits are: the evaluator's class and its
    confidence, and the attribute measured (the stroke width unless told otherwise)."""

    codes: Tensor  # (N, latent)
    classes: Tensor  # (N,)
    confidence: Tensor  # (N,) the evaluator's probability of its class
    attribute: Tensor  # (N,)

    def concept(self, digit: int, high: bool, share: float = 0.2, sure: float = 0.9) -> Tensor:
        """The indices of confidently classified ``digit`` s (the evaluator's probability above
        ``sure``) among the ``share`` of that class in the pool with the highest attribute
        (``high``: the thickest strokes) or the lowest (the thinnest): a concept's exemplars."""
        mine = (self.classes == digit) & (self.confidence > sure)
        values = self.attribute[mine]
        if len(values) < 10:
            raise ValueError(f"only {len(values)} confident {digit}s in the pool: draw more codes")
        cut = values.quantile(1 - share if high else share)
        chosen = mine & ((self.attribute >= cut) if high else (self.attribute <= cut))
        return chosen.nonzero().flatten()


def draw_pool(
    generator: nn.Module, evaluator: Evaluator, n: int, seed: int, measure: Measure = stroke_width
) -> Pool:
    """``n`` codes z ~ N(0, I) (noise of ``seed``), decoded, classified and ``measure`` d."""
    codes = torch.randn(n, latent_size(generator), generator=rng(seed))
    images = decode(generator, codes)
    probabilities = torch.from_numpy(evaluator.features_and_probabilities(images)[1])
    confidence, classes = probabilities.max(dim=1)
    return Pool(codes, classes, confidence, measure(images))


def combine(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """mean(a) - mean(b) + mean(c): each concept's exemplars averaged, then the arithmetic."""
    return a.mean(dim=0) - b.mean(dim=0) + c.mean(dim=0)


def success_rate(
    generator: nn.Module,
    evaluator: Evaluator,
    pool: Pool,
    source: int,
    target: int,
    exemplars: int,
    trials: int,
    seed: int,
    measure: Measure = stroke_width,
) -> dict[str, float]:
    """high ``source`` - low ``source`` + low ``target`` (thick 7 - thin 7 + thin 3, with the
    stroke width as the pool's attribute), over ``trials`` random choices of ``exemplars``
    codes per concept (:meth:`Pool.concept`): how often the result is a ``target`` (the
    evaluator's class), and how often it is a ``target`` whose attribute (``measure``, the
    pool's) is higher than that of every low ``target`` exemplar that went into its sum. Also
    the mean attribute of the results and of the low target exemplars."""
    concepts = [
        pool.concept(source, True),
        pool.concept(source, False),
        pool.concept(target, False),
    ]
    draw = torch.Generator().manual_seed(seed)
    chosen = [
        torch.stack([c[torch.randperm(len(c), generator=draw)[:exemplars]] for _ in range(trials)])
        for c in concepts
    ]  # three (trials, exemplars) tables of indices into the pool
    codes = torch.stack([combine(*(pool.codes[c[t]] for c in chosen)) for t in range(trials)])
    images = decode(generator, codes)
    is_target, value = evaluator.predict(images) == target, measure(images)
    highest_low = pool.attribute[chosen[2]].max(dim=1).values
    return {
        "target_class": is_target.float().mean().item(),
        "target_and_higher": (is_target & (value > highest_low)).float().mean().item(),
        "result_attribute": value.mean().item(),
        "low_target_attribute": pool.attribute[concepts[2]].mean().item(),
    }
