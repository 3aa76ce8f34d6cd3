"""Test-wide settings: the quick budget, for the package tests and the notebooks nbval runs.

nbval starts each notebook's kernel from this process, so the kernel inherits the variable.
Set GANCOURSE_BUDGET=full yourself to run the notebooks at the full budget under pytest.
"""

import os

os.environ.setdefault("GANCOURSE_BUDGET", "quick")
os.environ.setdefault("MPLBACKEND", "Agg")
