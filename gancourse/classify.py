"""``python -m gancourse.classify CLASSIFIER IN.npy OUT.npy``: a trained digit classifier's
prediction for each image.

CLASSIFIER is a classifier.pt written by ``python -m gancourse.bench semi-supervised --out DIR``
(lesson 9's K+1 discriminator, read as a classifier over the 10 digits); IN.npy holds images
shaped (N, 1, 28, 28), floats in [-1, 1] (MNIST's x / 127.5 - 1); OUT.npy gets the predicted
digit of each, int64, shape (N,). Anyone can so measure the classifier on digits of their own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import config
from .semisupervised import IMAGE, KPlusOneDiscriminator, predict

CLASSIFIER_FORMAT = 1


def save_classifier(path: str | Path, classifier: KPlusOneDiscriminator) -> Path:
    """Write ``classifier``'s weights (on the CPU) and the sizes that rebuild it to ``path``."""
    state = {name: tensor.detach().cpu() for name, tensor in classifier.state_dict().items()}
    payload = {
        "format": CLASSIFIER_FORMAT,
        "kind": "k_plus_one_classifier",
        "settings": classifier.settings,
        "classifier": state,
    }
    return config.save_atomically(payload, path)


def read_classifier(path: str | Path) -> nn.Module:
    """The classifier saved at ``path`` by :func:`save_classifier`, on the CPU, in evaluation
    mode (no noise layers)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(
            f"no classifier at {path}: give the classifier.pt that python -m gancourse.bench "
            f"semi-supervised --out DIR wrote into DIR"
        )
    payload = config.load_saved(path, "gancourse classifier")
    if payload.get("kind") != "k_plus_one_classifier" or payload.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(
            f"{path} is not a classifier.pt of python -m gancourse.bench semi-supervised (a "
            f"generator.pt holds a generator: give the classifier.pt beside it)"
        )
    classifier = KPlusOneDiscriminator(**payload["settings"])
    classifier.load_state_dict(payload["classifier"])
    return classifier.eval()


def read_images(path: str | Path) -> torch.Tensor:
    """The images of the .npy file at ``path``, refused with a message that says what to do
    unless they are a finite float array (N, 1, 28, 28) in [-1, 1] with N >= 1."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"no file at {path}: give a .npy file of images (N, 1, 28, 28)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path} is not a NumPy .npy array ({err}): save the images with "
                         f"numpy.save") from None  # fmt: skip
    shape = tuple(array.shape)
    if array.ndim != 4 or shape[1:] != IMAGE or shape[0] == 0:
        hint = (
            " (add the channel axis: images[:, None])"
            if array.ndim == 3 and shape[1:] == IMAGE[1:]
            else ""
        )
        raise ValueError(f"{path} holds an array of shape {shape}: expected images shaped "
                         f"(N, 1, 28, 28) with N >= 1{hint}")  # fmt: skip
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"{path} holds {array.dtype} values: expected floats in [-1, 1] (from 8-bit pixels: "
            f"x / 127.5 - 1)"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{path} holds NaN or infinite values: every pixel must be in [-1, 1]")
    low, high = float(array.min()), float(array.max())
    if low < -1.001 or high > 1.001:
        raise ValueError(
            f"{path} holds values from {low:g} to {high:g}: expected [-1, 1] (from 8-bit pixels "
            f"0..255: x / 127.5 - 1; from [0, 1]: 2 x - 1)"
        )
    if low >= 0 and high > 0:
        raise ValueError(
            f"{path} holds values from {low:g} to {high:g}, none negative: MNIST digits in "
            f"[-1, 1] have a background of -1. If they are in [0, 1], give 2 x - 1"
        )
    return torch.from_numpy(array.astype(np.float32))


def classify(classifier_path: str | Path, images_path: str | Path, out: str | Path) -> np.ndarray:
    """Predict the digit of every image in ``images_path`` and write them to ``out``."""
    classifier = read_classifier(classifier_path)
    images = read_images(images_path)
    out = Path(out).expanduser()
    if out.is_dir():
        raise ValueError(f"{out} is a folder: give the .npy file to write, e.g. {out}/pred.npy")
    predictions = predict(classifier, images).numpy().astype(np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, predictions)
    return predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gancourse.classify",
        description="Predict the digit of each image with a trained classifier.pt.",
    )
    parser.add_argument("classifier", help="classifier.pt from python -m gancourse.bench "
                        "semi-supervised --out DIR")  # fmt: skip
    parser.add_argument("images", help=".npy of images (N, 1, 28, 28), floats in [-1, 1]")
    parser.add_argument("out", help=".npy to write: the predicted digit of each, (N,) int64")
    args = parser.parse_args(argv)
    try:
        predictions = classify(args.classifier, args.images, args.out)
    except (ValueError, config.DamagedFile) as err:
        parser.error(str(err))
    counts = np.bincount(predictions, minlength=10)
    print(f"{len(predictions):,} predictions written to {args.out}; per digit 0-9: "
          f"{', '.join(str(c) for c in counts)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
