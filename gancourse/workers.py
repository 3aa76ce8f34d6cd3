"""The one worker pool: independent runs in fresh processes, one CPU thread each.

Small networks train fastest on one thread, so a CPU with several cores does most when each
core trains its own run. Workers are spawned (fresh interpreters, no forked PyTorch state);
on a GPU the runs go one after the other in this process instead.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

import torch
from tqdm.auto import tqdm

T = TypeVar("T")


def one_thread(function: Callable[..., T], *arguments: Any) -> T:
    """``function(*arguments)`` on one CPU thread: the start of every worker's job."""
    torch.set_num_threads(1)
    return function(*arguments)


def run_in_workers(
    function: Callable[..., T],
    jobs: Sequence[tuple],
    *,
    in_process: bool = False,
    workers: int | None = None,
    cost: Callable[[tuple], float] | None = None,
    desc: str = "runs",
) -> list[T]:
    """``[function(*job) for job in jobs]``, in the order of ``jobs``, each job in a worker
    process on one CPU thread (``workers``: default one per CPU core, at most one per job), the
    dearest first by ``cost(job)`` so that the workers finish together. With ``in_process``
    (a GPU run) they run one after the other here. ``function`` must be a module-level function,
    so that a spawned worker can import it."""
    order = sorted(range(len(jobs)), key=lambda i: -cost(jobs[i]) if cost else 0.0)
    results: list[Any] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc=f"{desc}: {len(jobs)}")
    if in_process:
        for i in order:
            results[i] = function(*jobs[i])
            bar.update()
    else:
        workers = workers or max(1, min(len(jobs), os.cpu_count() or 1))
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch state
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending = {pool.submit(one_thread, function, *jobs[i]): i for i in order}
            for job in as_completed(pending):
                results[pending[job]] = job.result()
                bar.update()
    bar.close()
    return results
