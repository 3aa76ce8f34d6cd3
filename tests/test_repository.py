"""Checks on the repository itself: clean notebooks, lint, and the README's promises."""

import json
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
