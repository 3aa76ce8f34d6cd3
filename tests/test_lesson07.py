"""Lesson 7, the instructor playground: the notebook's shape and its exercises' solutions.

The panel itself is tested in ``test_playground.py`` (that it trains exactly as
``recipes.build`` and ``recipes.train``: ``test_the_playground_trains_exactly_as_its_recipe``)
and in a browser in ``test_browser.py``; nbval runs the notebook's own asserts; the length of
its cells is checked with every notebook's (``test_repository.py``). Here: every exercise has a
hint and a solution whose code ends in an assert, and each solution runs and its assert holds
(about half a minute on one CPU thread).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_instructor_playground.ipynb"
SOLUTION = re.compile(
    r"<summary>Solution</summary>\s*```python\n(?P<code>.*?)```\s.*?</details>", re.DOTALL
)


def cells(kind: str) -> list[str]:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == kind]


def exercises() -> list[str]:
    """The exercises, one string each: the numbered items of the "## Exercises" section."""
    text = next(m for m in cells("markdown") if "## Exercises" in m)
    text = text.split("## Exercises", 1)[1].split("\n## ", 1)[0]
    return re.split(r"\n(?=\d+\. \*\*)", text)[1:]


def solutions() -> list[str]:
    return [textwrap.dedent(SOLUTION.search(item)["code"]) for item in exercises()]


def test_four_exercises_each_with_a_hint_and_a_solution_that_checks_itself():
    items = exercises()
    assert len(items) == 4
    for item in items:
        assert "<summary>Hint</summary>" in item and "<summary>Solution</summary>" in item, item
        assert "*Hint:" not in item, "hints are collapsed, not inline"
        code = textwrap.dedent(SOLUTION.search(item)["code"])
        assert re.search(r"^assert ", code, re.MULTILINE), f"no self-check in: {item}"


def test_the_text_names_sections_not_cell_numbers():
    for text in cells("markdown"):
        assert not re.search(r"\bcells? \d", text), text[:200]


def test_the_notebook_is_committed_without_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.fixture(scope="module")
def lesson() -> Iterator[dict]:
    """The notebook's set-up cell and section 5's helpers, run as a learner would before
    trying a solution (the set-up cell also seeds and picks one CPU thread)."""
    code = cells("code")
    setup = next(c for c in code if "config.setup(" in c)
    helpers = next(c for c in code if "def first_step_within" in c)
    threads = torch.get_num_threads()
    namespace: dict = {}
    exec(setup, namespace)
    exec(helpers, namespace)
    yield namespace
    torch.set_num_threads(threads)  # the set-up cell asked for one


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_each_solution_runs_and_its_assert_holds(lesson, number, capsys):
    exec(solutions()[number - 1], dict(lesson))
    assert capsys.readouterr().out.strip(), "a solution prints what it measured"
