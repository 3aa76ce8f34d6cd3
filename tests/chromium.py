"""The browser the page tests drive (tests/test_browser.py, tests/test_site.py): Debian's
Chromium (``apt-get install chromium``), through Playwright's ``executable_path``, so Playwright
never downloads a browser. ``GANCOURSE_CHROMIUM`` points at another binary."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("GANCOURSE_CHROMIUM", "/usr/bin/chromium"))
# Without the last three, Chromium tries to reach the network when it starts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
