"""The training loop every lesson shares: Algorithm 1 of Goodfellow et al. 2014.

Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv 1406.2661, Algorithm 1: for each
training iteration, take k discriminator steps (each on m data samples and m noise samples),
then one generator step on m fresh noise samples. ``steps`` counts these iterations, that is,
generator steps. What each step computes is the game's (``games``); the loop knows nothing
game-specific.

Around that loop: a progress bar, a history of losses (``history``), a guard that stops with a
clear message when a loss stops being finite, one learning-rate schedule, a clock, and
checkpoints (``checkpoint``) that an interrupted run resumes from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .checkpoint import Checkpoint, load_checkpoint
from .config import check_count, check_learning_rate
from .games import Batch, Game, Players, check_discriminator, judges_each_sample_alone
from .games import game as make_game
from .history import History, StepStats, TrainingDiverged, flush, record_steps

__all__ = [
    "Checkpoint",
    "History",
    "Players",
    "StepStats",
    "TrainingDiverged",
    "gan_step",
    "judges_each_sample_alone",
    "linear_to_zero",
    "load_checkpoint",
    "record_steps",
    "train_gan",
    "trained_run",
]

LOG_EVERY = 25  # generator steps between two copies of the figures to the history (a host sync)


def _check_data_batch(real: Batch, batch_size: int) -> None:
    first = real[0] if isinstance(real, tuple | list) else real
    if isinstance(first, torch.Tensor) and first.shape[:1] != (batch_size,):
        raise ValueError(
            f"sample_data({batch_size}) returned shape {tuple(first.shape)}: "
            f"its first dimension must be the batch size {batch_size}"
        )


def _generator_side(players: Players) -> list[torch.Tensor]:
    return [p for group in players.opt_g.param_groups for p in group["params"]]


def gan_step(
    players: Players,
    game: Game,
    sample_data: Callable[[int], Batch],
    sample_noise: Callable[[int], Batch],
    batch_size: int = 64,
    k: int = 1,
) -> StepStats:
    """One iteration of Algorithm 1 of Goodfellow et al. 2014 (arXiv 1406.2661): ``k``
    discriminator-side updates, each on ``batch_size`` data samples and as much noise, then one
    generator-side update on fresh noise. :func:`train_gan` calls it once per iteration; the
    playground calls it a few times per frame.

    Random numbers are drawn in this order: for each D step, data then noise (then whatever the
    game's penalty draws); then noise for the G step. Returns the iteration's
    :class:`StepStats`, still on the device (reading them synchronises with it).
    """
    if game.has_d_side:
        check_count(k, "k", 1, "Algorithm 1 takes k >= 1 discriminator steps per generator step")
    result = None
    for _ in range(k if game.has_d_side else 0):
        real = sample_data(batch_size)
        _check_data_batch(real, batch_size)
        result = game.d_loss(players, real, sample_noise(batch_size))
        players.opt_d.zero_grad(set_to_none=True)
        result.loss.backward()
        players.opt_d.step()
        game.after_d_step(players)

    # One step of the generator side on fresh noise. Only its parameters get gradients:
    # backward goes through D to the samples but computes nothing for D's weights.
    loss_g = game.g_loss(players, sample_noise(batch_size), lambda: sample_data(batch_size))
    players.opt_g.zero_grad(set_to_none=True)
    loss_g.backward(inputs=_generator_side(players))
    players.opt_g.step()
    if result is None:  # no discriminator side: nothing to report for it
        nothing = torch.full_like(loss_g.detach(), float("nan"))
        return StepStats(torch.zeros_like(loss_g.detach()), loss_g.detach(), nothing, nothing)
    return StepStats(result.loss.detach(), loss_g.detach(), result.real, result.fake)


def linear_to_zero(progress: float) -> float:
    """The learning-rate schedule of a fixed budget: the rate falls linearly from its initial
    value to zero as ``progress`` goes from 0 to 1 (Li, Yumer and Ramanan 2020, "Budgeted
    Training", arXiv 1905.04753). As the steps shrink, the players stop circling and settle."""
    return 1 - progress


def set_learning_rates(
    optimizers: list[torch.optim.Optimizer], initial: list[list[float]], scale: float
) -> None:
    """Set every parameter group's learning rate to ``scale`` times its initial one."""
    for opt, rates in zip(optimizers, initial, strict=True):
        for group, lr0 in zip(opt.param_groups, rates, strict=True):
            group["lr"] = lr0 * scale


def _progress_bar(
    label: str, hidden: bool, steps: int | None, start: int, time_limit: float | None
) -> tqdm:
    # One refresh a second: a notebook's output channel holds about a thousand messages, and a
    # cell that trains for minutes at tqdm's default ten a second overflows it (nbval then
    # loses the cell's end and fails it)
    if time_limit is None:
        return tqdm(total=steps, initial=start, desc=label, disable=hidden, mininterval=1.0)
    return tqdm(  # the clock usually ends the run, so the bar counts seconds of training
        total=time_limit,
        desc=label,
        disable=hidden,
        mininterval=1.0,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of training [{elapsed}{postfix}]",
    )


def _postfix(history: History, scores: bool, step: int) -> dict[str, str]:
    outputs = (
        {"W": f"{history.d_real[-1] - history.d_fake[-1]:.3f}"}
        if scores
        else {"D_x": f"{history.d_real[-1]:.2f}", "D_Gz": f"{history.d_fake[-1]:.2f}"}
    )
    return {"d_loss": f"{history.d_loss[-1]:.3f}", "g_loss": f"{history.g_loss[-1]:.3f}",
            **outputs, "step": str(step)}  # fmt: skip


def _check_run(
    players: Players,
    game: Game,
    steps: int | None,
    time_limit: float | None,
    batch_size: int,
    k: int,
) -> None:
    """Refuse a run that cannot start, saying what to give instead."""
    if steps is None and time_limit is None:
        raise ValueError("give steps, time_limit or both: when the run ends")
    if steps is not None:
        check_count(steps, "steps", 0, "the number of generator steps to train for")
    check_count(batch_size, "batch_size", 1, "the number of samples m in each minibatch")
    if game.has_d_side:
        check_count(k, "k", 1, "Algorithm 1 takes k >= 1 discriminator steps per generator step")
        if players.discriminator is None or players.opt_d is None:
            raise ValueError(f"the {game.name} game needs a discriminator and its optimiser")
        check_discriminator(players.discriminator)
    for side, opt in players.optimizers().items():
        for group in opt.param_groups:
            check_learning_rate(group["lr"], f"the learning rate of {side}")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")


def train_gan(
    players: Players,
    game: str | Game,
    *,
    sample_data: Callable[[int], Batch],
    sample_noise: Callable[[int], Batch],
    steps: int | None = None,
    time_limit: float | None = None,
    batch_size: int = 64,
    k: int = 1,
    lr_schedule: Callable[[float], float] | None = None,
    callback: Callable[[int], None] | None = None,
    checkpoint: Checkpoint | str | Path | None = None,
    progress: bool | str = True,
) -> History:
    """Train ``players`` at ``game`` (a name from ``games.GAMES`` or a game) with Algorithm 1
    of Goodfellow et al. 2014 (arXiv 1406.2661): each iteration is one :func:`gan_step`, k
    discriminator steps on ``batch_size`` samples of ``sample_data(m)`` and of
    ``sample_noise(m)``, then one generator step.

    The run lasts ``steps`` iterations or ``time_limit`` seconds of training, whichever comes
    first (``steps=None``: until the clock). The clock leaves out the time spent in
    ``callback(step)``, called after each iteration, which may be measuring.
    ``lr_schedule(progress)`` scales every initial learning rate before each iteration;
    ``progress`` in [0, 1] is the share of the run done, of the steps or of the time
    (:func:`linear_to_zero` decays them to zero). ``checkpoint``: a :class:`Checkpoint` or a
    path, to save the run and resume it (a run that stopped at its time limit is finished:
    resuming it loads it). ``progress``: show a bar (a string labels it).
    Returns the :class:`History`, one entry per iteration.
    """
    game = make_game(game)
    _check_run(players, game, steps, time_limit, batch_size, k)
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint(checkpoint)
    optimizers = list(players.optimizers().values())
    # taken before a resumed run loads the optimisers, whose saved rates are already scheduled
    initial_rates = [[group["lr"] for group in opt.param_groups] for opt in optimizers]
    # what a resumed run must share with the saved one (with a recipe, the checkpoint adds it)
    loop = {"batch_size": batch_size, "k": k, "game": game.name, "learning_rates": initial_rates}
    history, start, finished = History(), 0, False
    restored = checkpoint.restore(players, loop, steps) if checkpoint is not None else None
    if restored is not None:
        history, start, finished = restored
        steps = start if finished else steps  # a finished run is loaded, not trained further

    players.train()
    buffer: list[StepStats] = []
    label = progress if isinstance(progress, str) else "GAN"
    bar = _progress_bar(label, not progress, steps, start, time_limit)
    started, in_callback, step, out_of_time = time.perf_counter(), 0.0, start, False

    def trained() -> float:
        return time.perf_counter() - started - in_callback

    try:
        while steps is None or step < steps:
            if lr_schedule is not None:  # the share done, of the steps or of the clock
                done = max(step / steps if steps else 0.0, trained() / (time_limit or float("inf")))
                set_learning_rates(optimizers, initial_rates, lr_schedule(min(done, 1.0)))
            buffer.append(gan_step(players, game, sample_data, sample_noise, batch_size, k))
            step += 1
            if callback is not None:
                called = time.perf_counter()
                callback(step)
                in_callback += time.perf_counter() - called
            out_of_time = time_limit is not None and trained() >= time_limit
            if step % LOG_EVERY == 0 or step == steps or out_of_time:
                saved_at = checkpoint.saved_at if checkpoint is not None else 0
                flush(buffer, history, step - len(buffer) + 1, saved_at)
                bar.set_postfix(_postfix(history, game.scores, step), refresh=False)
            bar.update(1 if time_limit is None else min(trained(), time_limit) - bar.n)
            if checkpoint is not None and checkpoint.due(step) and step != steps:
                flush(buffer, history, step - len(buffer) + 1, checkpoint.saved_at)
                checkpoint.save(players, step, history, loop)
            if out_of_time:
                bar.write(f"{label}: time limit of {time_limit:g} s reached at step {step}")
                break
    except KeyboardInterrupt:
        saved_at = checkpoint.saved_at if checkpoint is not None else 0
        where = (
            f"the checkpoint at step {saved_at} in {checkpoint.path}"
            if saved_at
            else "no checkpoint"
        )
        print(f"interrupted; {where} is kept: run the same call again to resume from it")
        raise
    finally:
        bar.close()
    if checkpoint is not None and step > start:
        checkpoint.save(players, step, history, loop, out_of_time)
    return history


def trained_run(model: torch.nn.Module, history: History, seconds: float) -> dict[str, Any]:
    """What a run in a worker process hands back (``workers.run_in_workers``): ``model``'s
    weights on the CPU, the steps and seconds it trained, and its generator-side loss curve."""
    return {
        "state": {name: value.cpu() for name, value in model.state_dict().items()},
        "steps": history.step[-1],
        "seconds": seconds,
        "g_loss": list(history.g_loss),
        "step": list(history.step),
    }
