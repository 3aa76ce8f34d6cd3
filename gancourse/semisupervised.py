"""Lesson 9: the discriminator as a classifier. Semi-supervised learning with a K+1-class GAN.

Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv 1606.03498, section 5. D
becomes a classifier over the K real classes plus a (K+1)-th class, "generated". With its logits
l_1..l_{K+1}, p(y = j | x) = exp l_j / sum_k exp l_k, and D learns from

    L = L_sup + L_unsup
    L_sup   = -E_{(x, y) labelled} log p(y | x, y < K+1)
    L_unsup = -E_{x unlabelled} log[1 - p(K+1 | x)] - E_{x ~ G} log p(K+1 | x).

The generated class's logit can be fixed at 0 (the softmax is unchanged by a shift of all
logits), so D has K outputs and, with Z(x) = sum_k exp l_k(x),

    D(x) = 1 - p(K+1 | x) = Z(x) / (Z(x) + 1) = sigmoid(log Z(x)),

and L_unsup is the usual GAN loss on the logit log Z(x) = logsumexp(l): an unlabelled digit only
has to be "one of the K classes". The generator plays the usual game on that logit, or matches
the mean of D's last hidden features on real digits (feature matching, section 3.1).

The data of a run is a :class:`Split`: a few labelled digits and many unlabelled ones whose
labels it does not hold, so no training path can read them. ``SupervisedGame`` is the baseline
that sees only the labels: one side, the classifier, and no adversary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from . import losses
from .config import check_count, rng, seeded
from .data import Digits
from .games import DSideResult, Players, WithPlayers, d_side_result
from .nets import decode
from .record import BENCH_SAMPLES, Measurement, Outcome, Recorder

if TYPE_CHECKING:
    from .recipes import Recipe, Run

CLASSES = 10
NOISE_DIM = 100
IMAGE = (1, 28, 28)
Triple = tuple[Tensor, Tensor, Tensor]  # (labelled images, their labels, unlabelled images)


class GaussianNoise(nn.Module):
    """x + sigma * N(0, I) while training, x itself in evaluation: the authors' regulariser on
    every layer of D (it keeps a D that sees only 100 labels from memorising them)."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.sigma == 0:
            return x
        return x + self.sigma * torch.randn_like(x)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class KPlusOneDiscriminator(nn.Module):
    """D of Salimans et al.'s MNIST model: Gaussian noise on the pixels, then dense layers with
    weight norm, each followed by noise (permutation invariant: the pixels as a flat vector),
    and K logits; the (K+1)-th, "generated", is fixed at 0. ``features`` is the last hidden
    layer, the f(x) that feature matching matches."""

    def __init__(
        self,
        hidden: Sequence[int] = (1000, 500, 250, 250, 250),
        input_noise: float = 0.3,
        hidden_noise: float = 0.5,
        classes: int = CLASSES,
    ) -> None:
        super().__init__()
        check_count(classes, "classes", 2, "a classifier needs at least two classes")
        # what rebuilds it (classify.read_classifier)
        self.settings = {"hidden": list(hidden), "input_noise": input_noise,
                         "hidden_noise": hidden_noise, "classes": classes}  # fmt: skip
        layers: list[nn.Module] = [nn.Flatten(), GaussianNoise(input_noise)]
        width = IMAGE[0] * IMAGE[1] * IMAGE[2]
        for size in hidden:
            layers += [weight_norm(nn.Linear(width, size)), nn.ReLU(), GaussianNoise(hidden_noise)]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = weight_norm(nn.Linear(width, classes))

    def features(self, images: Tensor) -> Tensor:
        return self.body(images)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images))


class SalimansGenerator(nn.Module):
    """G of Salimans et al.'s MNIST model: z ~ U(0, 1) in 100 dimensions, two layers of 500
    softplus units with batch norm, and 784 pixels (tanh here, for digits in [-1, 1])."""

    def __init__(self, hidden: int = 500, noise_dim: int = NOISE_DIM) -> None:
        super().__init__()
        self.latent_dim = noise_dim
        self.net = nn.Sequential(
            nn.Linear(noise_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.Softplus(),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.Softplus(),
            weight_norm(nn.Linear(hidden, IMAGE[0] * IMAGE[1] * IMAGE[2])),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *IMAGE)


def uniform_noise(device: torch.device | str = "cpu") -> Callable[[int], Tensor]:
    """``sample_noise(m)``: z ~ U(0, 1) in ``NOISE_DIM`` dimensions, as the authors draw it."""
    return lambda m: torch.rand(m, NOISE_DIM, device=device)


def real_logit(logits: Tensor) -> Tensor:
    """The logit of D(x) = Z / (Z + 1), Z = sum_k exp l_k: log Z = logsumexp(l), computed
    stably. (N, K) -> (N, 1)."""
    return torch.logsumexp(logits, dim=1, keepdim=True)


def real_probability(logits: Tensor) -> Tensor:
    """D(x) = 1 - p(K+1 | x) = Z / (Z + 1) = sigmoid(logsumexp(l))."""
    return torch.sigmoid(real_logit(logits))


def supervised_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """L_sup = -log p(y | x, y < K+1) = -l_y + logsumexp(l): the cross-entropy over the K real
    classes (the generated class does not enter: the softmax is taken among the K)."""
    return F.cross_entropy(logits, labels)


def unsupervised_loss(unlabelled_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_unsup / 2 = the usual D cost (``losses.discriminator_loss``) on the logits log Z: the
    authors' ``loss_unl``, which halves the two terms."""
    return losses.discriminator_loss(real_logit(unlabelled_logits), real_logit(fake_logits))


def feature_matching_loss(fake_features: Tensor, real_features: Tensor) -> Tensor:
    """|| E_data f(x) - E_z f(G(z)) ||^2 over the features, as a mean over them (the authors'
    code): G matches the batch means of D's last hidden layer on real and on generated digits."""
    return (fake_features.mean(dim=0) - real_features.mean(dim=0)).pow(2).mean()


G_OBJECTIVES = ("feature_matching", "non_saturating")


@dataclass(frozen=True)
class KPlusOneGame:
    """D descends L_sup + ``unsupervised_weight`` L_unsup / 2 on a batch of (labelled digits,
    their labels, unlabelled digits) and one of G's samples; G descends the feature-matching
    loss or the usual non-saturating cost on log Z."""

    name: str
    g_objective: str = "feature_matching"
    unsupervised_weight: float = 1.0
    scores: bool = False
    has_d_side: bool = True

    def __post_init__(self) -> None:
        if self.g_objective not in G_OBJECTIVES:
            raise ValueError(
                f"unknown g_objective {self.g_objective!r}: choose one of {', '.join(G_OBJECTIVES)}"
            )

    def d_loss(self, players: Players, real: Triple, noise: Tensor) -> DSideResult:
        labelled, labels, unlabelled = real
        with torch.no_grad():
            fake = players.generator(noise)
        # D judges each digit alone (noise, no batch norm): one pass over all three batches
        logits = players.discriminator(torch.cat([labelled, unlabelled, fake]))
        lab, unl, gen = logits.split([len(labelled), len(unlabelled), len(fake)])
        loss = supervised_loss(lab, labels) + self.unsupervised_weight * unsupervised_loss(unl, gen)
        return d_side_result(loss, real_logit(unl), real_logit(gen), self.scores)

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise: Tensor, sample_data: Callable[[], Triple]) -> Tensor:
        discriminator = players.discriminator
        fake = players.generator(noise)
        if self.g_objective == "non_saturating":
            return losses.non_saturating(real_logit(discriminator(fake)))
        with torch.no_grad():  # the data's features are a target, not something G moves
            target = discriminator.features(sample_data()[2])
        return feature_matching_loss(discriminator.features(fake), target)


@dataclass(frozen=True)
class SupervisedGame:
    """The baseline: the same classifier trained on the labelled digits alone, by cross-entropy.
    A game with one side and no adversary: the players' ``generator`` is the classifier, and
    the loop's one update per step is its update."""

    name: str = "supervised_only"
    scores: bool = False
    has_d_side: bool = False

    def d_loss(self, players: Players, real: Triple, noise: Tensor) -> DSideResult:
        raise RuntimeError("the supervised baseline has no discriminator side")

    def after_d_step(self, players: Players) -> None:
        pass

    def g_loss(self, players: Players, noise: Tensor, sample_data: Callable[[], Triple]) -> Tensor:
        labelled, labels, _ = sample_data()
        return supervised_loss(players.generator(labelled), labels)


@dataclass(frozen=True)
class Split:
    """The data of a semi-supervised run: ``labelled`` digits with their ``labels``,
    ``unlabelled`` digits without theirs (this object never holds them), and ``test`` digits
    with ``test_labels``, held out from everything the classifier trains on."""

    labelled: Tensor
    labels: Tensor
    unlabelled: Tensor
    test: Tensor
    test_labels: Tensor
    source: str


def split_digits(digits: Digits, per_class: int = 10, seed: int = 0, test: int = 1000) -> Split:
    """``per_class`` labelled digits of each class drawn (with ``seed``) from the GAN's part of
    ``digits`` (``evaluator.gan_training_digits``), the rest of that part unlabelled, and
    ``test`` digits of the evaluator's reference part (never trained on by anything) for the
    test error. Different seeds draw different labelled digits."""
    from .evaluator import gan_training_digits, held_out_digits

    check_count(per_class, "per_class", 1, "labelled digits of each class")
    check_count(test, "test", 1, "held-out digits for the test error")
    pool = gan_training_digits(digits)
    draw = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(CLASSES):
        members = torch.nonzero(pool.labels == label).squeeze(1)
        if len(members) <= per_class:
            raise ValueError(
                f"{per_class} labelled digits of class {label} asked for, but the GAN's part of "
                f"the data holds {len(members)}: ask for fewer"
            )
        chosen.append(members[torch.randperm(len(members), generator=draw)[:per_class]])
    labelled = torch.cat(chosen)
    rest = torch.ones(len(pool), dtype=torch.bool)
    rest[labelled] = False
    held = held_out_digits(digits, test)
    return Split(
        pool.images[labelled], pool.labels[labelled], pool.images[rest], held.images,
        held.labels, f"{digits.source}: {len(labelled)} labelled, {int(rest.sum())} unlabelled",
    )  # fmt: skip


def random_shift(images: Tensor, pixels: int) -> Tensor:
    """Each image moved by its own random whole number of pixels, from -``pixels`` to
    ``pixels`` across and down, the paper (-1) filling in: a digit moved by a pixel or two is
    the same digit, so a classifier that sees 100 labelled digits sees many more drawings of
    them. (N, C, H, W), on the images' device."""
    if pixels == 0:
        return images
    count, _, height, width = images.shape
    device = images.device
    padded = F.pad(images, (pixels,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * pixels + 1, (2, count, 1), device=device)
    rows = (dy + torch.arange(height, device=device))[:, :, None]  # (N, H, 1)
    cols = (dx + torch.arange(width, device=device))[:, None, :]  # (N, 1, W)
    batch = torch.arange(count, device=device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def split_sampler(
    split: Split, device: torch.device | str = "cpu", shift: int = 0
) -> Callable[[int], Triple]:
    """``sample_data(m)``: m labelled digits with their labels and m unlabelled digits, drawn at
    random (the few labelled ones again and again), kept on the device once; each moved by up
    to ``shift`` pixels (:func:`random_shift`)."""
    check_count(shift, "shift", 0, "the most pixels a digit is moved by")
    labelled, labels = split.labelled.to(device), split.labels.to(device)
    unlabelled = split.unlabelled.to(device)

    def sample(m: int) -> Triple:
        lab = torch.randint(len(labelled), (m,), device=labelled.device)
        unl = torch.randint(len(unlabelled), (m,), device=unlabelled.device)
        return (random_shift(labelled[lab], shift), labels[lab],
                random_shift(unlabelled[unl], shift))  # fmt: skip

    return sample


@torch.no_grad()
def predict(classifier: nn.Module, images: Tensor, batch: int = 1000) -> Tensor:
    """The class of each image, argmax of the K logits, with the classifier in evaluation mode
    (no noise) on its device; the predictions on the CPU."""
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    out = torch.cat([classifier(x.to(device)).argmax(1).cpu() for x in images.split(batch)])
    classifier.train(was_training)
    return out


def test_error(classifier: nn.Module, images: Tensor, labels: Tensor) -> float:
    """The share of ``images`` the classifier puts in the wrong class."""
    return (predict(classifier, images) != labels).float().mean().item()


def labels_per_class(labels: int) -> int:
    """The labelled digits of each class for ``labels`` in all: a multiple of the 10 classes,
    as in Salimans et al.'s table (20, 50, 100, 200), so that every class has as many."""
    if isinstance(labels, bool) or not isinstance(labels, int) or labels < CLASSES:
        raise ValueError(f"labels must be a whole number of labelled digits, 10 or more, got "
                         f"{labels!r}")  # fmt: skip
    if labels % CLASSES:
        raise ValueError(
            f"labels must be a multiple of {CLASSES} (as many of each class), got {labels}: "
            f"try {labels // CLASSES * CLASSES or CLASSES} or {(labels // CLASSES + 1) * CLASSES}"
        )
    return labels // CLASSES


def classifier_of(run: WithPlayers) -> nn.Module:
    """The classifier a semi-supervised run trains: its K+1 discriminator, or the baseline's one
    side (the players' generator slot)."""
    return run.discriminator if run.discriminator is not None else run.generator


def uniform_samples(generator: nn.Module, n: int, seed: int) -> Tensor:
    """``n`` samples G(z) on the CPU, z ~ U(0, 1) from its own seeded generator (``config.rng``)."""
    return decode(generator, torch.rand(n, generator.latent_dim, generator=rng(seed)))


def error_record(
    classifier: nn.Module,
    split: Split,
    *,
    every_steps: int = 0,
    at_seconds: Sequence[float] = (),
    verbose: bool = False,
) -> Recorder:
    """A Recorder of the classifier's test error on the split's held-out digits."""

    def measure() -> Measurement:
        return Measurement({"test_error": test_error(classifier, split.test, split.test_labels)})

    return Recorder(measure, every_steps, at_seconds, verbose=verbose)


def train_classifier(
    recipe: Recipe,
    split: Split,
    seed: int,
    device: torch.device | str,
    budget: str,
    *,
    points: int = 16,
    verbose: bool = False,
) -> tuple[Run, Recorder]:
    """Build and train one of lesson 9's recipes on ``split`` at ``budget``, its test error
    recorded ``points`` times along the run (the last at the end)."""
    from . import recipes
    from .dcgan import record_moments

    run = recipes.build(recipe, split, seed, device)
    moments = record_moments(recipe, budget, points)
    curve = error_record(classifier_of(run), split, **moments, verbose=verbose)
    label = f"{recipe.name} ({len(split.labels)} labels)"
    history = recipes.train(run, recipe, budget, callback=curve, progress=label)
    curve.finish(history.step[-1])
    return run, curve


def benchmark(device: torch.device, seed: int, budget: str, labels: int = 100) -> Outcome:
    """Lesson 9: the three classifiers of ``recipes.SEMI_SUPERVISED`` (labels only, the K+1 GAN
    with the usual G, with feature matching) on one split (``labels`` labelled digits drawn with
    ``seed``, the rest of the GAN's digits unlabelled), each at its budget; their test errors on
    1,000 held-out digits, and the Frechet ratio of both generators' samples. samples.npy: 10,000
    digits of the feature-matching generator; classifier.pt: its K+1 classifier
    (``python -m gancourse.classify``)."""
    from .classify import save_classifier
    from .data import load_mnist
    from .evaluator import load_or_train_evaluator
    from .recipes import SEMI_SUPERVISED

    digits = load_mnist()
    evaluator = load_or_train_evaluator(digits)
    split = split_digits(digits, labels_per_class(labels), seeded(seed))
    print(f"data: {split.source}; {len(split.test):,} held-out digits for the test error")
    runs, rows = {}, {}
    for recipe in SEMI_SUPERVISED:
        run, curve = train_classifier(recipe, split, seed, device, budget, verbose=True)
        kind = recipe.semi_supervised
        runs[kind] = run
        last = curve.points[-1]
        rows[kind] = {"test_error": last["test_error"], "steps": last["step"],
                      "train_seconds": curve.train_seconds(), "curve": curve.points}  # fmt: skip
    samples = {kind: uniform_samples(runs[kind].generator, BENCH_SAMPLES, seed + 1)
               for kind in ("feature_matching", "non_saturating")}  # fmt: skip
    fm, supervised = rows["feature_matching"]["test_error"], rows["labels_only"]["test_error"]
    frechet = {kind: evaluator.evaluate(x)["frechet_ratio"] for kind, x in samples.items()}
    fm_recipe, fm_classifier = SEMI_SUPERVISED[-1], runs["feature_matching"].discriminator
    return Outcome(
        samples=samples["feature_matching"].numpy(),
        metrics={
            "labels": labels,
            "unlabelled": len(split.unlabelled),
            "test_digits": len(split.test),
            "test_error": {kind: row["test_error"] for kind, row in rows.items()},
            "error_ratio": fm / supervised if supervised else float("inf"),
            "frechet_ratio": frechet,
            "classifiers": rows,
            "data": digits.source,
            "unlabelled_labels_read": False,  # a Split does not hold them
            "recipes": {recipe.semi_supervised: recipe.as_dict() for recipe in SEMI_SUPERVISED},
        },
        steps=sum(row["steps"] for row in rows.values()),
        train_seconds=sum(row["train_seconds"] for row in rows.values()),
        generator=runs["feature_matching"].generator,
        recipe=fm_recipe,
        files={"classifier.pt": partial(save_classifier, classifier=fm_classifier)},
    )
