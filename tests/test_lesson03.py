"""Lesson 3's written-out code equals the package's, and its exercises' solutions hold together.

Notebook 03 writes out the DCGAN's builders (``make_generator``, ``make_discriminator``,
``dcgan_init``, ``build_plain``), the spectral-norm discriminator (``build_improved``), the
Frechet distance, the power iteration for a convolution's true norm and the improved recipe's
optimisers, and keeps one line per idea that the package agrees; the full checks live here. The
definitions are found by name and run in a namespace of their own (fast: no training)."""

import ast
import re
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancourse import config, dcgan, metrics, nets, recipes
from gancourse.train import linear_to_zero

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_dcgan_mnist.ipynb"
SOLUTION = re.compile(r"<summary>Solution</summary>\s*```python\n(.*?)```", re.DOTALL)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def definitions(cells: list, *names: str, **namespace: object) -> dict:
    """Run the notebook's function definitions called ``names`` in ``namespace``; return it."""
    namespace = {"nn": nn, "torch": torch, "np": np, "F": F, "config": config, **namespace}
    sources = [c.source for c in cells if c.cell_type == "code"]
    for name in names:
        found = [
            ast.get_source_segment(source, node)
            for source in sources
            for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef) and node.name == name
        ]
        assert len(found) == 1, f"{NOTEBOOK.name}: {len(found)} definitions of {name}"
        exec(found[0], namespace)  # the course's own notebook
    return namespace


def builders(cells: list) -> dict:
    improved = replace(dcgan.IMPROVED, full_seconds=360.0)  # as the notebook sets it
    return definitions(
        cells,
        "make_generator",
        "make_discriminator",
        "dcgan_init",
        "build_plain",
        "make_spectral_discriminator",
        "build_improved",
        "make_optimizers",
        nets=nets,
        device=CPU,
        LATENT=dcgan.LATENT_DIM,
        improved=improved,
        spectral_norm=nn.utils.parametrizations.spectral_norm,
    )


def assert_same_networks(ours: tuple[nn.Module, ...], package: tuple[nn.Module, ...]) -> None:
    for mine, theirs in zip(ours, package, strict=True):
        mine_state, their_state = mine.state_dict(), theirs.state_dict()
        assert list(mine_state) == list(their_state)
        assert all(torch.equal(mine_state[key], their_state[key]) for key in mine_state)
    (G_ours, D_ours), (G_pkg, D_pkg) = ours, package
    for model in (G_ours, D_ours, G_pkg, D_pkg):
        model.eval()
    z = torch.randn(8, dcgan.LATENT_DIM)
    with torch.no_grad():
        assert torch.allclose(G_ours(z), G_pkg(z), atol=1e-6)
        assert torch.allclose(D_ours(G_ours(z)), D_pkg(G_pkg(z)), atol=1e-5)


@pytest.mark.parametrize("seed", [0, 3])
def test_the_notebooks_plain_dcgan_is_the_packages(cells, seed):
    lesson = builders(cells)
    config.seed_everything(seed)
    ours = lesson["build_plain"]()
    config.seed_everything(seed)
    assert_same_networks(ours, recipes.models(dcgan.PLAIN))


@pytest.mark.parametrize("seed", [0, 3])
def test_the_notebooks_spectral_norm_dcgan_is_the_packages(cells, seed):
    lesson = builders(cells)
    config.seed_everything(seed)
    ours = lesson["build_improved"]()
    config.seed_everything(seed)
    assert_same_networks(ours, recipes.models(lesson["improved"]))


def test_the_notebooks_optimisers_are_the_improved_recipes(cells):
    lesson = builders(cells)
    improved = lesson["improved"]
    generator, discriminator = lesson["build_improved"]()
    ours = lesson["make_optimizers"](generator, discriminator)
    package = recipes.optimizers(improved, generator, discriminator)
    for mine, theirs in zip(ours, package, strict=True):
        assert type(mine) is type(theirs) and mine.defaults == theirs.defaults
    # the training cell writes these out rather than reading them from the recipe
    assert (improved.n_critic, improved.game, improved.lr_schedule()) == (
        1,
        "non_saturating",
        linear_to_zero,
    )


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_the_notebooks_frechet_distance_is_the_packages(cells, shift):
    frechet_distance = definitions(cells, "frechet_distance")["frechet_distance"]
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(16, 16))
    a = rng.normal(size=(500, 16)) @ mixing
    b = rng.normal(size=(400, 16)) @ (mixing + shift * rng.normal(size=(16, 16))) + shift
    ours = frechet_distance(a, b)
    assert ours == pytest.approx(metrics.frechet_distance(a, b), rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize(("stride", "padding", "kernel", "size"), [(2, 1, 4, 8), (1, 0, 3, 6)])
def test_the_notebooks_operator_norm_is_the_convolutions_largest_singular_value(
    cells, stride, padding, kernel, size
):
    operator_norm = definitions(cells, "operator_norm", device=CPU)["operator_norm"]
    torch.manual_seed(0)
    layer = nn.Conv2d(2, 3, kernel, stride=stride, padding=padding, bias=False)
    # the convolution as a matrix: its Jacobian, (outputs, inputs)
    matrix = torch.autograd.functional.jacobian(
        lambda x: F.conv2d(x, layer.weight, stride=stride, padding=padding).flatten(),
        torch.zeros(1, 2, size, size),
    ).reshape(-1, 2 * size * size)
    exact = torch.linalg.matrix_norm(matrix, ord=2).item()
    assert operator_norm(layer, size, iterations=300) == pytest.approx(exact, rel=1e-3)
    # and the bound the notebook states: at most sqrt(ceil(k / s)^2) times the reshaped kernel's
    reshaped = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
    assert exact <= -(-kernel // stride) * reshaped * (1 + 1e-6)


def solutions(cells: list) -> list[str]:
    """The code of every collapsible solution, indentation removed."""
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    return [
        "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines())
        for block in SOLUTION.findall(text)
    ]


def test_every_exercise_has_a_hint_and_a_solution_with_a_self_check(cells):
    found = solutions(cells)
    (exercises,) = [c.source for c in cells if c.source.startswith("## Exercises")]
    count = len(re.findall(r"^\d\. \*\*", exercises, re.MULTILINE))
    assert count == len(found) == exercises.count("<summary>Hint</summary>") == 5
    assert not re.search(r"\bcell \d", exercises), "exercises refer to sections, not cell numbers"
    for code in found:
        ast.parse(code)
        assert "assert " in code, "each solution ends with a self-check"


def test_the_slerp_solution_keeps_the_norm(cells):
    (code,) = [s for s in solutions(cells) if "def slerp" in s]
    namespace: dict = {"torch": torch}
    exec(code[: code.index("spherical = ")], namespace)
    codes = torch.randn(2, 20, dcgan.LATENT_DIM, generator=torch.Generator().manual_seed(0))
    alphas = torch.linspace(0, 1, 10)
    path = namespace["slerp"](codes[0], codes[1], alphas)
    assert torch.allclose(path[:, 0], codes[0], atol=1e-4)
    assert torch.allclose(path[:, -1], codes[1], atol=1e-4)
    middle = path[:, 5].norm(dim=1) / codes.norm(dim=2).mean(0)
    assert middle.min() > 0.9  # the solution's self-check holds on other codes too
