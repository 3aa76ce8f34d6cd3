"""End to end in a real browser: JupyterLab serves notebook 07, headless Chromium runs its
panel cell, clicks Step and reads the panel, as an instructor would; then turns on the manifold
view, presses Half step twice (D's update, then G's) and draws a target on the pad.

The browser is Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it where
it can), driven by Playwright's Python package with ``executable_path`` set to it: Playwright
never downloads a browser here. Without Chromium the test skips and says how to get it.
JupyterLab runs on localhost with a random token, on a copy of the notebook (so the notebook
under ``notebooks/`` never gets outputs saved into it), and is shut down, kernels included,
whatever happens. Screenshots go to ``browser-screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "07_instructor_playground.ipynb"
SCREENSHOTS = ROOT / "browser-screenshots"
CLICKS = 3
PLAYED_FRAMES = 4

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=(
        f"no Chromium at {CHROMIUM}: the browser test needs Debian's chromium package "
        f"(apt-get install chromium, as root; .ci/run does it where apt-get works), or set "
        f"GANCOURSE_CHROMIUM to a Chromium binary"
    ),
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


class JupyterLab:
    """A JupyterLab server in its own process group, for one test."""

    def __init__(self, root: Path, log: Path) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = {
            **os.environ,
            "GANCOURSE_BUDGET": "quick",
            "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
        }
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--IdentityProvider.token={self.token}",  # ServerApp.token's new name
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.allow_root=True",  # CI runs as root; the server is local only
                # no news, update checks or PyPI extension manager: nothing may use the network
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",
            ],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its kernels join its process group: one kill ends all
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def wait_until_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}")
            try:
                if _get(self.url("api/status")) == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Ask the server to shut down (it stops its kernels first), then make sure."""
        if self.process.poll() is None:
            try:
                _get(self.url("api/shutdown"), method="POST")
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:  # a kernel that outlived its server
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[JupyterLab]:
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    # JupyterLab's first start asks whether to fetch Jupyter news; answer no beforehand, so
    # that nothing is fetched and no toast covers the panel in the screenshots
    news = tmp_path / ".settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    server = JupyterLab(tmp_path, tmp_path / "jupyterlab.log")
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


def _readout(page, name: str) -> str:
    return page.locator(f".gancourse-playground .gancourse-{name}").inner_text()


def _steps(page) -> int:
    return int(_readout(page, "steps").replace(",", ""))


def _button(panel, text: str):
    """The panel's button labelled exactly ``text`` (Step, not Half step)."""
    return panel.locator("button").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def _wait_for_text(page, name: str, text: str, timeout: float = 30_000) -> str:
    """Wait until the panel's element of class gancourse-``name`` shows ``text``; its text."""
    page.wait_for_function(
        "([css, text]) => { const el = document.querySelector(css);"
        " return el !== null && el.innerText.includes(text); }",
        arg=[f".gancourse-playground .gancourse-{name}", text],
        timeout=timeout,
    )
    return _readout(page, name)


def _picture(page) -> str:
    """The picture's current source (a new blob URL each time the kernel sends a frame)."""
    return page.locator(".gancourse-playground img").get_attribute("src") or ""


def _picture_changes(page, before: str) -> None:
    page.wait_for_function(
        "before => document.querySelector('.gancourse-playground img').src !== before",
        arg=before,
        timeout=30_000,
    )


def _accept_kernel_dialog(page) -> None:
    """On a loaded machine JupyterLab sometimes asks which kernel to use although the
    notebook names one (its list of kernels arrived late): accept the preselected Python 3."""
    dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    if dialog.count() and dialog.first.is_visible():
        dialog.first.locator("button.jp-mod-accept").click()
        dialog.first.wait_for(state="detached", timeout=10_000)


def _run_cell(page, cell) -> None:
    """Select a code cell (click its prompt: command mode) and run it in place. A key press
    can be lost while JupyterLab is still busy starting; then the prompt still reads
    "[ ]:" (the cell is not queued) and the press is repeated."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    prompt = cell.locator(".jp-InputPrompt")
    for _ in range(3):
        _accept_kernel_dialog(page)
        prompt.click()
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_function(
                "el => el.innerText.trim() !== '[ ]:'", arg=prompt.element_handle(), timeout=10_000
            )
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the cell did not start after three tries: {cell.inner_text()[:80]}")


def test_the_panel_plays_in_jupyterlab_in_chromium(lab: JupyterLab) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    console: list[str] = []
    per_frame = 10  # the panel's default steps per frame
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            page.on(
                "console",
                lambda message: console.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: console.append(f"page error: {error}"))
            page.goto(lab.url(f"lab/tree/{NOTEBOOK.name}"))
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            # the first two code cells: the set-up, then the panel
            setup = cells.filter(has_text="config.setup(")
            panel_cell = cells.filter(has_text="panel = Playground(")
            setup.wait_for(timeout=60_000)
            panel_cell.wait_for(timeout=60_000)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(
                timeout=60_000
            )
            _run_cell(page, setup)
            setup.locator(".jp-OutputArea-output").filter(has_text="budget: quick").wait_for(
                timeout=90_000
            )
            _run_cell(page, panel_cell)
            panel = page.locator(".gancourse-playground")
            panel.wait_for(timeout=90_000)
            page.wait_for_function(
                "() => { const img = document.querySelector('.gancourse-playground img');"
                " return img && img.naturalWidth > 0; }",
                timeout=30_000,
            )
            assert "budget: quick" in setup.inner_text()  # the setup cell's printout
            # the widgets rendered: the controls, the play widget, the buttons, the picture
            assert panel.locator("select").count() == 2  # target and game
            # minibatch discrimination and the manifold view
            assert panel.locator("input[type='checkbox']").count() == 2
            for name in ("Step", "Half step", "Reset"):
                assert _button(panel, name).is_visible(), name
            assert not panel.locator(".gancourse-drawing").is_visible()  # drawn target only
            assert panel.locator(".widget-play").count() == 1
            # a control, used in the browser: the grid of 25 (new players, a new picture)
            panel.locator("select").first.select_option(label="grid of 25")
            page.wait_for_function(
                "() => document.querySelector('.gancourse-playground').innerText.includes('of 25')",
                timeout=30_000,
            )
            steps0, samples0, modes0 = (_readout(page, n) for n in ("steps", "samples", "modes"))
            assert steps0 == "0" and samples0 == "0"
            assert "new players" in panel.locator(".gancourse-status").inner_text()

            modes_seen = {modes0}
            steps = steps0
            for click in range(CLICKS):
                _button(panel, "Step").click()
                page.wait_for_function(
                    "previous => document.querySelector("
                    "'.gancourse-playground .gancourse-steps').innerText !== previous",
                    arg=steps,
                    timeout=30_000,
                )
                steps = _readout(page, "steps")
                modes_seen.add(_readout(page, "modes"))
                page.screenshot(path=SCREENSHOTS / f"step-{click + 1}.png")
            samples, modes = _readout(page, "samples"), _readout(page, "modes")

            # play (the browser's timer asks the kernel for frames), then pause
            play_pause = panel.locator(".widget-play button").first
            before_play, started = _steps(page), time.monotonic()
            play_pause.click()
            page.wait_for_function(
                "target => Number(document.querySelector("
                "'.gancourse-playground .gancourse-steps').innerText.replace(/,/g, '')) >= target",
                arg=before_play + PLAYED_FRAMES * per_frame,
                timeout=30_000,
            )
            played_seconds = time.monotonic() - started
            play_pause.click()
            page.wait_for_timeout(2_000)  # a tick already on its way may still land
            after_pause = _steps(page)
            page.wait_for_timeout(2_000)
            still = _steps(page)
            panel.screenshot(path=SCREENSHOTS / "playground.png")
            page.screenshot(path=SCREENSHOTS / "jupyterlab.png")
            status = panel.locator(".gancourse-status").inner_text()

            # the manifold view: the checkbox redraws with G's warp of a lattice of z
            picture = _picture(page)
            panel.locator("label").filter(has_text="show G's warp of z").locator("input").check()
            manifold_status = _wait_for_text(page, "status", "manifold view shown")
            _picture_changes(page, picture)
            panel.screenshot(path=SCREENSHOTS / "manifold.png")

            # slow motion: Half step runs D's update, the next press G's
            halves = []
            for press, caption in enumerate(("D updated", "G updated")):
                picture = _picture(page)
                _button(panel, "Half step").click()
                halves.append(_wait_for_text(page, "status", caption))
                _picture_changes(page, picture)
                halves.append(panel.locator(".gancourse-readout").inner_text())
                halves.append(_steps(page))
                panel.screenshot(path=SCREENSHOTS / f"half-step-{'DG'[press]}.png")

            # a drawn target: pick it (the pad appears, with three modes), click two more
            # points on the pad, train on the drawing
            panel.locator("select").first.select_option(label="drawn modes (click them)")
            drawn_status = _wait_for_text(page, "status", "(3 modes)")
            _wait_for_text(page, "readout", "of 3")
            assert panel.locator(".gancourse-drawing").is_visible()
            for point in ("(-3, 3)", "(3, 3)"):
                panel.locator(f".gancourse-pad button[title='{point}']").click()
            _wait_for_text(page, "drawn", "5")
            _button(panel, "Train on this drawing").click()
            trained_status = _wait_for_text(page, "status", "(5 modes)")
            drawn_modes = _wait_for_text(page, "readout", "of 5")
            _button(panel, "Step").click()
            _wait_for_text(page, "steps", str(per_frame))
            panel.screenshot(path=SCREENSHOTS / "drawn.png")
            errors_shown = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            ).all_inner_texts()
        except Exception:
            page.screenshot(path=SCREENSHOTS / "failure.png")  # what the page showed
            raise
        finally:
            browser.close()

    assert int(steps.replace(",", "")) == CLICKS * per_frame, steps
    frames_played = (after_pause - before_play) // per_frame
    print(f"played {frames_played} frames, {PLAYED_FRAMES} in {played_seconds:.1f} s")
    assert still == after_pause, "pause should stop the frames"
    assert samples != samples0, "the real samples seen by D should grow with each frame"
    assert len(modes_seen) > 1, f"the mode count never changed in {CLICKS} frames: {modes}"
    assert "error" not in status.lower(), status
    assert not [e for e in errors_shown if "Traceback" in e], errors_shown
    assert "lattice of z" in manifold_status, manifold_status
    d_status, d_readout, d_steps, g_status, g_readout, g_steps = halves
    assert "D updated" in d_status and "G's samples did not" in d_status, d_status
    assert "half-way: D updated" in d_readout and d_steps == after_pause, (d_readout, d_steps)
    assert "G updated" in g_status and g_steps == after_pause + 1, (g_status, g_steps)
    assert "half-way" not in g_readout, g_readout
    assert "new players" in drawn_status, drawn_status
    assert "drawn modes 3 -> 5" in trained_status, trained_status
    assert "of 5" in drawn_modes, drawn_modes
    # no filter: on these machines JupyterLab 4.6, ipywidgets 8.1 and the panel log no error
    assert not console, f"the browser console shows errors: {console}"
