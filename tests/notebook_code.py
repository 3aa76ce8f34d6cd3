"""Reading a lesson's own code out of its notebook, for the tests that check it against the
package (tests/test_lesson0N.py): the notebook's imports and the definitions named, run without
the rest of their cells (which may train a network)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import torch

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class NotebookCode:
    """The code cells of ``notebooks/<name>.ipynb``."""

    def __init__(self, name: str) -> None:
        self.path = NOTEBOOKS / f"{name}.ipynb"
        cells = json.loads(self.path.read_text(encoding="utf-8"))["cells"]
        self.code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        self.markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]

    def namespace(self) -> dict:
        """The notebook's imports (its first code cell without ``config.setup``), on the CPU."""
        imports = ast.parse(self.code[0])
        imports.body = [n for n in imports.body if isinstance(n, ast.Import | ast.ImportFrom)]
        namespace: dict = {"device": torch.device("cpu")}
        exec(compile(imports, str(self.path), "exec"), namespace)
        return namespace

    def define(self, namespace: dict, *names: str) -> dict:
        """Run the notebook's ``def`` of each name (only the definition, not its cell)."""
        for name in names:
            found = [
                node
                for source in self.code
                for node in ast.parse(source).body
                if isinstance(node, ast.FunctionDef) and node.name == name
            ]
            assert len(found) == 1, f"{self.path.name} should define {name} once, not {len(found)}"
            exec(compile(ast.Module([found[0]], []), str(self.path), "exec"), namespace)
        return namespace
