"""Lesson 2 (notebooks/02_generator_games.ipynb): its written-out code equals the package's.

The lesson keeps one line of each check; the full checks live here. The tests run the
notebook's own definitions, read from the notebook file (imports, then the ``def``s named), so a
change to the lesson's code is tested without running the lesson. Also here: the solutions of the
fast exercises still pass their own self-checks.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from notebook_code import NotebookCode

from gancourse import losses, toy1d

LESSON = NotebookCode("02_generator_games")
NOTEBOOK = LESSON.path
CODE = LESSON.code
MARKDOWN = LESSON.markdown


def lesson_namespace() -> dict:
    return LESSON.namespace()


def define(namespace: dict, *names: str) -> dict:
    return LESSON.define(namespace, *names)


def run_cell_defining(namespace: dict, name: str) -> dict:
    """Run the whole code cell that defines ``name`` (for cells of definitions and constants)."""
    (source,) = [source for source in CODE if f"def {name}(" in source]
    exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    return namespace


def solution(exercise: int) -> str:
    """The code of an exercise's collapsible solution."""
    (text,) = [text for text in MARKDOWN if text.startswith(f"**Exercise {exercise}.")]
    answer = text.split("<summary>Solution</summary>", 1)[1]
    return re.search(r"```python\n(.*?)```", answer, re.DOTALL).group(1)


COSTS = ("minimax", "non_saturating", "maximum_likelihood")


@pytest.mark.parametrize("game", COSTS)
def test_notebook_costs_equal_the_package_logit_by_logit(game):
    namespace = define(lesson_namespace(), f"{game}_cost")
    ours, package = namespace[f"{game}_cost"], losses.generator_loss(game)
    for a in torch.linspace(-20, 20, 81, dtype=torch.float64):
        assert torch.allclose(ours(a.reshape(1)), package(a.reshape(1)), rtol=1e-12, atol=1e-12)
    a = torch.tensor([-1e4, 1e4], requires_grad=True)
    (grad,) = torch.autograd.grad(ours(a), a)
    (package_grad,) = torch.autograd.grad(package(a), a)
    assert torch.isfinite(grad).all() and torch.equal(grad, package_grad)


@pytest.fixture
def one_thread():
    """One CPU thread, as the lesson runs (many threads make these tiny networks far slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_notebook_saturation_experiment_equals_the_package(one_thread):
    namespace = define(lesson_namespace(), "reject_the_fakes", "first_gradient_norm", "train_from")
    start = namespace["reject_the_fakes"](seed=0, pretrain_steps=100)
    package_start = toy1d.saturated_start(seed=0, pretrain_steps=100)
    for ours, package in zip(start, package_start, strict=True):
        for p, q in zip(ours.parameters(), package.parameters(), strict=True):
            assert torch.equal(p, q), "the notebook's pretraining should be toy1d.saturated_start"
    for game in COSTS:
        run = namespace["train_from"](start, game, 40)
        package_run = toy1d.saturation_run(game, package_start, steps=40, every=5)
        assert list(run["trajectory"]) == package_run.steps
        assert np.allclose(list(run["trajectory"].values()), package_run.means, atol=1e-6)
        assert abs(run["grad_norm"] - package_run.start_gradient_norm) < 1e-6
        assert run["diverged"] == (package_run.diverged_at is not None)


def test_exercise_3_solution_passes_its_self_check():
    namespace = lesson_namespace()
    run_cell_defining(namespace, "cost_gradient")
    exec(solution(3), namespace)


def test_exercise_4_and_5_solutions_pass_their_self_checks():
    namespace = run_cell_defining(lesson_namespace(), "play")
    namespace["lr"] = 0.1  # section 6's step size
    exec(solution(4), namespace)
    exec(solution(5), namespace)


def test_every_exercise_has_a_hint_and_a_solution_with_a_self_check():
    exercises = [text for text in MARKDOWN if re.match(r"\*\*Exercise \d\.", text)]
    assert len(exercises) == 6
    for text in exercises:
        assert "<summary>Hint</summary>" in text and "<summary>Solution</summary>" in text
        assert "assert " in text.split("<summary>Solution</summary>", 1)[1]
        assert not re.search(r"\bcell \d", text), "refer to sections, not cell numbers"
