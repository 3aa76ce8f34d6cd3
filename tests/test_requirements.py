"""requirements.txt matches the code: every package the notebooks, the package and the tests
import is declared there, the installed versions are ones it allows, and its lower bounds are
no older than the releases that brought the features the code uses."""

import ast
import importlib
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

# What the code uses that an older release lacks: (text in the code, package, first release).
FEATURES = [
    ("np.trapezoid", "numpy", "2.0"),  # np.trapz before NumPy 2.0
    ("weights_only=True", "torch", "1.13"),
]


def requirements() -> dict[str, Requirement]:
    """The named requirements of requirements.txt (not the editable install of the course)."""
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            found[requirement.name.lower()] = requirement
    return found


def lower_bound(requirement: Requirement) -> Version | None:
    bounds = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    return max(bounds) if bounds else None


def code_sources() -> dict[str, str]:
    """The source of every notebook code cell, package module and test, by where it comes from."""
    sources = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        sources[path.name] = "\n".join(code)
    for folder in ("gancourse", "tests"):
        for path in sorted((ROOT / folder).glob("*.py")):
            sources[f"{folder}/{path.name}"] = path.read_text()
    return sources


def imported_modules() -> dict[str, set[str]]:
    """Top-level modules imported anywhere, outside the standard library and the course, with
    where each is imported."""
    modules: dict[str, set[str]] = {}
    course = {"gancourse"} | {path.stem for path in (ROOT / "tests").glob("*.py")}  # test helpers
    for where, source in code_sources().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in course:
                    modules.setdefault(top, set()).add(where)
    return modules


def distribution_of(module: str) -> str:
    names = importlib.metadata.packages_distributions().get(module, [])
    assert names, f"no installed distribution provides the module {module!r}"
    return names[0].lower()


def test_every_imported_package_is_declared():
    declared = requirements()
    missing = {
        module: sorted(where)
        for module, where in imported_modules().items()
        if distribution_of(module) not in declared
    }
    assert not missing, f"imported but not in requirements.txt: {missing}"


@pytest.mark.parametrize("module", sorted(imported_modules()))
def test_every_imported_package_imports(module):
    importlib.import_module(module)


def test_installed_versions_are_ones_requirements_allow():
    wrong = {
        name: f"{importlib.metadata.version(name)} installed, {requirement.specifier} required"
        for name, requirement in requirements().items()
        if not requirement.specifier.contains(importlib.metadata.version(name), prereleases=True)
    }
    assert not wrong, wrong


@pytest.mark.parametrize(("text", "package", "first"), FEATURES)
def test_lower_bounds_admit_no_release_without_a_feature_in_use(text, package, first):
    users = [
        where
        for where, source in code_sources().items()
        if re.search(re.escape(text), source) and not where.startswith("tests/")
    ]
    if not users:
        pytest.skip(f"nothing uses {text} any more")
    bound = lower_bound(requirements()[package])
    assert bound is not None and bound >= Version(first), (
        f"{', '.join(users)} use {text}, new in {package} {first}, but requirements.txt allows "
        f"{package} {bound}: raise its lower bound"
    )
