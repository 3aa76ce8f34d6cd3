"""The 2D setting of lessons 4 and 5: GANs on the ring of 8 and the grid of 25.

Three discriminators on the same generator: a plain MLP, the same MLP with minibatch
discrimination before its last layer (Salimans et al. 2016, arXiv 1606.03498), and PacGAN-2
(Lin et al. 2018, arXiv 1712.04086), which judges two samples at a time. Notebooks 04 and 05
write these out; the benchmarks and the instructor's panel reuse them from here.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from functools import partial

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import config, losses
from .data import Mixture2D, mixture
from .metrics import ModeCoverage, mode_coverage
from .nets import MinibatchDiscrimination, Packed, Scale, mlp, sample_generator
from .train import History, train_gan

KINDS = ("plain", "minibatch", "pacgan2")
# The game: the non-saturating GAN (lessons 4 and 5) or a Wasserstein GAN (lesson 6) whose
# critic is kept Lipschitz by weight clipping or by the gradient penalty.
GAMES = ("gan", "wgan_clip", "wgan_gp")
OPTIMIZERS = ("adam", "rmsprop")
EVAL_SAMPLES = 2500  # VEEGAN's protocol


@dataclass(frozen=True)
class Setup:
    """One 2D GAN: the discriminator's kind and the shared sizes and optimiser settings."""

    kind: str = "plain"
    latent_dim: int = 2
    hidden: int = 128  # D's hidden width
    layers: int = 3  # D's hidden layers
    g_hidden: int = 128
    g_layers: int = 3
    kernels: int = 16  # minibatch discrimination: B
    kernel_dim: int = 8  # and C
    average: bool = True  # minibatch discrimination: o as a mean over the batch, not a sum
    batch_size: int = 256
    lr: float = 1e-3  # D's learning rate
    lr_g: float | None = None  # G's; None: the same as D's
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: bool = True  # both learning rates fall linearly to 0 over the steps
    game: str = "gan"
    n_critic: int = 1  # D (critic) steps per G step: k of Algorithm 1
    optimizer: str = "adam"
    clip: float = 0.01  # wgan_clip: the bound c on every critic weight
    gp_weight: float = 10.0  # wgan_gp: lambda
    # G and D work in units of the target's standard deviation (nets.Scale at G's output and
    # D's input), and the penalty's unit slope is per standard deviation
    standardize: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown discriminator kind {self.kind!r}: choose one of {KINDS}")
        if self.game not in GAMES:
            raise ValueError(f"unknown game {self.game!r}: choose one of {GAMES}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.game != "gan" and self.kind != "plain":
            raise ValueError(
                f"the {self.game} game is taught with the plain critic here, not {self.kind!r}"
            )
        if self.kind == "pacgan2" and self.batch_size % 2:
            raise ValueError(f"PacGAN-2 needs an even batch size, got {self.batch_size}")

    def as_dict(self) -> dict:
        return asdict(self)


class MinibatchDiscriminator(nn.Module):
    """An MLP discriminator with minibatch discrimination before its last layer:
    x -> f(x) (hidden features) -> [f(x), o(x)] -> logit."""

    def __init__(
        self, hidden: int, layers: int, kernels: int, kernel_dim: int, average: bool = True
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(mlp(2, hidden, (hidden,) * (layers - 1)), nn.LeakyReLU(0.2))
        self.minibatch = MinibatchDiscrimination(hidden, kernels, kernel_dim, average)
        self.out = nn.Linear(hidden + kernels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.minibatch(self.features(x)))


def players(
    setup: Setup, device: torch.device | str = "cpu", scale: float = 1.0
) -> tuple[nn.Module, nn.Module]:
    """G: latent_dim -> hidden x layers (ReLU) -> 2, and the D of ``setup.kind``, each with
    ``layers`` hidden layers of ``hidden`` units (LeakyReLU 0.2). With ``setup.standardize``,
    G's output is multiplied by ``scale`` and D's input divided by it: both work in units of
    ``scale`` (the target's ``coordinate_std``) and meet the data in its own units."""
    generator, discriminator = _players(setup)
    if setup.standardize:
        generator = nn.Sequential(generator, Scale(scale))
        discriminator = nn.Sequential(Scale(1 / scale), discriminator)
    return generator.to(device), discriminator.to(device)


def _players(setup: Setup) -> tuple[nn.Module, nn.Module]:
    widths = (setup.hidden,) * setup.layers
    generator = mlp(setup.latent_dim, 2, (setup.g_hidden,) * setup.g_layers, activation="relu")
    if setup.kind == "plain":
        discriminator: nn.Module = mlp(2, 1, widths)
    elif setup.kind == "minibatch":
        discriminator = MinibatchDiscriminator(
            setup.hidden, setup.layers, setup.kernels, setup.kernel_dim, setup.average
        )
    else:
        discriminator = Packed(mlp(2 * 2, 1, widths), m=2)
    return generator, discriminator


def optimizers(
    setup: Setup, generator: nn.Module, discriminator: nn.Module
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """G's and D's optimisers: Adam with (beta1, beta2), or RMSProp as in WGAN's Algorithm 1."""
    lr_g = setup.lr if setup.lr_g is None else setup.lr_g
    if setup.optimizer == "rmsprop":
        return (
            torch.optim.RMSprop(generator.parameters(), lr=lr_g),
            torch.optim.RMSprop(discriminator.parameters(), lr=setup.lr),
        )
    betas = (setup.beta1, setup.beta2)
    return (
        torch.optim.Adam(generator.parameters(), lr=lr_g, betas=betas),
        torch.optim.Adam(discriminator.parameters(), lr=setup.lr, betas=betas),
    )


def seeded_players(
    target: str | Mixture2D, setup: Setup, seed: int = 0, device: torch.device | str = "cpu"
) -> tuple[nn.Module, nn.Module]:
    """Seed everything, then build ``players`` for ``target`` (its ``coordinate_std`` is the
    scale of standardised players): the start of ``train_toy2d``."""
    target = mixture(target) if isinstance(target, str) else target
    config.seed_everything(seed)
    return players(setup, device, target.coordinate_std)


def game_arguments(
    setup: Setup, critic: nn.Module, unit: float = 1.0, g_loss: str = "non_saturating"
) -> dict:
    """The keyword arguments of ``train.train_gan`` (and ``train.gan_step``) for ``setup.game``:
    ``gan``, the cross-entropy for D and ``g_loss`` (a name from ``losses.GENERATOR_LOSSES``)
    for G; ``wgan_clip``, the Wasserstein losses with every weight of ``critic`` clipped to
    [-c, c] after each critic step (Arjovsky et al. 2017, arXiv 1701.07875, Algorithm 1);
    ``wgan_gp``, the Wasserstein losses plus the gradient penalty with slope 1 per ``unit`` of
    distance (Gulrajani et al. 2017, arXiv 1704.00028, Algorithm 1). The Wasserstein games
    keep the critic's raw scores in the history."""
    if setup.game == "gan":
        return {"g_loss": g_loss, "d_loss": losses.discriminator_loss, "scores": False}
    return {
        "g_loss": losses.wasserstein_generator_loss,
        "d_loss": losses.wasserstein_critic_loss,
        "d_penalty": (
            partial(losses.gradient_penalty, weight=setup.gp_weight, unit=unit)
            if setup.game == "wgan_gp"
            else None
        ),
        "after_d_step": (
            partial(losses.clip_weights, critic, setup.clip) if setup.game == "wgan_clip" else None
        ),
        "scores": True,
    }


def train_toy2d(
    target: str | Mixture2D,
    setup: Setup,
    steps: int,
    seed: int = 0,
    device: torch.device | str = "cpu",
    callback: Callable[[int], None] | None = None,
    progress: bool = True,
    models: tuple[nn.Module, nn.Module] | None = None,
) -> tuple[nn.Module, nn.Module, History]:
    """Train ``setup`` on ``target`` ("ring", "grid" or a Mixture2D) for ``steps`` steps from
    ``seed``, with ``setup.game`` and ``setup.n_critic`` critic steps per generator step.
    ``models``: the players from ``seeded_players`` with the same arguments, built beforehand
    so that a ``callback`` can watch them; the run is the same.

    ``gan``: the non-saturating game. ``wgan_clip``: the Wasserstein losses with every critic
    weight clipped to [-c, c] after each critic step (Arjovsky et al. 2017, arXiv 1701.07875,
    Algorithm 1). ``wgan_gp``: the Wasserstein losses plus the gradient penalty (Gulrajani et
    al. 2017, arXiv 1704.00028, Algorithm 1). The history then holds the critic's raw scores.
    """
    target = mixture(target) if isinstance(target, str) else target
    scale = target.coordinate_std
    generator, discriminator = models or seeded_players(target, setup, seed, device)
    opt_g, opt_d = optimizers(setup, generator, discriminator)
    wasserstein = setup.game != "gan"
    history = train_gan(
        generator,
        discriminator,
        sample_data=target.sampler(device),
        sample_noise=lambda m: torch.randn(m, setup.latent_dim, device=device),
        opt_g=opt_g,
        opt_d=opt_d,
        steps=steps,
        batch_size=setup.batch_size,
        k=setup.n_critic,
        **game_arguments(setup, discriminator, scale if setup.standardize else 1.0),
        callback=callback,
        progress=progress,
        desc=f"{setup.game if wasserstein else setup.kind} on the {target.name}, seed {seed}",
        lr_schedule=(lambda done: 1 - done) if setup.lr_decay else None,
    )
    return generator, discriminator, history


def generate(generator: nn.Module, n: int, seed: int = 1) -> np.ndarray:
    """``n`` samples (n, 2) from seeded noise (``nets.sample_generator``), as a numpy array."""
    latent_dim = next(m for m in generator.modules() if isinstance(m, nn.Linear)).in_features
    return sample_generator(generator, n, latent_dim, seed).numpy()


def evaluate(generator: nn.Module, target: str | Mixture2D, seed: int = 1) -> ModeCoverage:
    """VEEGAN's and PacGAN's mode metrics on ``EVAL_SAMPLES`` samples of ``generator``."""
    target = mixture(target) if isinstance(target, str) else target
    samples = generate(generator, EVAL_SAMPLES, seed)
    return mode_coverage(samples, target.means.numpy(), target.std)


# Lessons 4 and 5's GAN: the mode-collapse setting of the Unrolled GAN paper (Metz et al. 2016,
# arXiv 1611.02163, appendix A): z in 256 dimensions, G with two hidden layers of 128 ReLUs, D
# with one hidden layer of 128; Adam with beta1 0.5, here 0.001 for both players decayed
# linearly to 0, batch 256.
LESSON = Setup(
    kind="plain",
    latent_dim=256,
    g_hidden=128,
    g_layers=2,
    hidden=128,
    layers=1,
    kernels=8,  # minibatch discrimination (lesson 5): B = 8 kernels of C = 4 dimensions
    kernel_dim=4,
    batch_size=256,
    lr=1e-3,
)


# Lesson 5's GAN, on the ring and the grid alike. With lesson 4's small players and minibatch
# discrimination, the best grid run reached 20 of 25 modes at 16% high quality (the paper's sum,
# seed 0, 6,000 steps), and the ring's samples were often not sharp (59.7 +- 31.9% high quality
# over seeds 0-2 at batch 256). A generator that maps one Gaussian onto separate points needs
# steep transitions between them, and a deeper, wider G was what raised the high-quality share:
# z in 16 dimensions, G with four hidden layers of 256 ReLUs, D with three hidden layers of 128,
# batch 128; the rest as LESSON. On the ring with minibatch discrimination, seeds 0-2: 89.9 +-
# 0.7% high quality after 6,000 steps, 94.3 +- 0.6% after 8,000.
LESSON5 = replace(LESSON, latent_dim=16, g_hidden=256, g_layers=4, layers=3, batch_size=128)
TARGETS = ("ring", "grid")


# Lesson 6's WGAN-GP on the grid, as in the authors' toy code (Gulrajani et al. 2017, the
# gan_toy.py of their repository): z in 2 dimensions, G and the critic with three hidden
# layers (of 512 there, 128 here), batch 256, n_critic 5, Adam with betas (0.5, 0.9), the data
# divided by its standard deviation, and lambda = 0.1 ("smaller lambda seems to help for toy
# tasks"). The learning rate is 1e-3 decayed linearly to 0 over 5,000 steps instead of 1e-4
# for 100,000. Measured on the grid, seed 0, 5,000 steps: lambda = 10 gave 15-18 of 25 modes at
# 1-2% high quality; lambda = 0.1 in data units 25 at 60%; standardised, 25 at 83%.
WGAN_GP = replace(
    LESSON,
    latent_dim=2,
    g_layers=3,
    layers=3,
    game="wgan_gp",
    n_critic=5,
    beta2=0.9,
    gp_weight=0.1,
    standardize=True,
)
# The same players and budget with WGAN's Algorithm 1 instead (Arjovsky et al. 2017): weight
# clipping at c = 0.01, RMSProp at 5e-5.
WGAN_CLIP = replace(WGAN_GP, game="wgan_clip", optimizer="rmsprop", lr=5e-5, clip=0.01)
WGAN_SETUPS = {"wgan_clip": WGAN_CLIP, "wgan_gp": WGAN_GP}


def wgan_steps() -> int:
    """Generator steps of lesson 6's 2D WGANs at the current budget."""
    return config.budgeted(quick=1000, full=5000)


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: choose one of {TARGETS}")


def lesson_setup(target: str, kind: str = "plain") -> Setup:
    """Lesson 5's GAN (``LESSON5``) on ``target`` with a ``kind`` of discriminator: "plain",
    "minibatch" or "pacgan2". The same players on the ring and the grid."""
    _check_target(target)
    return replace(LESSON5, kind=kind)


def lesson_steps(target: str = "ring") -> int:
    """Training steps of lesson 4's GAN (``LESSON``) at the current budget; it runs on the ring
    and, to show it collapsing there too, on the grid."""
    _check_target(target)
    return config.budgeted(quick=1500, full=6000)


def minibatch_steps(target: str) -> int:
    """Training steps of lesson 5's GAN (``lesson_setup``) on ``target`` at the current budget:
    the grid's 25 modes take longer to sharpen than the ring's 8."""
    _check_target(target)
    if target == "ring":
        return config.budgeted(quick=1500, full=8000)
    return config.budgeted(quick=2000, full=20000)


class ModeRecord:
    """A ``train_gan`` callback: every ``every`` steps, the mode metrics of ``EVAL_SAMPLES``
    samples from fixed noise, and ``keep`` of those samples for snapshots."""

    def __init__(
        self, generator: nn.Module, target: str | Mixture2D, every: int, keep: int = 500
    ) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.generator, self.every, self.keep = generator, every, keep
        self.target = mixture(target) if isinstance(target, str) else target
        self.steps: list[int] = []
        self.coverage: list[ModeCoverage] = []
        self.snapshots: list[np.ndarray] = []

    def __call__(self, step: int) -> None:
        if step % self.every == 0:
            self.measure(step)

    def measure(self, step: int) -> None:
        samples = generate(self.generator, EVAL_SAMPLES, seed=1)
        self.steps.append(step)
        self.coverage.append(mode_coverage(samples, self.target.means.numpy(), self.target.std))
        self.snapshots.append(samples[: self.keep])

    def histograms(self) -> np.ndarray:
        """(measurements, modes): the share of samples nearest to each mode, over time."""
        return np.stack([c.histogram for c in self.coverage])


@dataclass(frozen=True)
class SeedResult:
    """One seed's run: its coverage on ``EVAL_SAMPLES`` samples, those samples and the time;
    the history, the trained players' weights (``players(setup)`` rebuilds them) and, where
    asked for, ``EVAL_SAMPLES`` samples at regular steps: ``snapshots[step]``."""

    seed: int
    coverage: ModeCoverage
    samples: np.ndarray
    seconds: float
    history: History | None = None
    generator_state: dict | None = None
    critic_state: dict | None = None
    snapshots: dict[int, np.ndarray] | None = None


def _train_and_measure(
    target: str, setup: Setup, steps: int, seed: int, device: str, snapshot_every: int = 0
) -> SeedResult:
    """One seed, start to finish; a top-level function so that worker processes can run it."""
    if device == "cpu":
        torch.set_num_threads(1)  # one thread is fastest for these MLPs, and leaves the others
    snapshots: dict[int, np.ndarray] = {}
    start = time.perf_counter()
    models = seeded_players(target, setup, seed, device)

    def snapshot(step: int) -> None:
        if snapshot_every and step % snapshot_every == 0:
            snapshots[step] = generate(models[0], EVAL_SAMPLES, seed=1)

    generator, critic, history = train_toy2d(
        target, setup, steps, seed, device, snapshot, progress=False, models=models
    )
    seconds = time.perf_counter() - start
    samples = generate(generator, EVAL_SAMPLES, seed=seed + 1)
    mix = mixture(target)
    return SeedResult(
        seed,
        mode_coverage(samples, mix.means.numpy(), mix.std),
        samples,
        seconds,
        history,
        {k: v.cpu() for k, v in generator.state_dict().items()},
        {k: v.cpu() for k, v in critic.state_dict().items()},
        snapshots or None,
    )


def _relative_cost(setup: Setup) -> float:
    """A rough cost per step, to start the slowest runs first: minibatch discrimination
    compares every pair in the batch."""
    pairs = setup.batch_size**2 / 1e3 if setup.kind == "minibatch" else 0.0
    # a critic step with the gradient penalty costs about three plain ones (double backward)
    critic_steps = setup.n_critic * (3 if setup.game == "wgan_gp" else 1)
    return (
        setup.batch_size
        * (setup.g_layers * setup.g_hidden + critic_steps * setup.layers * setup.hidden)
        / 1e4
        + pairs
    )


@dataclass(frozen=True)
class Run:
    """One training run: ``setup`` on ``target`` for ``steps`` steps from ``seed``."""

    target: str
    setup: Setup
    steps: int
    seed: int


def train_runs(
    runs: Sequence[Run],
    device: torch.device | str = "cpu",
    workers: int | None = None,
    snapshot_every: int = 0,
    desc: str = "2D GANs",
) -> list[SeedResult]:
    """Train and measure each run, in the order given back (any mix of targets and setups).

    On the CPU the runs go to ``workers`` processes of one thread each (default: one per CPU
    core, at most the number of runs), the dearest first so that the workers finish together,
    since one thread is fastest for these small networks; on a GPU they run one after the
    other in this process. Each run is exactly ``train_toy2d(target, setup, steps, seed)``, so
    its numbers match a run made alone. With ``snapshot_every``, each result also holds
    samples from every that many steps.
    """
    for run in runs:
        _check_target(run.target)
    device = str(torch.device(device))
    order = sorted(range(len(runs)), key=lambda i: -_relative_cost(runs[i].setup) * runs[i].steps)
    results: list[SeedResult | None] = [None] * len(runs)
    bar = tqdm(total=len(runs), desc=f"{desc}: {len(runs)} runs")
    if device != "cpu":
        for i in order:
            run = runs[i]
            results[i] = _train_and_measure(
                run.target, run.setup, run.steps, run.seed, device, snapshot_every
            )
            bar.update()
    else:
        workers = workers or min(len(runs), os.cpu_count() or 1)
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch state
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            jobs = {
                pool.submit(
                    _train_and_measure,
                    runs[i].target,
                    runs[i].setup,
                    runs[i].steps,
                    runs[i].seed,
                    device,
                    snapshot_every,
                ): i
                for i in order
            }
            for job in as_completed(jobs):
                results[jobs[job]] = job.result()
                bar.update()
    bar.close()
    return [result for result in results if result is not None]


def train_seeds(
    target: str,
    setups: dict[str, Setup],
    steps: int,
    seeds: Sequence[int] | Mapping[str, Sequence[int]],
    device: torch.device | str = "cpu",
    workers: int | None = None,
    snapshot_every: int = 0,
) -> dict[str, list[SeedResult]]:
    """Train every setup in ``setups`` from every seed in ``seeds`` on ``target`` and measure
    each run (:func:`train_runs`), for a table of mean and standard deviation over seeds.
    ``seeds`` may instead map each setup's name to its own seeds. Returns each setup's
    results in the order of its seeds."""
    per_setup = seeds if isinstance(seeds, Mapping) else {name: seeds for name in setups}
    if set(per_setup) != set(setups):
        raise ValueError(f"seeds names {sorted(per_setup)}, but the setups are {sorted(setups)}")
    if not all(per_setup.values()):
        raise ValueError("seeds is empty: give at least one seed, e.g. seeds=(0, 1, 2)")
    names = [name for name in setups for _ in per_setup[name]]
    runs = [Run(target, setups[name], steps, seed) for name in setups for seed in per_setup[name]]
    done = train_runs(runs, device, workers, snapshot_every, desc=f"the {target}")
    results: dict[str, list[SeedResult]] = {name: [] for name in setups}
    for name, result in zip(names, done, strict=True):
        results[name].append(result)
    return results


def summary_over_seeds(results: Sequence[SeedResult]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation (ddof 1) over seeds of modes captured, high quality
    and reverse KL."""
    table = {}
    for key in ("modes_captured", "high_quality", "reverse_kl"):
        values = np.array([getattr(r.coverage, key) for r in results], dtype=float)
        table[key] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0)
    return table
