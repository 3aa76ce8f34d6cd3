"""What a training run records at each generator step, gathered with one host sync per log.

Kept on the device between logs (:class:`StepStats`), so the hot loop never waits for the GPU;
:func:`flush` moves a run of them to the :class:`History` and stops the run with a clear
message when a loss is no longer finite.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite: training stopped instead of silently producing garbage."""


@dataclass
class History:
    """What happened at each generator step: losses, and D's mean output on data and samples."""

    step: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)  # mean D(x) over the data batch
    d_fake: list[float] = field(default_factory=list)  # mean D(G(z)) over the samples

    def __len__(self) -> int:
        return len(self.step)

    def wasserstein_estimate(self, at_step: int, window: int = 100) -> float:
        """A critic's estimate of W1, mean of d_real - d_fake over the ``window`` steps up to
        ``at_step`` (the history must come from a run with ``scores=True``)."""
        values = [
            real - fake
            for step, real, fake in zip(self.step, self.d_real, self.d_fake, strict=True)
            if at_step - window < step <= at_step
        ]
        if not values:
            raise ValueError(f"no steps recorded in ({at_step - window}, {at_step}]")
        return float(np.mean(values))

    def as_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> History:
        return cls(**{key: list(values) for key, values in data.items()})


@dataclass
class StepStats:
    """One iteration's figures, kept on the device until the next log so the hot loop never
    syncs: the last discriminator step's loss and mean outputs on data (``d_real``) and on
    samples (``d_fake``), and the generator's loss."""

    d_loss: Tensor
    g_loss: Tensor
    d_real: Tensor
    d_fake: Tensor


def flush(buffer: list[StepStats], history: History, first_step: int, checkpoint_step: int) -> None:
    """Move buffered figures to the history (one host sync) and stop if any is not finite."""
    if not buffer:
        return
    table = torch.stack(
        [torch.stack([s.d_loss, s.g_loss, s.d_real, s.d_fake]) for s in buffer]
    ).tolist()
    buffer.clear()
    for offset, (d_loss, g_loss, d_real, d_fake) in enumerate(table):
        step = first_step + offset
        for name, value in (("discriminator", d_loss), ("generator", g_loss)):
            if not np.isfinite(value):
                last = (
                    f" (last finite: d_loss={history.d_loss[-1]:.4g},"
                    f" g_loss={history.g_loss[-1]:.4g})"
                    if history.step
                    else ""
                )
                resume = (
                    f"; the last checkpoint, at step {checkpoint_step}, can be resumed"
                    if checkpoint_step > 0
                    else ""
                )
                raise TrainingDiverged(
                    f"training diverged: the {name} loss became {value} at step {step}{last}. "
                    f"Lower the learning rates, check the data for NaN or infinite values, or "
                    f"use a more stable generator loss{resume}"
                )
        history.step.append(step)
        history.d_loss.append(d_loss)
        history.g_loss.append(g_loss)
        history.d_real.append(d_real)
        history.d_fake.append(d_fake)


def record_steps(stats: list[StepStats], history: History) -> None:
    """Append the figures of consecutive ``train.gan_step`` iterations to ``history``, numbered
    on from its last step, with one host sync, as ``train.train_gan`` does; raise
    :class:`TrainingDiverged` with what to do if a loss is not finite. For callers that run
    ``gan_step`` themselves, such as the instructor's playground."""
    first = history.step[-1] + 1 if history.step else 1
    flush(list(stats), history, first, checkpoint_step=0)
