"""The training loop every lesson shares: Algorithm 1 of Goodfellow et al. 2014.

Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv 1406.2661, Algorithm 1: for each
training iteration, take k discriminator steps (each on m data samples and m noise samples),
then one generator step on m fresh noise samples. ``steps`` counts these iterations, that is,
generator steps.

Around that loop: a progress bar, a history of losses, a guard that stops with a clear message
when a loss stops being finite, and checkpoints that an interrupted run resumes from, ending
exactly where an uninterrupted run with the same seed ends.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .config import save_atomically
from .losses import check_logits, discriminator_loss, generator_loss
from .nets import MinibatchDiscrimination, MinibatchStd, Packed

CHECKPOINT_FORMAT = 1


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


def _check_count(value: Any, name: str, minimum: int, hint: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}: {hint}")


def _check_batches(real: Tensor, fake: Tensor, batch_size: int) -> None:
    """Data and generator samples must be alike: ``batch_size`` samples, one shape, one device."""
    if not isinstance(real, Tensor) or not isinstance(fake, Tensor):
        raise TypeError(
            f"sample_data and the generator must return tensors, got "
            f"{type(real).__name__} and {type(fake).__name__}"
        )
    if real.shape[:1] != (batch_size,):
        raise ValueError(
            f"sample_data({batch_size}) returned shape {tuple(real.shape)}: "
            f"its first dimension must be the batch size {batch_size}"
        )
    if fake.shape != real.shape:
        raise ValueError(
            f"generator output has shape {tuple(fake.shape)} but the data batch has shape "
            f"{tuple(real.shape)}: build the generator so G(z) is shaped like a data batch "
            f"(check data_dim, and that sample_noise returns the generator's latent size)"
        )
    if fake.device != real.device:
        raise ValueError(
            f"the data batch is on {real.device} but the generator's samples are on {fake.device}: "
            f"move the models and the samplers to the same device (gancourse.config.device())"
        )


def _rng_state() -> dict[str, Any]:
    """The state of every random generator a training step may draw from."""
    mt_name, mt_keys, mt_pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (mt_name, torch.from_numpy(mt_keys.astype(np.int64)), mt_pos, has_gauss, cached),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if hasattr(torch, "mps") and torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    mt_name, mt_keys, mt_pos, has_gauss, cached = state["numpy"]
    np.random.set_state((mt_name, mt_keys.numpy().astype(np.uint32), mt_pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def save_checkpoint(
    path: str | Path,
    *,
    step: int,
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    history: History,
    settings: dict[str, Any],
    out_of_time: bool = False,
) -> Path:
    """Write everything a resumed run needs (models, optimisers, history, RNG states) to ``path``.
    ``out_of_time`` marks a run that stopped at its time limit: it is finished, whatever its steps.

    Written to a temporary file first and then renamed, so an interruption never leaves a
    half-written checkpoint behind.
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "generator": generator.state_dict(),
        "discriminator": discriminator.state_dict(),
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "history": history.as_dict(),
        "settings": settings,
        "out_of_time": out_of_time,
        "rng": _rng_state(),
    }
    return save_atomically(payload, path)


def _load_state(module: Any, state: dict, what: str, path: Path) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as err:
        first_line = str(err).strip().splitlines()[0]
        raise ValueError(
            f"checkpoint {path} does not fit this {what} ({first_line}): it was saved from a "
            f"different architecture. Delete the file, or train with resume=False to start over"
        ) from None


def load_checkpoint(
    path: str | Path,
    generator: nn.Module,
    discriminator: nn.Module | None = None,
    opt_g: torch.optim.Optimizer | None = None,
    opt_d: torch.optim.Optimizer | None = None,
    map_location: torch.device | str | None = None,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`train_gan` into the given modules and optimisers.

    Returns the checkpoint's other contents: ``step``, ``history`` (a :class:`History`),
    ``settings``, ``out_of_time`` (the run stopped at its time limit) and ``rng``. Later lessons
    use it to reload a trained generator.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: train the model first (its lesson saves it there), "
            f"or check the path"
        )
    if map_location is None:
        map_location = next(generator.parameters()).device
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a gancourse checkpoint (format {payload.get('format')!r})")
    _load_state(generator, payload["generator"], "generator", path)
    if discriminator is not None:
        _load_state(discriminator, payload["discriminator"], "discriminator", path)
    if opt_g is not None:
        _load_state(opt_g, payload["opt_g"], "generator optimiser", path)
    if opt_d is not None:
        _load_state(opt_d, payload["opt_d"], "discriminator optimiser", path)
    return {
        "step": payload["step"],
        "history": History.from_dict(payload["history"]),
        "settings": payload["settings"],
        "out_of_time": bool(payload.get("out_of_time", False)),
        "rng": payload["rng"],
    }


def _flush(
    buffer: list[StepStats], history: History, first_step: int, checkpoint_step: int
) -> None:
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
    """Append the figures of consecutive :func:`gan_step` iterations to ``history``, numbered
    on from its last step, with one host sync, as :func:`train_gan` does; raise
    :class:`TrainingDiverged` with what to do if a loss is not finite. For callers that run
    :func:`gan_step` themselves, such as the instructor's playground."""
    first = history.step[-1] + 1 if history.step else 1
    _flush(list(stats), history, first, checkpoint_step=0)


def _mean_sigmoid(logits: Tensor) -> Tensor:
    """Mean D(x) = sigma(logit) over a batch."""
    return torch.sigmoid(check_logits(logits)).mean()


def _set_learning_rates(
    optimizers: list[torch.optim.Optimizer], initial: list[list[float]], scale: float
) -> None:
    """Set every parameter group's learning rate to ``scale`` times its initial one."""
    for opt, rates in zip(optimizers, initial, strict=True):
        for group, lr0 in zip(opt.param_groups, rates, strict=True):
            group["lr"] = lr0 * scale


BATCH_DEPENDENT = (nn.modules.batchnorm._BatchNorm, MinibatchDiscrimination, MinibatchStd, Packed)


def judges_each_sample_alone(discriminator: nn.Module) -> bool:
    """True when D's score of a sample depends on that sample alone, so that scoring the data
    and the samples in one batch gives the same scores as scoring them apart. Not so with
    batch norm (training-mode statistics of the batch), minibatch discrimination, the minibatch
    standard deviation or PacGAN's packs, which look at the batch on purpose."""
    return not any(isinstance(module, BATCH_DEPENDENT) for module in discriminator.modules())


def gan_step(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    sample_data: Callable[[int], Tensor],
    sample_noise: Callable[[int], Tensor],
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batch_size: int = 64,
    k: int = 1,
    g_loss: str | Callable[[Tensor], Tensor] = "non_saturating",
    d_loss: Callable[[Tensor, Tensor], Tensor] = discriminator_loss,
    d_penalty: Callable[[nn.Module, Tensor, Tensor], Tensor] | None = None,
    after_d_step: Callable[[], None] | None = None,
    scores: bool = False,
) -> StepStats:
    """One iteration of Algorithm 1 of Goodfellow et al. 2014 (arXiv 1406.2661): ``k``
    discriminator steps, each on ``batch_size`` data samples and as many generator samples,
    then one generator step on fresh noise. :func:`train_gan` calls it once per iteration; a
    live panel calls it a few times per frame. The arguments are :func:`train_gan`'s.

    Random numbers are drawn in this order: for each D step, data then noise (then whatever
    ``d_penalty`` draws); then noise for the G step. Returns the iteration's
    :class:`StepStats`, still on the device (reading them synchronises with it).

    A discriminator that judges each sample on its own (:func:`judges_each_sample_alone`)
    scores the data and the samples in one pass over both batches together: the same scores,
    half the passes (and, on a GPU, half the kernel launches).
    """
    _check_count(k, "k", 1, "Algorithm 1 takes k >= 1 discriminator steps per generator step")
    g_cost = generator_loss(g_loss) if isinstance(g_loss, str) else g_loss
    mean_output = (lambda out: check_logits(out).mean()) if scores else _mean_sigmoid
    one_pass = judges_each_sample_alone(discriminator)
    # k steps of the discriminator: ascend V(D, G), i.e. descend d_loss.
    for _ in range(k):
        real = sample_data(batch_size)
        with torch.no_grad():  # D's step needs G's samples, not a graph through G
            fake = generator(sample_noise(batch_size))
        _check_batches(real, fake, batch_size)
        if one_pass:
            real_logits, fake_logits = discriminator(torch.cat([real, fake])).split(batch_size)
        else:  # batch norm, minibatch features or packs: each batch must be judged alone
            real_logits, fake_logits = discriminator(real), discriminator(fake)
        loss_d = d_loss(real_logits, fake_logits)
        if d_penalty is not None:
            loss_d = loss_d + d_penalty(discriminator, real, fake)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        if after_d_step is not None:
            after_d_step()

    # One step of the generator on fresh noise. Only G's parameters get gradients: backward
    # goes through D to the samples but computes nothing for D's weights.
    fake_logits_g = discriminator(generator(sample_noise(batch_size)))
    loss_g = g_cost(fake_logits_g)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward(inputs=list(generator.parameters()))
    opt_g.step()
    return StepStats(
        loss_d.detach(),
        loss_g.detach(),
        mean_output(real_logits.detach()),
        mean_output(fake_logits.detach()),
    )


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    sample_data: Callable[[int], Tensor],
    sample_noise: Callable[[int], Tensor],
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    steps: int,
    batch_size: int = 64,
    k: int = 1,
    g_loss: str | Callable[[Tensor], Tensor] = "non_saturating",
    d_loss: Callable[[Tensor, Tensor], Tensor] = discriminator_loss,
    d_penalty: Callable[[nn.Module, Tensor, Tensor], Tensor] | None = None,
    after_d_step: Callable[[], None] | None = None,
    scores: bool = False,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = True,
    callback: Callable[[int], None] | None = None,
    log_every: int = 25,
    progress: bool = True,
    desc: str = "GAN",
    time_limit: float | None = None,
    lr_schedule: Callable[[float], float] | None = None,
) -> History:
    """Train a GAN with Algorithm 1 of Goodfellow et al. 2014 (arXiv 1406.2661).

    Each of the ``steps`` iterations takes ``k`` discriminator steps, each on ``batch_size``
    data samples ``x = sample_data(m)`` and generator samples ``G(sample_noise(m))``, minimising
    ``d_loss(D(x), D(G(z)))``; then one generator step minimising ``g_loss(D(G(z)))`` on fresh
    noise. ``g_loss`` is a name from ``losses.GENERATOR_LOSSES`` or a function of the fake logits.

    For a Wasserstein GAN (Arjovsky et al. 2017, arXiv 1701.07875) pass the Wasserstein losses,
    ``k`` = n_critic, and either ``after_d_step`` (called after each critic step: weight
    clipping) or ``d_penalty(discriminator, real, fake)``, added to the critic's loss (the
    gradient penalty of Gulrajani et al. 2017, arXiv 1704.00028). With ``scores`` the history
    keeps the critic's mean raw outputs instead of the mean sigmoid, so ``d_real - d_fake`` is
    the critic's estimate of W1.

    Each iteration is one call of :func:`gan_step`. Random numbers are drawn in this order
    every iteration: for each D step, data then noise; then noise for the G step. A loop
    written out by hand in that order reproduces this one.

    ``callback(step)`` runs after each iteration (``step`` counts completed iterations), for
    snapshots. With ``checkpoint`` set, the state is saved every ``checkpoint_every`` steps
    (0: only at the end) and at the end; with ``resume`` a run finds that file and continues from
    it, so running the same cell again picks up where it stopped, and a finished run is loaded
    instead of retrained. With ``time_limit`` (seconds of training, not counting the time spent in
    ``callback``, which may be measuring) the loop stops after the iteration that reaches it: for
    comparing recipes at equal training time. A run that stopped at its time limit is finished:
    resuming its checkpoint loads it rather than training for another ``time_limit``.

    ``lr_schedule(progress)`` scales both optimisers' initial learning rates before each
    iteration; ``progress`` in [0, 1] is the share of the run done: of ``steps``, or of
    ``time_limit`` when that comes first. ``lambda p: 1 - p`` decays them linearly to zero, the
    schedule that serves a fixed budget best (Li, Yumer and Ramanan 2020, "Budgeted Training",
    arXiv 1905.04753).
    Returns the :class:`History`, one entry per iteration.
    """
    _check_count(steps, "steps", 0, "the number of generator steps to train for")
    _check_count(batch_size, "batch_size", 1, "the number of samples m in each minibatch")
    _check_count(k, "k", 1, "Algorithm 1 takes k >= 1 discriminator steps per generator step")
    _check_count(checkpoint_every, "checkpoint_every", 0, "0 saves only at the end")
    _check_count(log_every, "log_every", 1, "how often losses are copied to the history")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    g_cost = generator_loss(g_loss) if isinstance(g_loss, str) else g_loss
    # taken before a resumed run loads the optimisers, whose saved rates are already scheduled
    initial_rates = [[group["lr"] for group in opt.param_groups] for opt in (opt_g, opt_d)]
    settings = {
        "batch_size": batch_size,
        "k": k,
        "g_loss": g_loss if isinstance(g_loss, str) else getattr(g_loss, "__name__", "custom"),
    }
    if d_penalty is not None:
        settings["d_penalty"] = getattr(d_penalty, "__name__", "custom")
    history = History()
    start = 0
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        # Compare settings before loading anything: a refused resume leaves the models untouched.
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True).get("settings", {})
        changed = {
            key: (saved.get(key), value)
            for key, value in settings.items()
            if saved.get(key) != value
        }
        if changed:
            described = ", ".join(
                f"{key}={old!r} there but {new!r} here" for key, (old, new) in changed.items()
            )
            raise ValueError(
                f"checkpoint {checkpoint} was made with other settings ({described}): pass "
                f"resume=False to start over, or use another checkpoint path"
            )
        state = load_checkpoint(checkpoint, generator, discriminator, opt_g, opt_d)
        _set_rng_state(state["rng"])
        history, start = state["history"], state["step"]
        if state["out_of_time"]:
            print(f"loaded {checkpoint}: its run reached its time limit at step {start}")
            steps = start
        else:
            print(f"resumed from {checkpoint} at step {start} of {steps}")

    def save(step: int, out_of_time: bool = False) -> None:
        if checkpoint is not None:
            save_checkpoint(
                checkpoint,
                step=step,
                generator=generator,
                discriminator=discriminator,
                opt_g=opt_g,
                opt_d=opt_d,
                history=history,
                settings=settings,
                out_of_time=out_of_time,
            )

    def share_done(step: int) -> float:
        """The share of the run done after ``step`` iterations: of the steps or of the time."""
        done = step / steps
        if time_limit is not None:
            done = max(done, (time.perf_counter() - started - in_callback) / time_limit)
        return min(done, 1.0)

    generator.train()
    discriminator.train()
    buffer: list[StepStats] = []
    last_saved = start
    if time_limit is None:
        bar = tqdm(total=steps, initial=min(start, steps), desc=desc, disable=not progress)
    else:  # the clock usually ends the run, so the bar counts seconds of training
        bar = tqdm(
            total=time_limit,
            desc=desc,
            disable=not progress,
            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of training [{elapsed}{postfix}]",
        )
    started, in_callback = time.perf_counter(), 0.0
    done, out_of_time = start, False
    try:
        for step in range(start + 1, steps + 1):
            if lr_schedule is not None:
                _set_learning_rates(
                    [opt_g, opt_d], initial_rates, lr_schedule(share_done(step - 1))
                )
            buffer.append(
                gan_step(
                    generator,
                    discriminator,
                    sample_data=sample_data,
                    sample_noise=sample_noise,
                    opt_g=opt_g,
                    opt_d=opt_d,
                    batch_size=batch_size,
                    k=k,
                    g_loss=g_cost,
                    d_loss=d_loss,
                    d_penalty=d_penalty,
                    after_d_step=after_d_step,
                    scores=scores,
                )
            )
            if callback is not None:
                called = time.perf_counter()
                callback(step)
                in_callback += time.perf_counter() - called
            done = step
            trained = time.perf_counter() - started - in_callback
            out_of_time = time_limit is not None and trained >= time_limit
            if step % log_every == 0 or step == steps or out_of_time:
                _flush(buffer, history, step - len(buffer) + 1, last_saved)
                outputs = (
                    {"W": f"{history.d_real[-1] - history.d_fake[-1]:.3f}"}
                    if scores
                    else {"D_x": f"{history.d_real[-1]:.2f}", "D_Gz": f"{history.d_fake[-1]:.2f}"}
                )
                bar.set_postfix(
                    d_loss=f"{history.d_loss[-1]:.3f}",
                    g_loss=f"{history.g_loss[-1]:.3f}",
                    **outputs,
                    **({} if time_limit is None else {"step": step}),
                    refresh=False,
                )
            bar.update(1 if time_limit is None else min(trained, time_limit) - bar.n)
            if checkpoint_every and step % checkpoint_every == 0 and step != steps:
                _flush(buffer, history, step - len(buffer) + 1, last_saved)
                save(step)
                last_saved = step
            if out_of_time:
                bar.write(f"{desc}: time limit of {time_limit:g} s reached at step {step}")
                break
    except KeyboardInterrupt:
        where = (
            f"the checkpoint at step {last_saved} in {checkpoint}"
            if last_saved
            else "no checkpoint"
        )
        print(f"interrupted; {where} is kept: run the same call again to resume from it")
        raise
    finally:
        bar.close()
    if done > start:
        save(done, out_of_time)
    return history


def linear_lr_decay(
    optimizers: list[torch.optim.Optimizer], steps: int, final_fraction: float = 0.0
) -> Callable[[int], None]:
    """A callback for :func:`train_gan` that lowers each learning rate linearly with the step.

    lr(step) = lr0 * (1 - (1 - final_fraction) * step / steps). Near the end the steps shrink, so
    the players settle instead of circling the equilibrium at full speed. The rate is set from the
    step alone (and stored in the optimiser's state), so a resumed run follows the same schedule.
    """
    _check_count(steps, "steps", 1, "the total number of steps the decay runs over")
    if not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"final_fraction must lie in [0, 1], got {final_fraction}")
    initial = [[group["lr"] for group in opt.param_groups] for opt in optimizers]

    def decay(step: int) -> None:
        _set_learning_rates(
            optimizers, initial, 1.0 - (1.0 - final_fraction) * min(step, steps) / steps
        )

    return decay
