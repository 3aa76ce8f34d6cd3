"""Lesson 11: CycleGAN. Translate between two domains of digits with no paired examples.

Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", arXiv 1703.10593. Two generators, G: A -> B and F: B -> A, two discriminators, D_B
(is it a B?) and D_A, and the full objective (section 3, equation 3)

    L = L_GAN(G, D_B) + L_GAN(F, D_A) + lambda L_cyc(G, F),
    L_cyc = E_a ||F(G(a)) - a||_1 + E_b ||G(F(b)) - b||_1,   lambda = 10,

with the least-squares GAN loss (Mao et al. 2016, arXiv 1611.04076; section 4 of CycleGAN):
D descends (D(b) - 1)^2 + D(G(a))^2, G descends (D(G(a)) - 1)^2; and D judging a buffer of 50
past translations (Shrivastava et al. 2016) rather than only the newest. The cycle is what ties
G(a) to a: without it, any G whose outputs look like B fools D_B, whatever its input was.

Domain A: scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels, from the UCI set),
enlarged to MNIST's 20x20 box in a 28x28 frame; domain B: MNIST. Both ship offline.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import check_count, for_budget, seed_everything
from .data import Digits
from .evaluator import Evaluator
from .games import DSideResult, Players
from .nets import fast_layout
from .record import Outcome
from .train import linear_to_zero, train_gan, trained_run
from .workers import run_in_workers

Pair = tuple[Tensor, Tensor]
BOX = 20  # MNIST's digits fill a 20x20 box centred in 28x28 (LeCun et al. 1998)


def sklearn_digits() -> Digits:
    """scikit-learn's 1,797 digits (``sklearn.datasets.load_digits``, no download: they ship
    inside the package), each 8x8 image of 0..16 enlarged bilinearly to 20x20, set in the middle
    of a 28x28 frame and scaled to [-1, 1] like MNIST's: (1797, 1, 28, 28) with labels."""
    from sklearn.datasets import load_digits

    loaded = load_digits()
    small = torch.from_numpy(loaded.images).float().unsqueeze(1) / 16.0
    box = F.interpolate(small, size=(BOX, BOX), mode="bilinear", align_corners=False)
    pad = (28 - BOX) // 2
    framed = F.pad(box.clamp(0, 1), (pad, pad, pad, pad))
    labels = torch.from_numpy(loaded.target).long()
    return Digits(framed * 2 - 1, labels, "scikit-learn's 8x8 digits, enlarged to 28x28")


class ResidualBlock(nn.Module):
    """x + conv(relu(norm(conv(x)))) with instance norm (He et al. 2015; CycleGAN's blocks)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, padding_mode="reflect"),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1, padding_mode="reflect"),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def translator(width: int = 32, blocks: int = 3, downs: int = 1) -> nn.Sequential:
    """CycleGAN's generator at 28x28, small: a 7x7 convolution, ``downs`` stride-2
    convolutions (28 -> 14 -> 7), each doubling the maps, ``blocks`` residual blocks, as many
    nearest-neighbour upsamplings and convolutions back to 28 (no transposed convolution: no
    checkerboard), a 7x7 convolution and tanh; instance norm and reflection padding as in the
    paper's appendix 7.2."""
    check_count(width, "width")
    check_count(blocks, "blocks", 0)
    check_count(downs, "downs", 1)
    layers: list[nn.Module] = [
        nn.Conv2d(1, width, 7, 1, 3, padding_mode="reflect"),
        nn.InstanceNorm2d(width, affine=True),
        nn.ReLU(),
    ]
    for i in range(downs):  # 28 -> 14 (-> 7)
        maps = width * 2**i
        layers += [nn.Conv2d(maps, 2 * maps, 3, 2, 1), nn.InstanceNorm2d(2 * maps, affine=True),
                   nn.ReLU()]  # fmt: skip
    layers += [ResidualBlock(width * 2**downs) for _ in range(blocks)]
    for i in reversed(range(downs)):  # back to 28
        maps = width * 2**i
        layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                   nn.Conv2d(2 * maps, maps, 3, 1, 1, padding_mode="reflect"),
                   nn.InstanceNorm2d(maps, affine=True), nn.ReLU()]  # fmt: skip
    layers += [nn.Conv2d(width, 1, 7, 1, 3, padding_mode="reflect"), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_discriminator(width: int = 32) -> nn.Sequential:
    """A PatchGAN for 28x28 (Isola et al. 2016): strided 4x4 convolutions 28 -> 14 -> 7,
    LeakyReLU 0.2, instance norm on the second, and a 3x3 convolution to a 7x7 map of scores,
    each judging one overlapping patch of the digit."""
    check_count(width, "width")
    return nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1),
        nn.InstanceNorm2d(2 * width, affine=True),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 1, 3, 1, 1),
    )


class Translators(nn.Module):
    """The generator side: ``a_to_b`` (the paper's G) and ``b_to_a`` (its F)."""

    def __init__(self, width: int = 32, blocks: int = 3, downs: int = 1) -> None:
        super().__init__()
        self.a_to_b = translator(width, blocks, downs)
        self.b_to_a = translator(width, blocks, downs)


class Judges(nn.Module):
    """The discriminator side: ``b`` (D_B, judging translations into B) and ``a`` (D_A)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.b, self.a = patch_discriminator(width), patch_discriminator(width)


def lsgan_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The least-squares D cost: 1/2 E[(D(real) - 1)^2] + 1/2 E[D(fake)^2] (Mao et al. 2016,
    a = 0, b = c = 1), over every patch score."""
    return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores**2).mean()


def lsgan_g_loss(fake_scores: Tensor) -> Tensor:
    """The least-squares G cost: E[(D(G(a)) - 1)^2], over every patch score."""
    return ((fake_scores - 1) ** 2).mean()


def cycle_loss(rebuilt: Tensor, original: Tensor) -> Tensor:
    """One direction of the cycle-consistency loss: the mean absolute difference
    ||F(G(a)) - a||_1 per pixel."""
    return (rebuilt - original).abs().mean()


@dataclass
class FakeBuffer:
    """The history of translations D sees (Shrivastava et al. 2016; CycleGAN section 4): until
    ``size`` are held, each new one is kept and shown; after that each new one is shown with
    probability 1/2, or else swapped for a random old one, which is shown instead."""

    size: int = 50
    held: list[Tensor] = field(default_factory=list)
    draw: random.Random = field(default_factory=lambda: random.Random(0))

    def query(self, fakes: Tensor) -> Tensor:
        if self.size == 0:
            return fakes
        shown = []
        for fake in fakes.detach():
            if len(self.held) < self.size:
                self.held.append(fake)
                shown.append(fake)
            elif self.draw.random() < 0.5:
                i = self.draw.randrange(self.size)
                shown.append(self.held[i])
                self.held[i] = fake
            else:
                shown.append(fake)
        return torch.stack(shown)


@dataclass
class CycleGame:
    """CycleGAN's game on unpaired batches (a, b). D side: D_B on b against buffered G(a), D_A on
    a against buffered F(b), both least squares. Generator side: each translation's
    least-squares cost, plus ``cycle_weight`` times both directions of :func:`cycle_loss`, plus
    ``identity_weight`` times ||G(b) - b||_1 + ||F(a) - a||_1 (the paper's identity loss, which
    it weighs lambda / 2). Both weights 0: two GANs alone, the ablation."""

    cycle_weight: float = 10.0
    identity_weight: float = 0.0
    buffer: int = 50
    name: str = "cyclegan"
    scores: bool = True
    has_d_side: bool = True

    def __post_init__(self) -> None:
        if not (self.cycle_weight >= 0 and self.identity_weight >= 0):
            raise ValueError(f"the cycle and identity weights are >= 0, got "
                             f"{self.cycle_weight} and {self.identity_weight}")  # fmt: skip
        check_count(self.buffer, "buffer", 0, "past translations D sees")
        self.to_b, self.to_a = FakeBuffer(self.buffer), FakeBuffer(self.buffer)

    def d_loss(self, players: Players, real: Pair, noise: Any) -> DSideResult:
        a, b = real
        g, d = players.generator, players.discriminator
        with torch.no_grad():
            fake_b, fake_a = self.to_b.query(g.a_to_b(a)), self.to_a.query(g.b_to_a(b))
        real_b, false_b = d.b(torch.cat([b, fake_b])).split(len(b))
        real_a, false_a = d.a(torch.cat([a, fake_a])).split(len(a))
        loss = lsgan_d_loss(real_b, false_b) + lsgan_d_loss(real_a, false_a)
        return DSideResult(loss, real_b.detach().mean(), false_b.detach().mean())

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise: Any, sample_data: Any) -> Tensor:
        a, b = sample_data()
        g, d = players.generator, players.discriminator
        fake_b, fake_a = g.a_to_b(a), g.b_to_a(b)
        loss = lsgan_g_loss(d.b(fake_b)) + lsgan_g_loss(d.a(fake_a))
        if self.cycle_weight:
            cycle = cycle_loss(g.b_to_a(fake_b), a) + cycle_loss(g.a_to_b(fake_a), b)
            loss = loss + self.cycle_weight * cycle
        if self.identity_weight:
            identity = cycle_loss(g.a_to_b(b), b) + cycle_loss(g.b_to_a(a), a)
            loss = loss + self.identity_weight * identity
        return loss


def unpaired_sampler(a: Tensor, b: Tensor, device: torch.device | str = "cpu"):
    """``sample_data(m)``: m digits of A and m of B, each drawn at random on its own: no pairs."""
    a, b = a.to(device), b.to(device)

    def sample(m: int) -> Pair:
        return (a[torch.randint(len(a), (m,), device=a.device)],
                b[torch.randint(len(b), (m,), device=b.device)])  # fmt: skip

    return sample


@dataclass(frozen=True)
class CycleRecipe:
    """How CycleGAN trains here: the paper's lambda 10, identity weight lambda / 2 and buffer of
    50; Adam (beta1 0.5) at ``lr``, three times the paper's 2e-4 for a run of minutes, falling
    to 0 over the run; batches of ``batch_size`` (the paper's 1 is a memory limit at 256x256);
    ``quick_steps``, or ``full_seconds`` at the full budget (the model and its ablation train
    side by side, one CPU core each). The README has the screening."""

    width: int = 16
    blocks: int = 2
    downs: int = 1
    d_width: int = 16
    cycle_weight: float = 10.0
    identity_weight: float = 5.0
    buffer: int = 50
    lr: float = 6e-4
    batch_size: int = 8
    quick_steps: int = 150
    full_seconds: float = 540.0
    full_steps: int = 50_000


CYCLEGAN = CycleRecipe()


def cycle_players(recipe: CycleRecipe, device: torch.device | str) -> Players:
    """Fresh translators and judges on ``device`` with Adam optimisers."""
    translators = fast_layout(Translators(recipe.width, recipe.blocks, recipe.downs), device)
    judges = fast_layout(Judges(recipe.d_width), device)
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(translators.parameters(), lr=recipe.lr, betas=betas)
    opt_d = torch.optim.Adam(judges.parameters(), lr=recipe.lr, betas=betas)
    return Players(translators, judges, opt_g, opt_d)


def train_cyclegan(
    a: Tensor,
    b: Tensor,
    budget: str,
    seed: int,
    device: torch.device | str = "cpu",
    recipe: CycleRecipe = CYCLEGAN,
    seconds: float | None = None,
    progress: bool | str = False,
) -> dict[str, Any]:
    """Train CycleGAN between digits ``a`` and ``b`` from ``seed`` at ``budget`` (``seconds``
    overrides the full budget's time); returns the translators' weights on the CPU, steps,
    seconds and the generator side's loss curve."""
    seed_everything(seed)
    players = cycle_players(recipe, device)
    game = CycleGame(recipe.cycle_weight, recipe.identity_weight, recipe.buffer)
    start = time.perf_counter()
    history = train_gan(
        players, game,
        sample_data=unpaired_sampler(a, b, device), sample_noise=lambda m: None,
        steps=for_budget(budget, recipe.quick_steps, recipe.full_steps),
        time_limit=for_budget(budget, None, seconds or recipe.full_seconds),
        batch_size=recipe.batch_size, lr_schedule=linear_to_zero, progress=progress,
    )  # fmt: skip
    return trained_run(players.generator, history, time.perf_counter() - start)


def translators_from(trained: dict[str, Any], recipe: CycleRecipe = CYCLEGAN) -> Translators:
    """The trained translators of :func:`train_cyclegan`, on the CPU, in evaluation mode."""
    translators = Translators(recipe.width, recipe.blocks, recipe.downs)
    translators.load_state_dict(trained["state"])
    return translators.eval()


def train_with_and_without_cycle(
    a: Tensor,
    b: Tensor,
    budget: str,
    seed: int,
    device: torch.device | str = "cpu",
    recipe: CycleRecipe = CYCLEGAN,
    seconds: float | None = None,
) -> dict[str, dict[str, Any]]:
    """CycleGAN and its ablation, the two GANs alone (no cycle loss and no identity loss: the
    paper's "GAN alone"), from one ``seed`` for the same budget, side by side (two workers of one
    CPU thread; one after the other on a GPU)."""
    device = str(torch.device(device))
    ablation = replace(recipe, cycle_weight=0.0, identity_weight=0.0)
    jobs = [(a, b, budget, seed, device, r, seconds) for r in (recipe, ablation)]
    cycle, no_cycle = run_in_workers(train_cyclegan, jobs, in_process=device != "cpu",
                                     desc="CycleGANs")  # fmt: skip
    return {"cycle": cycle, "no_cycle": no_cycle}


@torch.no_grad()
def translate(model: nn.Module, images: Tensor, batch: int = 500) -> Tensor:
    """``model(images)`` on the CPU in chunks, in evaluation mode."""
    model = model.cpu().eval()
    return torch.cat([model(chunk) for chunk in images.split(batch)])


def translation_figures(
    translators: Translators, sources: Digits, evaluator: Evaluator
) -> dict[str, Any]:
    """How well A's digits go to B and back: the evaluator's accuracy on G(a) against a's
    labels (is the digit kept?), the Frechet ratio of G(a) against MNIST, and the cycle's
    reconstruction error ||F(G(a)) - a||_1 per pixel."""
    translated = translate(translators.a_to_b, sources.images)
    rebuilt = translate(translators.b_to_a, translated)
    return {
        "translated": translated,
        "rebuilt": rebuilt,
        "class_kept": evaluator.label_accuracy(translated, sources.labels),
        "frechet_ratio": float(evaluator.evaluate(translated)["frechet_ratio"]),
        "cycle_error": cycle_loss(rebuilt, sources.images).item(),
    }


def untranslated_figures(sources: Digits, evaluator: Evaluator) -> dict[str, float]:
    """The baseline: the evaluator on A's enlarged digits as they are, untranslated."""
    return {
        "class_kept": evaluator.label_accuracy(sources.images, sources.labels),
        "frechet_ratio": float(evaluator.evaluate(sources.images)["frechet_ratio"]),
    }


def benchmark(device: torch.device, seed: int, budget: str) -> Outcome:
    """Lesson 11: CycleGAN between scikit-learn's digits and the GAN's MNIST digits, beside its
    ablation (the two GANs alone), same budget, from ``seed``. samples.npy: the 1,797
    scikit-learn digits translated to MNIST's style; labels.npy: their labels."""
    from .data import load_mnist
    from .evaluator import gan_training_digits, load_or_train_evaluator

    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    sources, recipe = sklearn_digits(), CYCLEGAN
    trained = train_with_and_without_cycle(
        sources.images, gan_training_digits(digits).images, budget, seed, device, recipe
    )
    figures: dict[str, Any] = {"untranslated": untranslated_figures(sources, evaluator)}
    for name, run in trained.items():
        figures[name] = translation_figures(translators_from(run, recipe), sources, evaluator)
        figures[name].pop("rebuilt")
    translated = figures["cycle"].pop("translated")
    figures["no_cycle"].pop("translated")
    return Outcome(
        samples=translated.numpy(),
        metrics={
            **figures,
            "steps_each": {name: run["steps"] for name, run in trained.items()},
            "seconds_each": {name: round(run["seconds"], 1) for name, run in trained.items()},
            "domain_a": sources.source,
            "data": digits.source,
            "evaluator_accuracy": evaluator.accuracy,
            "recipe": asdict(recipe),
        },
        steps=sum(run["steps"] for run in trained.values()),
        train_seconds=max(run["seconds"] for run in trained.values()),
        arrays={"labels": sources.labels.numpy()},
    )
