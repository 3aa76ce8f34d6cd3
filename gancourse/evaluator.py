"""A held-out digit classifier that measures generated MNIST digits.

Inception networks cannot be downloaded offline, and on MNIST common practice is a classifier
trained on MNIST itself (shared/REFERENCES.md). This one is trained on real digits that the GAN
never sees, and cached under data/. From it: features for a Frechet distance, predictions for
an Inception-score-style figure and for the histogram of classes (to see missing digits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import config, metrics
from .data import Digits, stratified_split

# Three disjoint parts of the real digits, each with every class in proportion: the GAN trains
# on "gan"; the classifier on "evaluator"; generated digits are compared with "reference".
SPLIT = {"gan": 0.6, "evaluator": 0.2, "reference": 0.2}
FEATURES = 64
CLASSES = 10
PRESENTATIONS = 15_000  # digits the classifier sees while training (see train_evaluator)


class DigitClassifier(nn.Module):
    """Two 3x3 convolutions with max pooling, a 64-unit feature layer, 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, CLASSES)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images))


def _check_images(images: Tensor) -> None:
    if (
        not isinstance(images, Tensor)
        or images.dim() != 4
        or tuple(images.shape[1:]) != (1, 28, 28)
    ):
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"expected images shaped (N, 1, 28, 28), got {shape}")
    if not torch.isfinite(images).all():
        raise ValueError(
            "some pixel values are NaN or infinite: did training diverge? (the images must be "
            "finite, in [-1, 1])"
        )
    if images.numel() and (images.min() < -1.001 or images.max() > 1.001):
        raise ValueError("expected pixel values in [-1, 1] (a tanh generator's range)")
    if images.numel() and images.min() >= 0:
        # MNIST's background is -1 in [-1, 1]: digits with no negative pixel are in [0, 1]
        raise ValueError(
            "the pixel values lie in [0, 1] (ToTensor's range, or a generator ending in a "
            "sigmoid), but the evaluator takes [-1, 1], the range of the real digits here: "
            "map them with 2 * x - 1"
        )


@dataclass
class Evaluator:
    """A trained digit classifier, the held-out reference digits, and the real digits that give
    the real-vs-real Frechet distance (the GAN's training digits: real, and disjoint from both)."""

    model: DigitClassifier
    reference: Tensor
    real: Tensor
    accuracy: float  # on the reference digits, which it never trained on
    reference_labels: Tensor | None = None  # the classes of the reference and the real digits,
    real_labels: Tensor | None = None  # for per-class figures (conditional GANs)
    _cache: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    @torch.no_grad()
    def features_and_probabilities(
        self, images: Tensor, batch: int = 1000
    ) -> tuple[np.ndarray, np.ndarray]:
        """The classifier's 64 penultimate features and its class probabilities, per image."""
        _check_images(images)
        images = images.float()  # float64 images (numpy's default) meet float32 weights
        self.model.eval()
        device = next(self.model.parameters()).device
        feats, probs = [], []
        for chunk in images.split(batch):
            body = self.model.body(chunk.to(device))
            feats.append(body.cpu())
            probs.append(F.softmax(self.model.head(body), dim=1).cpu())
        return torch.cat(feats).numpy(), torch.cat(probs).numpy()

    def _features(self, which: str) -> np.ndarray:
        """Features of the reference or real digits, computed once and kept."""
        if which not in self._cache:
            self._cache[which] = self.features_and_probabilities(getattr(self, which))[0]
        return self._cache[which]

    def evaluate(self, images: Tensor) -> dict[str, float | list[float]]:
        """Measure generated digits against the held-out reference digits.

        frechet_ratio = FD(generated, reference) / FD(real, reference), both with the same number
        of digits n (the Frechet distance is biased upwards for small sets, so the two must match):
        1.0 means as good as real digits. Also the Inception-score-style figure and the histogram
        of predicted classes.
        """
        n = min(len(images), len(self.real))
        if n <= FEATURES:
            raise ValueError(f"need more than {FEATURES} images for the Frechet distance, got {n}")
        features, probabilities = self.features_and_probabilities(images[:n])
        distance = metrics.frechet_distance(features, self._features("reference"))
        real_distance = metrics.frechet_distance(
            self._features("real")[:n], self._features("reference")
        )
        return {
            "frechet_distance": distance,
            "frechet_ratio": distance / real_distance,
            "real_frechet_distance": real_distance,
            "images_compared": n,
            "inception_score": metrics.inception_score(probabilities),
            "class_histogram": metrics.class_histogram(probabilities.argmax(axis=1)).tolist(),
        }

    def predict(self, images: Tensor) -> Tensor:
        """The class the classifier gives each image, (N,) int64."""
        return torch.from_numpy(self.features_and_probabilities(images)[1].argmax(axis=1))

    def label_accuracy(self, images: Tensor, labels: Tensor) -> float:
        """The share of ``images`` the classifier puts in the class each was asked for: how
        well a conditional generator obeys (it is at most about the classifier's accuracy)."""
        return (self.predict(images) == labels.cpu()).float().mean().item()

    def class_frechet_ratios(self, images: Tensor, labels: Tensor) -> list[float]:
        """For each class c, FD(images asked to be c, reference digits of class c) / FD(real
        digits of class c, the same reference digits), on as many of each as both sets hold:
        how good each class is on its own (1.0: as good as real digits of that class)."""
        features = self.features_and_probabilities(images)[0]
        ratios = []
        for c in range(CLASSES):
            reference = _class_features(self, "reference", c)
            real = _class_features(self, "real", c)
            generated = features[(labels.cpu() == c).numpy()]
            n = min(len(generated), len(real))
            if n <= FEATURES:
                raise ValueError(f"need more than {FEATURES} images of class {c}, got {n}")
            ratios.append(
                metrics.frechet_distance(generated[:n], reference)
                / metrics.frechet_distance(real[:n], reference)
            )
        return ratios


def _class_features(self: Evaluator, which: str, label: int) -> np.ndarray:
    labels = getattr(self, f"{which}_labels")
    if labels is None:
        raise ValueError("this evaluator was made without the digits' labels: load it with "
                         "load_or_train_evaluator(digits)")  # fmt: skip
    return self._features(which)[(labels == label).numpy()]


def split_parts(digits: Digits) -> dict[str, Tensor]:
    """The indices of ``digits`` in each part of ``SPLIT`` ("gan", "evaluator", "reference"),
    stratified by class; the GAN's part shuffled once."""
    # Fixed seeds, not offset by GANCOURSE_SEED: the split is part of the instrument, and the
    # cached evaluator was trained on its "evaluator" part.
    parts = stratified_split(digits.labels, SPLIT, seed=0)
    # shuffle the GAN part once (fixed seed) so any prefix of it holds every class
    gan = parts["gan"][
        torch.randperm(len(parts["gan"]), generator=torch.Generator().manual_seed(0))
    ]
    return {**parts, "gan": gan}


def gan_training_digits(digits: Digits) -> Digits:
    """The part of ``digits`` a GAN may train on: disjoint from the evaluator's digits."""
    return digits.subset(split_parts(digits)["gan"], "the GAN's part")


def held_out_digits(digits: Digits, count: int = 1000) -> Digits:
    """``count`` digits of the reference part (no GAN and no evaluator trains on them), drawn in
    a fixed order (seed 0, not offset): a test set every run and every seed shares."""
    reference = split_parts(digits)["reference"]
    order = torch.randperm(len(reference), generator=torch.Generator().manual_seed(0))
    if count > len(reference):
        raise ValueError(f"asked for {count:,} held-out digits, but the reference part holds "
                         f"{len(reference):,}: ask for fewer")  # fmt: skip
    return digits.subset(reference[order[:count]], "held out")


def train_evaluator(
    digits: Digits, epochs: int | None = None, seed: int = 0, verbose: bool = True
) -> Evaluator:
    """Train the classifier on the evaluator part of ``digits`` (see SPLIT) and measure its
    accuracy on the reference part. Adam 1e-3, batch 64, random shifts of up to 2 pixels.

    ``epochs`` defaults to about ``PRESENTATIONS`` digits seen, at least one pass: 15 epochs
    of the bundled subset's 1,000 evaluator digits, one of full MNIST's 12,000, so that the
    instrument costs the same few seconds whatever the data."""
    parts = split_parts(digits)
    train_x, train_y = digits.images[parts["evaluator"]], digits.labels[parts["evaluator"]]
    if epochs is None:
        epochs = max(1, round(PRESENTATIONS / len(train_y)))
    # The instrument is the same whatever GANCOURSE_SEED says (its seed is not offset), and
    # training it leaves the caller's random numbers where they were.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            for index in torch.randperm(len(train_y)).split(64):
                shift = tuple(int(v) for v in torch.randint(-2, 3, (2,)))
                batch = torch.roll(train_x[index], shifts=shift, dims=(2, 3))
                loss = F.cross_entropy(model(batch), train_y[index])
                opt.zero_grad()
                loss.backward()
                opt.step()
    model.eval()
    reference_x, reference_y = digits.images[parts["reference"]], digits.labels[parts["reference"]]
    with torch.no_grad():
        accuracy = (model(reference_x).argmax(1) == reference_y).float().mean().item()
    if verbose:
        print(
            f"evaluator: trained on {len(train_y):,} real digits the GAN never sees; "
            f"accuracy {accuracy:.1%} on {len(reference_y):,} other held-out digits"
        )
    return Evaluator(
        model, reference_x, digits.images[parts["gan"]], accuracy, reference_y,
        digits.labels[parts["gan"]],
    )  # fmt: skip


def load_or_train_evaluator(
    digits: Digits, path: str | Path | None = None, seed: int = 0
) -> Evaluator:
    """The evaluator for ``digits`` trained from ``seed``, cached under data/ (one file per data
    source, size and seed). A second seed gives a second instrument, to check that a figure is
    not an accident of one classifier."""
    if path is None:
        tag = "torchvision" if digits.source.startswith("torchvision") else "subset"
        suffix = "" if seed == 0 else f"_seed{seed}"
        path = config.data_dir() / f"evaluator_{tag}_{len(digits)}{suffix}.pt"
    path = Path(path)
    state = None
    if path.is_file():
        try:
            state = config.load_saved(path, "cached evaluator")
        except config.DamagedFile as err:  # a cache: train it again rather than stop the lesson
            print(f"evaluator: {err}; training it again")
    if state is None:
        evaluator = train_evaluator(digits, seed=seed)
        # atomically: other notebooks or test workers may be reading this cache at the same time
        config.save_atomically(
            {"model": evaluator.model.state_dict(), "accuracy": evaluator.accuracy}, path
        )
        return evaluator
    parts = split_parts(digits)
    model = DigitClassifier()
    model.load_state_dict(state["model"])
    print(f"evaluator: loaded from {path} (accuracy {state['accuracy']:.1%} on held-out digits)")
    return Evaluator(
        model, digits.images[parts["reference"]], digits.images[parts["gan"]], state["accuracy"],
        digits.labels[parts["reference"]], digits.labels[parts["gan"]],
    )  # fmt: skip
