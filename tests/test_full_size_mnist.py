"""The course at full MNIST's size: 60,000 training digits through torchvision, as a learner
with internet gets them, instead of the 5,000 bundled ones.

The files are written from the bundled real digits, repeated (``data.write_full_size_mnist``):
this tests the path's time, memory and what it prints, not the quality of its digits. At the
quick budget: lesson 3's benchmark and notebook run on them, say which data they used, and
stay within a few GB of memory.
"""

import os
import resource
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gancourse import bench
from gancourse.data import write_full_size_mnist

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT_GB = 4.0  # "a few GB": the 60,000 digits are 188 MB as float32


def peak_memory_gb(who: int) -> float:
    """The largest resident memory so far of this process or of its finished children (Linux
    reports kilobytes)."""
    return resource.getrusage(who).ru_maxrss / 1024**2


@pytest.fixture(scope="module")
def full_size(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("full_size_mnist")
    write_full_size_mnist(root)
    return root


def test_lesson_3_benchmark_runs_on_full_size_mnist(full_size, tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(full_size))
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    result = bench.run("dcgan", "quick", tmp_path)
    assert result["data"] == f"torchvision MNIST in {full_size}"
    assert result["gan_training_digits"] == 36_000  # 60% of 60,000: the evaluator keeps the rest
    assert result["improved"]["images_compared"] == 10_000  # all the samples, not 3,000
    assert peak_memory_gb(resource.RUSAGE_SELF) < MEMORY_LIMIT_GB


def test_lesson_3_notebook_runs_on_full_size_mnist_and_says_so(full_size):
    notebook = nbformat.read(ROOT / "notebooks" / "03_dcgan_mnist.ipynb", as_version=4)
    env = {**os.environ, "GANCOURSE_DATA": str(full_size), "GANCOURSE_BUDGET": "quick"}
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute(env=env)  # raises at the first failing cell, assert cells included
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert f"MNIST: 60,000 real digits from torchvision MNIST in {full_size}" in printed
    assert "the GAN trains on 36,000 digits" in printed
    assert peak_memory_gb(resource.RUSAGE_CHILDREN) < MEMORY_LIMIT_GB
