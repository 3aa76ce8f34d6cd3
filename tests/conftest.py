"""Test-wide settings: the quick budget, for the package tests and the notebooks nbval runs.

nbval starts each notebook's kernel from this process, so the kernel inherits the variable.
Set GANCOURSE_BUDGET=full yourself to run the notebooks at the full budget under pytest.
"""

import os

import pytest

os.environ.setdefault("GANCOURSE_BUDGET", "quick")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under pytest-xdist (``-n N``), keep each notebook on one worker and spread the rest.

    nbval runs a notebook's cells in order in one kernel: a cell sent to another worker meets a
    fresh kernel without the variables of the cells before it, and fails. ``-n N`` alone
    (``--dist load``) scatters the cells; other ``--dist`` modes are left as asked."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebooksWhole(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(".ipynb") else nodeid

    return NotebooksWhole(config, log)
