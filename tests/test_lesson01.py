"""Lesson 1's code is the package's code.

Notebook 01 writes out V(D, G), Algorithm 1 and its training, and states in one line each that the
package does the same (``losses.value_function``, ``train.train_gan``, ``recipes.LESSON1``). These
tests run the notebook's own cells (found by their first lines, so that an edit of the lesson is
tested as written) next to the package and check that the two agree: the lesson keeps the idea, the
tests keep the proof. A few seconds on one CPU thread.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse import config, losses, metrics, plots, recipes, train
from gancourse.data import Gaussian1D
from gancourse.nets import mlp_discriminator, mlp_generator

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_gan_1d_gaussians.ipynb"
SHORT_RUN = 40  # generator steps of the shortened section-5 training


def code_cell(first_line: str) -> str:
    """The source of the notebook's one code cell whose first line starts with ``first_line``."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    found = [
        "".join(cell["source"])
        for cell in cells
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith(first_line)
    ]
    assert len(found) == 1, f"{NOTEBOOK.name}: {len(found)} code cells start with {first_line!r}"
    return found[0]


def definitions(first_line: str) -> str:
    """Only the function definitions of that cell (the rest of it may train a network)."""
    source = code_cell(first_line)
    return "\n\n".join(
        ast.get_source_segment(source, node)
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
    )


def lesson_namespace() -> dict[str, Any]:
    """What the notebook's first cells define (V, the players, Algorithm 1, the grid), on the CPU.

    The imports are bound here rather than run from the notebook's first cell, whose
    ``config.setup`` would set this whole test process's thread count and print a banner."""
    namespace: dict[str, Any] = {
        "math": math,
        "np": np,
        "plt": plt,
        "torch": torch,
        "F": F,
        "config": config,
        "metrics": metrics,
        "plots": plots,
        "recipes": recipes,
        "Gaussian1D": Gaussian1D,
        "value_function": losses.value_function,
        "mlp_discriminator": mlp_discriminator,
        "mlp_generator": mlp_generator,
        "Players": train.Players,
        "linear_to_zero": train.linear_to_zero,
        "train_gan": train.train_gan,
        "device": torch.device("cpu"),
    }
    for first_line in (
        "def V(",
        "p_data = Gaussian1D(",
        "def algorithm1(",
        "p_fixed = Gaussian1D(",
    ):
        exec(code_cell(first_line), namespace)
    return namespace


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The lesson's networks are tiny: one CPU thread is fastest (the notebook uses one too)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lesson() -> dict[str, Any]:
    return lesson_namespace()


def largest_gap(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(
        (p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


def test_notebook_v_is_the_package_value_function(lesson):
    torch.manual_seed(0)
    for scale in (1.0, 10.0, 200.0):  # up to logits where sigmoid rounds to 0 or 1
        real, fake = scale * torch.randn(1000), scale * torch.randn(1000)
        ours = lesson["V"](real, fake)
        assert torch.isfinite(ours)
        assert torch.allclose(ours, losses.value_function(real, fake), rtol=1e-6, atol=1e-6)
        assert torch.allclose(-0.5 * ours, losses.discriminator_loss(real, fake), rtol=1e-6)


def test_notebook_optimal_discriminator_is_the_package_one(lesson):
    p, q = lesson["p_data"].pdf(lesson["x"]), lesson["p_fixed"].pdf(lesson["x"])
    np.testing.assert_allclose(lesson["d_star"], metrics.optimal_discriminator(p, q))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_notebook_algorithm1_is_train_gan(lesson, k):
    """Same seed, same starting weights, same order of random draws: the same networks."""
    ns = lesson
    G1, D1, opt_g1, opt_d1 = ns["make_players"](seed=1)
    config.seed_everything(123)
    ns["algorithm1"](G1, D1, opt_g1, opt_d1, steps=50, m=64, k=k)

    G2, D2, opt_g2, opt_d2 = ns["make_players"](seed=1)
    config.seed_everything(123)
    train.train_gan(
        train.Players(G2, D2, opt_g2, opt_d2),
        "non_saturating",
        sample_data=ns["sample_data"],
        sample_noise=ns["sample_noise"],
        steps=50,
        batch_size=64,
        k=k,
        progress=False,
    )
    assert largest_gap(G1, G2) < 1e-3  # float rounding, grown by training: one Adam step
    assert largest_gap(D1, D2) < 1e-3  # float rounding, grown by training: one Adam step
    G0, *_ = ns["make_players"](seed=1)
    assert largest_gap(G0, G1) > 1e-2  # and they did train: a different loop would be this far off


def test_notebook_training_is_recipe_lesson1():
    """Section 5's training cells, run for a few steps, end where ``recipes.LESSON1`` ends."""
    ns = lesson_namespace()

    def shortened(*args: Any, **kwargs: Any) -> train.History:
        kwargs.update(steps=SHORT_RUN, progress=False)
        return train.train_gan(*args, **kwargs)

    ns["train_gan"] = shortened
    exec(code_cell("steps = recipes.LESSON1.steps("), ns)
    exec(code_cell("G, D, opt_g, opt_d = make_players(seed=0)"), ns)
    assert len(ns["history"]) == SHORT_RUN

    run = recipes.build(recipes.LESSON1, "gaussian1d", seed=0, device="cpu")
    recipes.train(run, recipes.LESSON1, steps=SHORT_RUN, progress=False)
    assert largest_gap(ns["G"], run.generator) < 1e-5
    assert largest_gap(ns["D"], run.discriminator) < 1e-5


def test_notebook_kl_and_jsd_are_the_package_ones():
    """Section 4 writes out KL and JSD; the package's are the same numbers."""
    ns = lesson_namespace()
    exec(definitions("def value_on_grid("), ns)
    exec(code_cell("x_wide = np.linspace("), ns)
    p, q, x_wide = ns["p"], ns["q"], ns["x_wide"]
    assert math.isclose(ns["kl"](p, q, x_wide), metrics.kl_divergence(p, q, x_wide), rel_tol=1e-9)
    assert math.isclose(ns["jsd"], metrics.jensen_shannon(p, q, x_wide), rel_tol=1e-9)
