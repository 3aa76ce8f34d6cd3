"""Checks on the repository itself: clean notebooks, lint, and the README's promises."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    notebook = json.loads(path.read_text())
    dirty = [
        index
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, (
        f"{path.name} has stored outputs in cells {dirty}: clear them before committing "
        f"(jupyter nbconvert --clear-output --inplace {path.relative_to(ROOT)})"
    )


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_is_clean():
    done = _ruff("check", ".")
    assert done.returncode == 0, f"ruff check found problems (run `ruff check .`):\n{done.stdout}"


def test_ruff_format_is_clean():
    done = _ruff("format", "--check", ".")
    assert done.returncode == 0, f"files need `ruff format .`:\n{done.stdout}"


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"README.md does not list {missing}"


MAX_CODE_CELL_LINES = 35  # one idea per cell: about a screen (the review asked for about 30)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_is_one_idea(path):
    cells = json.loads(path.read_text())["cells"]
    long = {
        index: len("".join(cell["source"]).splitlines())
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        and len("".join(cell["source"]).splitlines()) > MAX_CODE_CELL_LINES
    }
    assert not long, f"{path.name}: code cells over {MAX_CODE_CELL_LINES} lines {long}: split them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_text_refers_to_sections_not_cell_numbers(path):
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = re.findall(r"\bcells? \d+\b", text)
    assert not found, f"{path.name} names cells by number ({found}): JupyterLab shows none"
