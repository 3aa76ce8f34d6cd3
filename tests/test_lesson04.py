"""Lesson 4's written-out code equals the package's, and its exercises' solutions work.

The notebook shows its mode metrics (`coverage`) and its players (`make_players`) written out
and keeps a one-line check of each; the full checks live here. The cells are found by what they
define, not by their position, and run in a namespace of their own (fast: no training)."""

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

from gancourse import config, data, metrics, recipes

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_mode_collapse.ipynb"
SOLUTION = re.compile(r"<summary>Solution</summary>\s*```python\n(.*?)```", re.DOTALL)


def quiet(*args: object, **kwargs: object) -> None:
    """``print`` for the cells run here: their printouts are the notebook's business."""


@pytest.fixture(scope="module")
def cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def code_defining(cells: list, name: str) -> str:
    """The source of the one code cell that defines ``name``."""
    found = [c.source for c in cells if c.cell_type == "code" and f"def {name}(" in c.source]
    assert len(found) == 1, f"expected one cell defining {name}, found {len(found)}"
    return found[0]


def solutions(cells: list) -> list[str]:
    """The code of every collapsible solution, indentation removed."""
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    return [
        "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines())
        for block in SOLUTION.findall(text)
    ]


@pytest.fixture(scope="module")
def coverage(cells):
    namespace = {"np": np}
    exec(code_defining(cells, "coverage"), namespace)
    return namespace["coverage"]


def sample_sets() -> dict[str, tuple[np.ndarray, data.Mixture2D]]:
    ring, grid = data.ring(), data.grid()
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    half_ring = ring.sample(1000, generator=generator).numpy()
    return {
        "ring": (ring.sample(2500, generator=generator).numpy(), ring),
        "grid": (grid.sample(2500, generator=generator).numpy(), grid),
        "uniform noise": (rng.uniform(-5, 5, (2500, 2)), grid),
        "three modes of the ring": (half_ring[half_ring[:, 1] > 0.5], ring),
        "beside each mode": (ring.means.numpy().repeat(10, axis=0) + 0.07, ring),
        "twenty samples at one mode": (np.array([[2.0, 0.01]]).repeat(20, axis=0), ring),
    }


@pytest.mark.parametrize("name", list(sample_sets()))
def test_the_notebooks_coverage_is_the_packages(coverage, name):
    samples, target = sample_sets()[name]
    ours = coverage(samples, target.means.numpy(), target.std)
    package = metrics.mode_coverage(samples, target.means.numpy(), target.std)
    assert ours["modes captured"] == package.modes_captured
    assert ours["high quality"] == pytest.approx(package.high_quality, abs=1e-12)
    assert ours["reverse KL"] == pytest.approx(package.reverse_kl, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_the_notebooks_players_are_the_packages(cells, seed):
    namespace = {"nn": nn, "recipes": recipes, "device": torch.device("cpu"), "print": quiet}
    exec(code_defining(cells, "make_players"), namespace)
    config.seed_everything(seed)
    generator, discriminator = namespace["make_players"]()
    config.seed_everything(seed)
    generator_pkg, discriminator_pkg = recipes.models(recipes.LESSON4)
    for ours, package in ((generator, generator_pkg), (discriminator, discriminator_pkg)):
        mine, theirs = ours.state_dict(), package.state_dict()
        assert list(mine) == list(theirs)
        assert all(torch.equal(mine[key], theirs[key]) for key in mine)
    z, x = torch.randn(5, 256), torch.randn(5, 2)
    assert torch.equal(generator(z), generator_pkg(z))
    assert torch.equal(discriminator(x), discriminator_pkg(x))


def test_every_exercise_has_a_solution_that_parses(cells):
    found = solutions(cells)
    exercises = [c.source for c in cells if c.source.startswith("## Exercises")]
    assert len(exercises) == 1
    assert len(found) == len(re.findall(r"^\d\. \*\*", exercises[0], re.MULTILINE)) == 3
    for code in found:
        ast.parse(code)
        assert "assert " in code, "each solution ends with a self-check"


def test_the_blind_spot_solution_fools_the_metric(cells, coverage):
    (code,) = [s for s in solutions(cells) if "fooling" in s]
    namespace = {"np": np, "ring": data.ring(), "coverage": coverage, "print": quiet}
    exec(code, namespace)  # its own asserts are the check
    assert namespace["result"]["modes captured"] == 8
