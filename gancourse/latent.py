"""Lesson 8: arithmetic on a generator's codes (Radford et al. 2015, arXiv 1511.06434,
section 6.3.2): "smiling woman - neutral woman + neutral man = smiling man", on digits.

A concept is a set of codes z whose digits share a class and an attribute (thick or thin
strokes, ``strokes.stroke_width``), found by drawing many digits from a trained unconditional
generator and measuring them: the evaluator gives the class, the pixels the attribute. The
paper averaged the codes of three exemplars per concept, since arithmetic on single codes was
unstable; :func:`success_rate` measures both over many random choices of exemplars.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .config import rng
from .evaluator import Evaluator
from .nets import decode, latent_size
from .strokes import stroke_width


@dataclass
class Pool:
    """Codes drawn for a generator, and what their digits are: the evaluator's class and its
    confidence, the stroke width."""

    codes: Tensor  # (N, latent)
    classes: Tensor  # (N,)
    confidence: Tensor  # (N,) the evaluator's probability of its class
    width: Tensor  # (N,)

    def concept(self, digit: int, thick: bool, share: float = 0.2, sure: float = 0.9) -> Tensor:
        """The indices of confidently classified ``digit`` s (the evaluator's probability above
        ``sure``) among the thickest (``thick``) or the thinnest ``share`` of that class's
        strokes in the pool: a concept's exemplars."""
        mine = (self.classes == digit) & (self.confidence > sure)
        widths = self.width[mine]
        if len(widths) < 10:
            raise ValueError(f"only {len(widths)} confident {digit}s in the pool: draw more codes")
        cut = widths.quantile(1 - share if thick else share)
        chosen = mine & ((self.width >= cut) if thick else (self.width <= cut))
        return chosen.nonzero().flatten()


def draw_pool(generator: nn.Module, evaluator: Evaluator, n: int, seed: int) -> Pool:
    """``n`` codes z ~ N(0, I) (noise of ``seed``), decoded and measured."""
    codes = torch.randn(n, latent_size(generator), generator=rng(seed))
    images = decode(generator, codes)
    probabilities = torch.from_numpy(evaluator.features_and_probabilities(images)[1])
    confidence, classes = probabilities.max(dim=1)
    return Pool(codes, classes, confidence, stroke_width(images))


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
) -> dict[str, float]:
    """thick ``source`` - thin ``source`` + thin ``target``, over ``trials`` random choices of
    ``exemplars`` codes per concept (:meth:`Pool.concept`): how often the result is a
    ``target`` (the evaluator's class), and how often it is a ``target`` drawn thicker than
    every thin ``target`` exemplar that went into its sum. Also the mean stroke width of the
    results and of the thin target exemplars."""
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
    is_target, width = evaluator.predict(images) == target, stroke_width(images)
    thickest_thin = pool.width[chosen[2]].max(dim=1).values
    return {
        "target_class": is_target.float().mean().item(),
        "target_and_thick": (is_target & (width > thickest_thin)).float().mean().item(),
        "result_width": width.mean().item(),
        "thin_target_width": pool.width[concepts[2]].mean().item(),
    }
