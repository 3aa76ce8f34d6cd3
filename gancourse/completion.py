"""Lesson 11: the blurry mean against the adversarial sample. Complete a digit's bottom half.

Goodfellow 2016, "NIPS 2016 Tutorial: Generative Adversarial Networks", arXiv 1701.00160,
section 3.2 (after Lotter et al. 2015, arXiv 1511.06380): when many outputs fit one input,
a network trained on the mean squared error predicts their mean, E[y | x], which is blurry;
an adversarial loss makes it pick one sharp answer instead. Here the input is a digit's top
14 rows and the output its bottom 14 rows (a 7 or a 9, a 3 or a 5 share a top).

Two completers, the same network G(top, z) (:class:`Completer`):

- **MSE**: L = mean over pixels of (G(top, z) - bottom)^2 (:class:`MSEGame`, no adversary);
- **adversarial**: the same MSE with weight ``mse_weight``, plus the non-saturating loss of a
  conditional D that judges the whole digit, (top, bottom) (:class:`CompletionGame`, after
  pix2pix, Isola et al. 2016, arXiv 1611.07004, with a small weight on the pixel loss so the
  noise z is not ignored).

Both train on the course's one loop; :func:`measure` compares them on held-out tops.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import losses
from .config import check_count, for_budget, rng, seed_everything
from .data import Digits, tensor_sampler
from .evaluator import Evaluator
from .games import DSideResult, OneSided, Players, d_side_result
from .nets import dcgan_discriminator, dcgan_init, fast_layout
from .record import Outcome
from .train import linear_to_zero, train_gan, trained_run
from .workers import run_in_workers

TOP_ROWS = 14
HELD_OUT = 2000
DRAWS = 8  # completions of each top, for the spread across noise


def split_halves(images: Tensor) -> tuple[Tensor, Tensor]:
    """Digits (N, 1, 28, 28) to their top rows (N, 1, 14, 28) and bottom rows (N, 1, 14, 28)."""
    if images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected digits shaped (N, 1, 28, 28), got {tuple(images.shape)}")
    return images[:, :, :TOP_ROWS], images[:, :, TOP_ROWS:]


def join_halves(top: Tensor, bottom: Tensor) -> Tensor:
    """The whole digit: top rows above bottom rows."""
    return torch.cat([top, bottom], dim=2)


class Completer(nn.Module):
    """G(top, z): a top half (N, 1, 14, 28) and noise z (N, noise_dim) to a bottom half
    (N, 1, 14, 28) in [-1, 1]. Two strided convolutions read the top (14x28 -> 7x14 -> 4x7),
    a linear layer joins its 256 features with z, and a fractionally-strided convolution draws
    the bottom (7x14 -> 14x28) through a last 3x3 convolution and tanh."""

    def __init__(self, noise_dim: int = 32, width: int = 32) -> None:
        super().__init__()
        check_count(noise_dim, "noise_dim")
        check_count(width, "width")
        self.noise_dim, self.width = noise_dim, width
        self.read = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1),  # 14x28 -> 7x14
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),  # 7x14 -> 3x7
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 3 * 7, 256),
            nn.LeakyReLU(0.2),
        )
        self.join = nn.Sequential(
            nn.Linear(256 + noise_dim, 2 * width * 7 * 14, bias=False),
            nn.BatchNorm1d(2 * width * 7 * 14),
            nn.ReLU(),
        )
        self.draw = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # 7x14 -> 14x28
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 1, 3, 1, 1),
            nn.Tanh(),
        )
        self.apply(dcgan_init)

    def forward(self, top: Tensor, z: Tensor) -> Tensor:
        hidden = self.join(torch.cat([self.read(top), z], dim=1))
        return self.draw(hidden.view(-1, 2 * self.width, 7, 14))


def bottom_mse(predicted: Tensor, bottom: Tensor) -> Tensor:
    """The pixel loss: the mean over the batch and the pixels of (predicted - bottom)^2."""
    return F.mse_loss(predicted, bottom)


@dataclass(frozen=True)
class MSEGame(OneSided):
    """The MSE completer's training: one side, no adversary; the loss is :func:`bottom_mse` of
    G(top, z) against the true bottom of a fresh data batch."""

    name: str = "mse"

    def g_loss(self, players: Players, noise: Tensor, sample_data: Any) -> Tensor:
        top, bottom = split_halves(sample_data())
        return bottom_mse(players.generator(top, noise), bottom)


def mode_seeking_loss(first: Tensor, second: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
    """The mode-seeking term of Mao et al. 2019 ("Mode Seeking Generative Adversarial Networks
    for Diverse Image Synthesis", arXiv 1903.05628, eq. 3), as their code computes it:
    1 / (mean |G(c, z1) - G(c, z2)| / mean |z1 - z2| + 1e-5). Small when two noises give two
    different outputs for the same condition; large when G ignores its noise."""
    ratio = (first - second).abs().mean() / (z1 - z2).abs().mean()
    return 1 / (ratio + 1e-5)


@dataclass(frozen=True)
class CompletionGame:
    """The adversarial completer's game. D judges whole digits: a real digit, or a real top with
    G's bottom; it descends the cross-entropy (``losses.discriminator_loss``). G descends
    ``mse_weight`` * :func:`bottom_mse` + the non-saturating cost of D on its completions
    + ``diversity_weight`` * :func:`mode_seeking_loss` of two completions of each top."""

    mse_weight: float = 1.0
    diversity_weight: float = 0.0
    name: str = "completion"
    scores: bool = False
    has_d_side: bool = True

    def __post_init__(self) -> None:
        if not (self.mse_weight >= 0 and self.diversity_weight >= 0):
            raise ValueError(f"mse_weight and diversity_weight are weights >= 0, got "
                             f"{self.mse_weight} and {self.diversity_weight}")  # fmt: skip

    def d_loss(self, players: Players, real: Tensor, noise: Tensor) -> DSideResult:
        top, _ = split_halves(real)
        with torch.no_grad():  # D's step needs G's completions, not a graph through G
            fake = join_halves(top, players.generator(top, noise))
        real_logits, fake_logits = players.discriminator(torch.cat([real, fake])).split(len(real))
        loss = losses.discriminator_loss(real_logits, fake_logits)
        return d_side_result(loss, real_logits, fake_logits, self.scores)

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise: Tensor, sample_data: Any) -> Tensor:
        top, bottom = split_halves(sample_data())
        predicted = players.generator(top, noise)
        adversarial = losses.non_saturating(players.discriminator(join_halves(top, predicted)))
        loss = self.mse_weight * bottom_mse(predicted, bottom) + adversarial
        if self.diversity_weight:
            other = torch.randn_like(noise)
            second = players.generator(top, other)
            loss = loss + self.diversity_weight * mode_seeking_loss(predicted, second, noise, other)
        return loss


@dataclass(frozen=True)
class CompletionRecipe:
    """How both completers train: Adam (``lr``, beta1 0.5), rates falling to 0, ``batch_size``,
    ``quick_steps`` at the quick budget and ``full_seconds`` each at the full one (the two train
    side by side, one CPU core each); D is lesson 3's with spectral norm, ``d_width`` wide. The
    adversarial completer's loss weighs the pixel error by ``mse_weight`` and the mode-seeking
    term by ``diversity_weight`` (:class:`CompletionGame`; the README has the screening)."""

    noise_dim: int = 32
    width: int = 32
    d_width: int = 32
    mse_weight: float = 1.0
    diversity_weight: float = 0.003
    lr: float = 2e-4
    batch_size: int = 64
    quick_steps: int = 200
    full_seconds: float = 480.0
    full_steps: int = 50_000


COMPLETION = CompletionRecipe()


def completion_players(
    adversarial: bool, recipe: CompletionRecipe, device: torch.device | str
) -> Players:
    """A fresh completer (and, for the adversarial one, its D) with Adam optimisers."""
    generator = Completer(recipe.noise_dim, recipe.width).to(device)
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(generator.parameters(), lr=recipe.lr, betas=betas)
    if not adversarial:
        return Players(generator, None, opt_g)
    discriminator = fast_layout(dcgan_discriminator(recipe.d_width, norm="spectral"), device)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=recipe.lr, betas=betas)
    return Players(generator, discriminator, opt_g, opt_d)


def noise_sampler(noise_dim: int, device: torch.device | str):
    """z ~ N(0, I) in ``noise_dim`` dimensions on ``device``, m at a time."""
    return lambda m: torch.randn(m, noise_dim, device=device)


def train_completer(
    adversarial: bool,
    images: Tensor,
    budget: str,
    seed: int,
    device: torch.device | str = "cpu",
    recipe: CompletionRecipe = COMPLETION,
    seconds: float | None = None,
    progress: bool | str = False,
) -> dict[str, Any]:
    """Train one completer on whole ``images`` from ``seed`` at ``budget`` (``seconds`` of
    training overrides the full budget's); returns its weights on the CPU, its steps and
    seconds, and its loss curve."""
    seed_everything(seed)
    players = completion_players(adversarial, recipe, device)
    game = (CompletionGame(recipe.mse_weight, recipe.diversity_weight) if adversarial
            else MSEGame())  # fmt: skip
    steps = for_budget(budget, recipe.quick_steps, recipe.full_steps)
    limit = for_budget(budget, None, seconds or recipe.full_seconds)
    start = time.perf_counter()
    history = train_gan(
        players, game,
        sample_data=tensor_sampler(images, device),
        sample_noise=noise_sampler(recipe.noise_dim, device),
        steps=steps, time_limit=limit, batch_size=recipe.batch_size,
        lr_schedule=linear_to_zero, progress=progress,
    )  # fmt: skip
    return trained_run(players.generator, history, time.perf_counter() - start)


def completer_from(trained: dict[str, Any], recipe: CompletionRecipe = COMPLETION) -> Completer:
    """The trained completer of :func:`train_completer`, on the CPU, in evaluation mode."""
    completer = Completer(recipe.noise_dim, recipe.width)
    completer.load_state_dict(trained["state"])
    return completer.eval()


def train_both(
    images: Tensor,
    budget: str,
    seed: int,
    device: torch.device | str = "cpu",
    recipe: CompletionRecipe = COMPLETION,
    seconds: float | None = None,
) -> dict[str, dict[str, Any]]:
    """The MSE and the adversarial completer from one ``seed``, side by side: in two worker
    processes of one CPU thread each on the CPU, one after the other on a GPU."""
    device = str(torch.device(device))
    jobs = [(adversarial, images, budget, seed, device, recipe, seconds)
            for adversarial in (False, True)]  # fmt: skip
    mse, adversarial = run_in_workers(
        train_completer, jobs, in_process=device != "cpu", desc="completers"
    )
    return {"mse": mse, "adversarial": adversarial}


@torch.no_grad()
def complete(completer: nn.Module, tops: Tensor, seed: int, batch: int = 500) -> Tensor:
    """Whole digits: each top with ``completer``'s bottom, from noise of ``seed``, on the CPU."""
    completer = completer.cpu().eval()
    z = torch.randn(len(tops), completer.noise_dim, generator=rng(seed))
    bottoms = [completer(t, n) for t, n in zip(tops.split(batch), z.split(batch), strict=True)]
    return join_halves(tops, torch.cat(bottoms))


def gradient_energy(images: Tensor) -> Tensor:
    """Sharpness, per image: the mean over the bottom half of |dx|^2 + |dy|^2, the squared
    differences of neighbouring pixels (after Mathieu et al. 2015, arXiv 1511.05440). A blurred
    digit has soft edges, so a low energy."""
    bottom = images[:, :, TOP_ROWS - 1 :]  # one row of the top: the seam counts too
    dy = bottom[:, :, 1:] - bottom[:, :, :-1]
    dx = bottom[:, :, :, 1:] - bottom[:, :, :, :-1]
    return (dy**2).flatten(1).mean(1) + (dx**2).flatten(1).mean(1)


def spread_across_noise(
    completer: nn.Module, tops: Tensor, seed: int, draws: int = DRAWS
) -> Tensor:
    """Per top, the standard deviation over ``draws`` completions (noise from ``seed`` + i) of
    each bottom pixel, averaged over the pixels: 0 when the completer ignores its noise."""
    bottoms = torch.stack(
        [complete(completer, tops, seed + i)[:, :, TOP_ROWS:] for i in range(draws)]
    )
    return bottoms.std(dim=0).flatten(1).mean(1)


def classes_across_noise(
    completer: nn.Module, tops: Tensor, evaluator: Evaluator, seed: int, draws: int = DRAWS
) -> Tensor:
    """Per top, how many different classes the evaluator sees in ``draws`` completions."""
    classes = torch.stack(
        [evaluator.predict(complete(completer, tops, seed + i)) for i in range(draws)]
    )
    return torch.tensor([len(set(column.tolist())) for column in classes.T])


def confidence(images: Tensor, evaluator: Evaluator) -> float:
    """The evaluator's mean largest class probability: how sure it is of what it sees."""
    return float(evaluator.features_and_probabilities(images)[1].max(axis=1).mean())


def completion_figures(
    completed: Tensor, sources: Digits, evaluator: Evaluator
) -> dict[str, float]:
    """One completer's figures on held-out ``sources``: pixel error of the bottom half, its
    sharpness (:func:`gradient_energy`), the evaluator's agreement with the true class and its
    confidence, and the Frechet ratio of the whole completed digits."""
    _, bottom = split_halves(sources.images)
    return {
        "pixel_mse": bottom_mse(completed[:, :, TOP_ROWS:], bottom).item(),
        "gradient_energy": gradient_energy(completed).mean().item(),
        "class_agreement": evaluator.label_accuracy(completed, sources.labels),
        "confidence": confidence(completed, evaluator),
        "frechet_ratio": float(evaluator.evaluate(completed)["frechet_ratio"]),
    }


def held_out_tops(digits: Digits, count: int = HELD_OUT) -> tuple[Digits, str]:
    """``count`` digits no completer trains on, in a fixed shuffled order: the reference part,
    topped up from the evaluator's part where the reference part is too small (MNIST's
    5,000-digit subset holds 1,000 reference digits), and a line saying which."""
    from .evaluator import held_out_digits, split_parts

    parts = split_parts(digits)
    reference = len(parts["reference"])
    if count <= reference:
        return held_out_digits(digits, count), f"{count:,} reference digits"
    extra = parts["evaluator"][: count - reference]
    if len(extra) < count - reference:
        raise ValueError(f"asked for {count:,} held-out digits, only "
                         f"{reference + len(extra):,} are held out: ask for fewer")  # fmt: skip
    index = torch.cat([parts["reference"], extra])
    # in a fixed shuffled order (seed 0, not offset), so that any prefix holds every class
    index = index[torch.randperm(len(index), generator=torch.Generator().manual_seed(0))]
    where = f"{reference:,} reference digits and {len(extra):,} of the evaluator's"
    return digits.subset(index, "held out"), where


def measure(
    completers: dict[str, nn.Module], sources: Digits, evaluator: Evaluator, seed: int
) -> dict[str, Any]:
    """Each completer's figures on ``sources`` (:func:`completion_figures`), from noise of
    ``seed``, with its spread across noise draws; and the real digits' own figures."""
    tops, _ = split_halves(sources.images)
    figures: dict[str, Any] = {"real": completion_figures(sources.images, sources, evaluator)}
    figures["real"].pop("pixel_mse")
    for name, completer in completers.items():
        completed = complete(completer, tops, seed)
        figures[name] = {
            **completion_figures(completed, sources, evaluator),
            "spread_across_noise": spread_across_noise(completer, tops[:500], seed).mean().item(),
            "several_classes": (classes_across_noise(completer, tops[:500], evaluator, seed) > 1)
            .float()
            .mean()
            .item(),
        }
        figures[name]["completed"] = completed
    return figures


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 11: the MSE and the adversarial completer trained side by side from ``seed`` on
    the GAN's digits, measured on 2,000 held-out tops. samples.npy: the adversarial
    completions; mse.npy: the MSE ones; labels.npy: the true classes."""
    from .data import load_mnist
    from .evaluator import gan_training_digits, load_or_train_evaluator

    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    sources, where = held_out_tops(digits)
    recipe = COMPLETION
    trained = train_both(gan_training_digits(digits).images, budget, seed, device, recipe)
    completers = {name: completer_from(run, recipe) for name, run in trained.items()}
    figures = measure(completers, sources, evaluator, seed + 1)
    adversarial = figures["adversarial"].pop("completed")
    mse = figures["mse"].pop("completed")
    return Outcome(
        samples=adversarial.numpy(),
        metrics={
            **figures,
            "frechet_ratio_adversarial_over_mse": figures["adversarial"]["frechet_ratio"]
            / figures["mse"]["frechet_ratio"],
            "steps_each": {name: run["steps"] for name, run in trained.items()},
            "seconds_each": {name: round(run["seconds"], 1) for name, run in trained.items()},
            "held_out": where,
            "data": digits.source,
            "evaluator_accuracy": evaluator.accuracy,
            "recipe": asdict(recipe),
        },
        steps=sum(run["steps"] for run in trained.values()),
        train_seconds=max(run["seconds"] for run in trained.values()),
        arrays={"mse": mse.numpy(), "labels": sources.labels.numpy()},
    )
