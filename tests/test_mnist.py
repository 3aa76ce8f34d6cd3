"""MNIST loading (both paths), the Frechet distance, the Inception score and the evaluator."""

import numpy as np
import pytest
import torch

from gancourse import metrics
from gancourse.data import (
    load_mnist,
    scale_pixels,
    stratified_split,
    write_full_size_mnist,
    write_idx,
)
from gancourse.evaluator import gan_training_digits, train_evaluator


def test_torchvision_path_reads_mnist_files_from_data(tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    labels = (np.arange(20) % 10).astype(np.uint8)
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    digits = load_mnist(tmp_path, download=False)
    assert "torchvision MNIST" in digits.source and "torchvision MNIST" in capsys.readouterr().out
    assert digits.images.shape == (20, 1, 28, 28) and digits.labels.tolist() == labels.tolist()
    torch.testing.assert_close(digits.images[:, 0], scale_pixels(images))


def test_fallback_is_the_real_bundled_subset(tmp_path, capsys):
    digits = load_mnist(tmp_path, download=False)
    assert "mnist_5k.csv.gz" in digits.source
    assert "5,000 real digits" in capsys.readouterr().out
    assert digits.images.shape == (5000, 1, 28, 28)
    assert digits.labels.bincount().tolist() == [500] * 10
    assert digits.images.min() == -1.0 and digits.images.max() == 1.0
    # Real handwriting, not noise: most pixels are background.
    assert (digits.images == -1.0).float().mean() > 0.7


def test_pixels_scale_to_the_tanh_range():
    torch.testing.assert_close(scale_pixels(np.array([0, 255])), torch.tensor([-1.0, 1.0]))


def test_stratified_split_is_disjoint_and_balanced():
    labels = torch.arange(1000) % 10
    parts = stratified_split(labels, {"a": 0.6, "b": 0.2, "c": 0.2})
    together = torch.cat(list(parts.values()))
    assert len(together) == 1000 and len(together.unique()) == 1000
    assert labels[parts["b"]].bincount().tolist() == [20] * 10
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(labels, {"a": 0.5, "b": 0.2})


def test_frechet_distance_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_known_shift():
    x = np.random.default_rng(1).normal(size=(2000, 5))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert metrics.frechet_distance(x, x + shift) == pytest.approx(np.sum(shift**2), rel=1e-8)


def test_frechet_distance_of_two_known_gaussians():
    # N(0, I) vs N(0, 4I) in d dims: Tr(I + 4I - 2 * 2I) = d.
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(100_000, 3)), 2 * rng.normal(size=(100_000, 3))
    assert metrics.frechet_distance(a, b) == pytest.approx(3.0, rel=0.02)


def test_frechet_distance_needs_more_samples_than_dimensions():
    with pytest.raises(ValueError, match="more samples than feature dimensions"):
        metrics.frechet_distance(np.ones((10, 64)), np.ones((10, 64)))


def test_inception_score_bounds():
    one_class = np.tile([0.0, 1.0, 0.0], (100, 1))
    assert metrics.inception_score(one_class) == pytest.approx(1.0)
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    assert metrics.inception_score(confident_uniform) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="rows that sum to 1"):
        metrics.inception_score(np.ones((4, 3)))


def test_class_histogram():
    np.testing.assert_allclose(
        metrics.class_histogram([0, 0, 2, 9], 10)[[0, 2, 9]], [0.5, 0.25, 0.25]
    )


def test_evaluator_tells_real_digits_from_noise(tmp_path):
    torch.set_num_threads(1)
    digits = load_mnist(tmp_path, download=False, verbose=False)
    evaluator = train_evaluator(digits, epochs=3, verbose=False)
    assert evaluator.accuracy > 0.8
    gan_digits = gan_training_digits(digits)
    real = evaluator.evaluate(
        gan_digits.images[1500:]
    )  # real digits the ratio's baseline does not use
    noise = evaluator.evaluate(torch.rand(1500, 1, 28, 28) * 2 - 1)
    assert 0.5 < real["frechet_ratio"] < 2.0 < 20 < noise["frechet_ratio"]
    assert real["inception_score"] > 3 > 2 > noise["inception_score"]
    assert min(real["class_histogram"]) > 0.05
    with pytest.raises(ValueError, match=r"shaped \(N, 1, 28, 28\)"):
        evaluator.evaluate(torch.zeros(100, 28, 28))
    # the same digits in [0, 1] (ToTensor's range) scored a ratio of 92 silently: now refused
    images = gan_digits.images[1500:]
    with pytest.raises(ValueError, match=r"lie in \[0, 1\].*2 \* x - 1"):
        evaluator.evaluate((images + 1) / 2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        evaluator.evaluate(torch.cat([images[:-1], torch.full_like(images[:1], float("nan"))]))
    as_double = evaluator.evaluate(images.double())  # numpy's float64: cast, not a torch error
    assert as_double["frechet_ratio"] == pytest.approx(real["frechet_ratio"], rel=1e-4)


def test_full_size_mnist_files_load_through_torchvision(tmp_path, capsys):
    raw = write_full_size_mnist(tmp_path, train=12_000, test=100)
    assert sorted(p.name for p in raw.iterdir()) == [
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
    ]
    digits = load_mnist(tmp_path, download=False)
    assert f"12,000 real digits from torchvision MNIST in {tmp_path}" in capsys.readouterr().out
    bundled = load_mnist(tmp_path / "elsewhere", download=False, verbose=False)
    assert torch.equal(digits.images[:5000], bundled.images)  # the same real digits, repeated
    assert torch.equal(digits.labels[5000:10000], bundled.labels)


def test_idx_files_hold_bytes_only(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "x", np.zeros((2, 2), dtype=np.int64))
