"""Lesson 6 (notebooks/06_wasserstein_gan.ipynb): its written-out code equals the package's.

The lesson keeps one sentence or one line of each check; the full checks live here. The tests run
the notebook's own definitions, read from the notebook file (its imports, then the ``def``s
named), so a change to the lesson's code is tested without running the lesson. Also here: the
mathematics its new figure rests on (the optimal 1D critic), the Dirac-GAN's fixed point, and the
exercises' solutions (they parse, they self-check, and the cheap self-check runs). A few seconds.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest
import torch
from notebook_code import NotebookCode
from scipy.stats import wasserstein_distance

from gancourse import config, data, losses, nets, recipes

LESSON = NotebookCode("06_wasserstein_gan")
NOTEBOOK = LESSON.path
CODE = LESSON.code
MARKDOWN = LESSON.markdown
SOLUTION = re.compile(r"<summary>Solution</summary>\s*```python\n(.*?)```", re.DOTALL)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Networks this small train fastest on one thread (as the notebook runs them); on a busy
    machine two threads can be thirty times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def lesson_namespace() -> dict:
    return LESSON.namespace()


def define(namespace: dict, *names: str) -> dict:
    return LESSON.define(namespace, *names)


def solutions() -> list[str]:
    """The code of every collapsible solution, its list indentation removed."""
    text = "\n".join(MARKDOWN)
    return [
        "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines())
        for block in SOLUTION.findall(text)
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_notebooks_algorithm_1_is_the_packages(seed):
    """Notebook 06 writes out WGAN's Algorithm 1; ``recipes.train`` with the same setup is the
    loop the benchmarks train: after 50 generator steps the weights agree."""
    lesson = define(lesson_namespace(), "clipped_critic_step", "wgan_clip_algorithm_1")
    generator, critic, estimates = lesson["wgan_clip_algorithm_1"](50, seed=seed)
    setup = lesson["replace"](recipes.WGAN_CLIP_2D, standardize=False, lr_decay=False)
    run = recipes.build(setup, "ring", seed=seed)
    recipes.train(run, setup, steps=50, progress=False)
    for ours, package in ((critic, run.discriminator), (generator, run.generator)):
        gap = max(
            (a - b).abs().max().item()
            for a, b in zip(ours.parameters(), package.parameters(), strict=True)
        )
        assert gap < 1e-5, f"seed {seed}: largest weight difference {gap:.1e}"
    assert len(estimates) == 50
    assert max(p.abs().max().item() for p in critic.parameters()) <= 0.01 + 1e-9, "clipped"


@pytest.mark.parametrize(
    ("shape", "lam"), [((256, 2), 10.0), ((64, 1), 1.0), ((16, 1, 8, 8), 10.0), ((32, 3), 0.1)]
)
def test_the_notebooks_gradient_penalty_is_the_packages(shape, lam):
    lesson = define(lesson_namespace(), "gradient_penalty")
    config.seed_everything(0)
    width = int(np.prod(shape[1:]))
    critic = torch.nn.Sequential(torch.nn.Flatten(), nets.mlp(width, 1, (32, 32)))
    real, fake = torch.randn(shape), torch.randn(shape) + 1
    config.seed_everything(1)
    ours = lesson["gradient_penalty"](critic, real, fake, lam)
    config.seed_everything(1)
    package = losses.gradient_penalty(critic, real, fake, lam)
    assert torch.allclose(ours, package, rtol=1e-6, atol=1e-9)
    assert ours.requires_grad, "the graph is kept, so the critic can step on it"


def test_a_unit_slope_critic_pays_no_penalty():
    lesson = define(lesson_namespace(), "gradient_penalty")
    unit_slope = torch.nn.Linear(3, 1)
    with torch.no_grad():
        unit_slope.weight.copy_(torch.tensor([[0.48, 0.6, 0.64]]))  # norm 1
    penalty = lesson["gradient_penalty"](unit_slope, torch.randn(50, 3), torch.randn(50, 3))
    assert penalty.item() < 1e-10


def test_the_optimal_1d_critic_attains_w1():
    """The lesson's f*(x) = min(x, 8 - x) for data N(2, 0.5^2) and samples N(0, 1): its
    objective is W1, and no other slope-1 ramp does better."""
    rng = np.random.default_rng(0)
    real, fake = 2 + 0.5 * rng.standard_normal(400_000), rng.standard_normal(400_000)
    w1 = wasserstein_distance(real, fake)

    def objective(turn: float) -> float:
        f = lambda x: np.minimum(x, 2 * turn - x)  # noqa: E731 - a ramp turning down at `turn`
        return f(real).mean() - f(fake).mean()

    assert objective(4.0) == pytest.approx(w1, rel=2e-3)
    assert all(objective(turn) < objective(4.0) + 1e-4 for turn in (2.5, 3.0, 3.5, 4.5, 5.0))


def test_misses_on_bridges_measures_the_data_and_the_bridges():
    namespace = lesson_namespace()
    namespace["grid"] = grid = data.grid()
    define(namespace, "misses_on_bridges")
    measure = namespace["misses_on_bridges"]
    hq, spread, _ = measure(grid.sample(20_000, generator=torch.Generator().manual_seed(0)).numpy())
    assert hq == pytest.approx(1 - np.exp(-4.5), abs=0.003)
    # the mean distance to the centre of a 2D Gaussian of sd 0.05, below 3 sd: 0.0615
    assert spread == pytest.approx(0.0615, abs=0.001)
    means = grid.means.numpy()
    (j,) = [j for j in range(25) if np.isclose(np.linalg.norm(means[j] - means[0]), 2)][:1]
    halfway = (means[0] + means[j]) / 2
    on_bridge = np.concatenate([means, np.repeat(halfway[None], 25, axis=0)])
    assert measure(on_bridge)[2] == 1.0, "samples between two neighbours lie on a bridge"
    off_bridge = np.concatenate([means, np.repeat((means[0] + 0.5)[None], 25, axis=0)])
    assert measure(off_bridge)[2] == 0.0


def test_the_dirac_games():
    lesson = define(lesson_namespace(), "logistic", "dirac_field", "follow")
    field, follow = lesson["dirac_field"], lesson["follow"]
    # WGAN-GP stops at theta = 2 lambda, psi = 0 (approached from psi > 0)
    for lam in (0.5, 1.0):
        assert np.allclose(field("WGAN-GP", 2 * lam, 1e-12, lam=lam), (0, 0), atol=1e-9)
    assert np.allclose(follow("WGAN-GP", lam=1.0)[-1], (2.0, 0.0), atol=1e-3)
    assert np.abs(follow("GAN + R1", gamma=0.3)[-2000:]).max() < 1e-3
    clipped = follow("WGAN", clip=1.0)
    assert np.abs(clipped[:, 1]).max() <= 1.0 and np.abs(clipped[-2000:, 0]).max() > 0.5


def test_every_exercise_has_a_folded_hint_and_a_self_checking_solution():
    exercises = [text for text in MARKDOWN if re.match(r"\d\. \*\*", text)]
    assert len(exercises) == 5
    for text in exercises:
        assert "<details><summary>Hint</summary>" in text
        assert "<details><summary>Solution</summary>" in text
    found = solutions()
    assert len(found) == 5
    for code in found:
        ast.parse(code)
        assert "assert " in code, "each solution ends with a self-check"
    assert not re.search(r"\bcell \d", "\n".join(MARKDOWN)), "refer to sections, not cells"


def test_the_r1_solutions_penalty_passes_its_self_check():
    (code,) = [s for s in solutions() if "def r1(" in s]
    cheap = code[: code.index("setup_r1 =")]  # the penalty and its self-check, not the training
    namespace = lesson_namespace()
    namespace["grid"] = data.grid()
    exec(cheap, namespace)  # its own assert is the check
    real = torch.randn(8, 2)
    critic = nets.mlp(2, 1, (16,))
    assert namespace["r1"](critic, real, None, gamma=0.0).item() == 0.0
