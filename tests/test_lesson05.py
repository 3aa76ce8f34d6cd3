"""Lesson 5's written-out discriminator is the package's: notebook 05 defines the layer
(``MinibatchFeatures``) and the discriminator around it (``minibatch_discriminator``) and says in
one sentence that ``recipes.models`` builds the same; this test runs the notebook's own
definitions and checks it, weight for weight, for the ring and the grid. A second or two."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from gancourse import config, nets, recipes, toy2d

NOTEBOOK = (
    Path(__file__).resolve().parent.parent / "notebooks" / "05_minibatch_discrimination.ipynb"
)


def notebook_definitions(*names: str) -> dict:
    """Run the notebook's class and function definitions called ``names``; return them."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    namespace: dict = {"nn": nn, "torch": torch, "recipes": recipes}
    for name in names:
        found = [
            ast.get_source_segment(source, node)
            for source in sources
            for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name
        ]
        assert len(found) == 1, f"{NOTEBOOK.name}: {len(found)} definitions of {name}"
        exec(found[0], namespace)  # the course's own notebook
    return namespace


@pytest.mark.parametrize("target", ["ring", "grid"])
def test_the_notebooks_minibatch_discriminator_is_the_packages(target):
    lesson = notebook_definitions("MinibatchFeatures", "minibatch_discriminator")
    setup = toy2d.lesson5(target, "minibatch")
    config.seed_everything(0)
    # recipes.models builds G first, then D: draw G's weights first here too
    nets.mlp(setup.latent_dim, 2, (setup.g_hidden,) * setup.g_layers, activation="relu")
    ours = lesson["minibatch_discriminator"](setup)
    config.seed_everything(0)
    _, package = recipes.models(setup)
    ours_state, package_state = ours.state_dict(), package.state_dict()
    assert len(ours_state) == len(package_state)
    for a, b in zip(ours_state.values(), package_state.values(), strict=True):
        assert torch.equal(a, b)
    points = torch.randn(64, 2)
    assert torch.allclose(ours(points), package(points), atol=1e-5)
