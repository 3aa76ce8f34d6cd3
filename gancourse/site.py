"""A copy of the course to read without running: execute every notebook, then build a static
HTML site of the executed lessons.

    python -m gancourse.site [--budget full|quick] [--out DIR] [--timeout S]
                             [--mathjax URL|FILE] [NOTEBOOK ...]

Each notebook is executed in memory (nbclient, a kernel of this Python environment, working
directory ``notebooks/``, ``GANCOURSE_BUDGET`` set for the kernel): the committed notebook is
never written to. Each is rendered with nbconvert's "lab" template (figures embedded as data
URIs, maths typeset by MathJax) into ``DIR/<notebook>.html``, with "previous / index / next"
links, and ``DIR/index.html`` lists the lessons by the titles of their first headings.

A live widget needs a kernel, which a static page does not have: each widget output is replaced
by a snapshot of its last state (its images, texts and readouts, its controls shown with their
values but inactive). The pages need nothing from the network: the build copies MathJax 2.7
from the jupyter-server-mathjax package into ``DIR/mathjax/`` (once, and again only when the
package's copy changes) and the pages load it by a relative address, so that their maths is
typeset from a ``file://`` address or any web server, offline. ``--mathjax URL`` points them
at another copy of MathJax 2 instead (a URL, or a local ``MathJax.js``).
"""

from __future__ import annotations

import argparse
import html
import importlib.resources
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "site"
BUDGETS = ("quick", "full")
CELL_TIMEOUT_S = 3600  # one cell of notebook 03 at the full budget takes minutes on 2 cores
# MathJax 2.7 as the jupyter-server-mathjax package ships it (its static/ folder), copied into
# the site's MATHJAX_DIR. The package has one combined configuration, TeX-AMS-MML_HTMLorMML-full
# (nbconvert's CDN address asks for TeX-AMS_CHTML-full, which it lacks), and Safe, which
# nbconvert's address also asks for.
MATHJAX_PACKAGE = "jupyter_server_mathjax"
MATHJAX_DIR = "mathjax"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
LOCAL_MATHJAX = f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"  # relative to the pages
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# The lab template with the navigation above and below the lesson, and without require.js
# (a CDN script that only widgets and JavaScript outputs use; the pages have neither). MathJax
# draws with its STIX-Web fonts, the only ones jupyter-server-mathjax ships (as JupyterLab's
# classic notebook configures it): by default it would look for its TeX fonts, and not find them.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{{ super() }}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, imageFont: null, webFont: "STIX-Web"},
  SVG: {font: "STIX-Web"}
});
</script>
{%- endblock html_head_js_mathjax -%}
{%- block extra_css -%}<style>{{ resources.gancourse_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.gancourse_nav }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.gancourse_nav }}{{ super() }}{%- endblock body_footer -%}
"""
CSS = """
nav.gancourse-nav { display: flex; justify-content: space-between; gap: 1em;
  padding: 0.6em 1em; margin: 0.5em 0; background: #f3f5f8; border: 1px solid #dde2ea;
  border-radius: 4px; font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px; }
nav.gancourse-nav a { text-decoration: none; color: #1a5fb4; }
nav.gancourse-nav span.gancourse-none { color: #999; }
.gancourse-snapshot { border: 1px dashed #c0c6d0; padding: 0.5em; margin: 0.3em 0; }
.gancourse-snapshot-note { color: #666; font-size: 12px; font-style: italic; }
.gancourse-box { display: flex; flex-wrap: wrap; gap: 0.4em; align-items: center; }
.gancourse-vbox { flex-direction: column; align-items: flex-start; }
.gancourse-control { font-size: 13px; padding: 2px 6px; background: #eef0f3;
  border-radius: 3px; }
.gancourse-snapshot img { max-width: 100%; }
"""
INDEX_CSS = """
body { font-family: sans-serif; max-width: 50em; margin: 2em auto; padding: 0 1em;
  line-height: 1.5; }
li { margin: 0.4em 0; } .note { color: #666; }
"""


class SiteError(Exception):
    """A wrong argument, or a notebook that failed: the message says which and what to do."""


@dataclass(frozen=True)
class Lesson:
    """One notebook of the site: where it is, its title and the name of its page."""

    path: Path
    title: str

    @property
    def page(self) -> str:
        """The page's file name, next to index.html."""
        return f"{self.path.stem}.html"


# --- the arguments, checked before anything runs -------------------------------------------


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The course's notebooks, in lesson order (their names start with the lesson's number)."""
    return sorted(folder.glob("[0-9]*.ipynb"))


def find_notebooks(names: Sequence[str], folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks named (a file name, a stem such as ``01_gan_1d_gaussians``, the lesson's
    number such as ``01``, or a path), in lesson order; all of them when none is named."""
    known = course_notebooks(folder)
    if not names:
        if not known:
            raise SiteError(f"no notebooks in {folder}")
        return known
    chosen: list[Path] = []
    for name in names:
        match = _match_notebook(name, known)
        if match is None:
            listing = ", ".join(p.name for p in known)
            raise SiteError(f"no notebook {name!r} in {folder}: the notebooks are {listing}")
        if match not in chosen:
            chosen.append(match)
    return sorted(chosen)


def _match_notebook(name: str, known: Sequence[Path]) -> Path | None:
    """The one notebook of ``known`` that ``name`` means, or None."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.is_file():
        resolved = path.resolve()
        return next((p for p in known if p.resolve() == resolved), None)
    stem = path.name.removesuffix(".ipynb")
    exact = [p for p in known if p.stem == stem]
    numbered = [p for p in known if stem.isdigit() and p.stem.split("_", 1)[0] == stem]
    candidates = exact or numbered
    return candidates[0] if len(candidates) == 1 else None


def check_out(out: Path) -> Path:
    """Make ``out`` (the site's folder) if need be and check that files can be written there."""
    if out.exists() and not out.is_dir():
        raise SiteError(f"--out {out} is a file, not a folder: give a folder for the site")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as error:
        raise SiteError(f"--out {out} cannot be written: {error}") from error
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, with the notebooks resolved and the output folder checked."""
    parser = argparse.ArgumentParser(
        prog="python -m gancourse.site",
        description="Execute the course's notebooks and build a static HTML site of them.",
    )
    parser.add_argument(
        "notebooks", nargs="*", metavar="NOTEBOOK", help="notebooks to build (default: all)"
    )
    parser.add_argument("--budget", choices=BUDGETS, default="full", help="default: full")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: site/")
    parser.add_argument(
        "--timeout", type=int, default=CELL_TIMEOUT_S, help="seconds a cell may take"
    )
    parser.add_argument(
        "--mathjax",
        default=None,
        metavar="URL",
        help=(
            "MathJax 2's MathJax.js: a URL or a local file (default: a copy in the site, "
            f"{MATHJAX_DIR}/, from the jupyter-server-mathjax package)"
        ),
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be a positive number of seconds")
    try:
        args.notebooks = find_notebooks(args.notebooks)
        args.out = check_out(args.out)
    except SiteError as error:
        parser.error(str(error))
    return args


# --- lessons and navigation ------------------------------------------------------------------


def lesson_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The text of the notebook's first markdown heading, or ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.lstrip().startswith("#"):
                title = line.strip().lstrip("#").strip()
                if title:
                    return title
    return fallback


def read_lesson(path: Path) -> Lesson:
    """The lesson of a notebook on disk, titled by its first heading."""
    return Lesson(path, lesson_title(nbformat.read(path, as_version=4), path.stem))


def nav_html(lessons: Sequence[Lesson], index: int) -> str:
    """The "previous / index / next" bar of lesson ``index``."""

    def link(i: int, arrow: str) -> str:
        if 0 <= i < len(lessons):
            title = html.escape(lessons[i].title)
            return f'<a href="{lessons[i].page}" title="{title}">{arrow}</a>'
        return f'<span class="gancourse-none">{arrow}</span>'

    return (
        '<nav class="gancourse-nav">'
        f'<span class="gancourse-prev">{link(index - 1, "&larr; previous")}</span>'
        '<span class="gancourse-index"><a href="index.html">index</a></span>'
        f'<span class="gancourse-next">{link(index + 1, "next &rarr;")}</span>'
        "</nav>"
    )


def index_html(lessons: Sequence[Lesson], out: Path, budget: str) -> str:
    """The site's first page: the lessons in order, linked where their page exists."""
    items = []
    for lesson in lessons:
        title = html.escape(lesson.title)
        if (out / lesson.page).is_file():
            items.append(f'<li><a href="{lesson.page}">{title}</a></li>')
        else:
            items.append(f'<li>{title} <span class="note">(not built)</span></li>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
        "<title>A hands-on GAN course</title>\n"
        f"<style>{INDEX_CSS}</style>\n</head>\n<body>\n"
        "<h1>A hands-on GAN course</h1>\n"
        f'<p class="note">The notebooks as executed at the {html.escape(budget)} budget, '
        "to read without running. The widgets show their last state.</p>\n"
        f"<ol>\n{''.join(items)}\n</ol>\n</body>\n</html>\n"
    )


# --- widgets: a snapshot of their last state -----------------------------------------------


def widget_snapshot(model_id: str, state: dict) -> str:
    """Static HTML of a widget and its children, from the notebook's saved widget state."""
    model = state.get(model_id)
    if model is None:
        return ""
    name = model.get("model_name", "")
    values = model.get("state", {})
    if isinstance(values.get("children"), list):
        kind = "gancourse-vbox" if name.startswith("VBox") else "gancourse-hbox"
        inner = "".join(widget_snapshot(_ref(c), state) for c in values["children"])
        return f'<div class="gancourse-box {kind}">{inner}</div>'
    if name == "ImageModel":
        data = _buffer(model, "value")
        fmt = html.escape(values.get("format", "png"))
        return f'<img src="data:image/{fmt};base64,{data}" alt="widget image" />' if data else ""
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div>{values.get('value', '')}</div>"
    if name == "LabelModel":
        return f"<div>{html.escape(str(values.get('value', '')))}</div>"
    if name == "OutputModel":
        return "".join(_output_snapshot(o) for o in values.get("outputs", []))
    return _control_snapshot(name, values)


def _ref(child: str) -> str:
    """The model id of an ``IPY_MODEL_<id>`` reference."""
    return child.removeprefix("IPY_MODEL_")


def _buffer(model: dict, key: str) -> str | None:
    """The base64 data of a model's binary buffer at ``key``."""
    for buffer in model.get("buffers", []):
        if buffer.get("path") == [key] and buffer.get("encoding") == "base64":
            return buffer.get("data")
    return None


def _control_snapshot(name: str, values: dict) -> str:
    """A control (button, slider, dropdown, ...) shown with its value, inactive."""
    if name.startswith("Layout") or name.endswith("StyleModel"):
        return ""
    label = html.escape(str(values.get("description", "")))
    if name == "ButtonModel":
        return f"<button disabled>{label or html.escape(str(values.get('icon', '')))}</button>"
    if "_options_labels" in values:
        labels, index = values["_options_labels"], values.get("index")
        value = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else ""
    elif "value" in values:
        value = values["value"]
    else:
        return ""
    text = f"{label}: {value}" if label else str(value)
    return f'<span class="gancourse-control">{html.escape(text)}</span>'


def _output_snapshot(output: dict) -> str:
    """One output captured by an Output widget, as HTML."""
    if output.get("output_type") == "stream":
        return f"<pre>{html.escape(output.get('text', ''))}</pre>"
    data = output.get("data", {})
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{data["image/png"].strip()}" alt="figure" />'
    if "text/html" in data:
        text = data["text/html"]
        return text if isinstance(text, str) else "".join(text)
    if "text/plain" in data:
        return f"<pre>{html.escape(str(data['text/plain']))}</pre>"
    return ""


def freeze_widgets(nb: nbformat.NotebookNode) -> int:
    """Replace each widget output by an HTML snapshot of its last state and drop the saved
    state (so that the page loads no widget manager). Returns how many were replaced."""
    saved = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            snapshot = widget_snapshot(view.get("model_id", ""), saved)
            if not snapshot:
                plain = str(output.data.get("text/plain", "a widget"))
                snapshot = f"<pre>{html.escape(plain)}</pre>"
            note = (
                '<div class="gancourse-snapshot-note">A widget, as it was when the notebook '
                "ran: open the notebook in JupyterLab to use it.</div>"
            )
            output.data = {
                "text/html": f'<div class="gancourse-snapshot">{note}{snapshot}</div>',
                "text/plain": output.data.get("text/plain", ""),
            }
            count += 1
    return count


# --- executing and rendering ---------------------------------------------------------------


def kernel_env(budget: str) -> dict[str, str]:
    """The kernel's environment: this one, with the budget set and the notebook's own
    matplotlib backend (a test's MPLBACKEND=Agg would hide the figures)."""
    env = {**os.environ, "GANCOURSE_BUDGET": budget}
    env.pop("MPLBACKEND", None)
    return env


def execute(path: Path, budget: str, timeout: int) -> nbformat.NotebookNode:
    """Run a copy of the notebook in a kernel of this environment, in ``notebooks/``.
    A failing cell is a SiteError naming the notebook and the cell."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellControlSignal, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    running = {"index": -1}

    def started(cell: nbformat.NotebookNode, cell_index: int, **_: object) -> None:
        running["index"] = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",  # jupyter_client runs it with this interpreter (sys.executable)
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=started,
    )
    # the kernel process's own messages (not the cells' outputs) go to a file, not the
    # progress line; a failure quotes their end
    with tempfile.TemporaryFile("w+", encoding="utf-8") as kernel_log:
        try:
            client.execute(env=kernel_env(budget), stderr=kernel_log)
        except (CellControlSignal, DeadKernelError, TimeoutError) as error:
            message = _failure(path, nb, running["index"], error)
            raise SiteError(message + _kernel_tail(kernel_log, error)) from error
    return nb


def _kernel_tail(kernel_log: TextIO, error: Exception, lines: int = 5) -> str:
    """The last lines the kernel process wrote, when it died (a crash says why there)."""
    from nbclient.exceptions import DeadKernelError

    if not isinstance(error, DeadKernelError):
        return ""
    kernel_log.seek(0)
    tail = kernel_log.read().strip().splitlines()[-lines:]
    return "\nthe kernel's last words:\n" + "\n".join(tail) if tail else ""


def _failure(path: Path, nb: nbformat.NotebookNode, index: int, error: Exception) -> str:
    """What failed: the notebook, the cell (its number and first line) and the error's end."""
    where = "before its first cell"
    if 0 <= index < len(nb.cells):
        first = next((ln for ln in nb.cells[index].source.splitlines() if ln.strip()), "")
        where = f"in cell {index + 1} of {len(nb.cells)} ({first.strip()[:70]!r})"
    last = [line for line in str(error).strip().splitlines() if line.strip()][-1:]
    detail = f": {last[0]}" if last else f": {type(error).__name__}"
    return f"{path.name} failed {where}{detail}"


def make_exporter(mathjax_url: str | None = None):
    """nbconvert's HTML exporter with the lab template and this site's additions. Its pages
    load MathJax from ``mathjax_url`` (see mathjax_src), or by default from the site's own copy
    (see copy_mathjax), by an address relative to the page."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.raw_template = TEMPLATE
    exporter.mathjax_url = mathjax_src(mathjax_url) if mathjax_url else LOCAL_MATHJAX
    return exporter


def packaged_mathjax() -> Path:
    """The folder of MathJax 2.7 that the jupyter-server-mathjax package ships (``MathJax.js``,
    its configurations, extensions and fonts)."""
    try:
        folder = importlib.resources.files(MATHJAX_PACKAGE) / "static"
    except ModuleNotFoundError as error:
        raise SiteError(
            "the pages' maths needs MathJax from the jupyter-server-mathjax package, which is "
            "not installed: install the course's requirements "
            "(.venv/bin/pip install -r requirements.txt), or give --mathjax URL"
        ) from error
    path = Path(str(folder))
    if not (path / "MathJax.js").is_file():
        raise SiteError(
            f"no MathJax.js in {path}: the jupyter-server-mathjax package is incomplete; "
            "install the course's requirements again (.venv/bin/pip install --force-reinstall "
            "-r requirements.txt), or give --mathjax URL"
        )
    return path


def copy_mathjax(out: Path, source: Path | None = None) -> int:
    """Copy MathJax into ``out/mathjax/``: only the files missing there or different (by size
    or modification time) from the package's. Returns how many files it copied."""
    source = packaged_mathjax() if source is None else source
    target = out / MATHJAX_DIR
    copied = 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        dest = target / path.relative_to(source)
        have, want = (dest.stat() if dest.is_file() else None), path.stat()
        if have and have.st_size == want.st_size and have.st_mtime_ns == want.st_mtime_ns:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)  # keeps the modification time that the next build compares
        copied += 1
    return copied


def mathjax_src(value: str) -> str:
    """The script address of MathJax 2 from ``--mathjax``: a URL, or the path of a local
    ``MathJax.js`` (made a file:// URL), with MATHJAX_CONFIG added if it names no
    configuration (every full MathJax 2.7 has both files)."""
    path = Path(value).expanduser()
    url = path.resolve().as_uri() if path.is_file() else value
    return url if "?" in url else f"{url}?config={MATHJAX_CONFIG}"


def render(nb: nbformat.NotebookNode, lessons: Sequence[Lesson], index: int, exporter) -> str:
    """The HTML page of lesson ``index`` (an executed notebook), with its navigation."""
    nb.metadata["title"] = lessons[index].title
    freeze_widgets(nb)
    resources = {"gancourse_nav": nav_html(lessons, index), "gancourse_css": CSS}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def build(
    paths: Sequence[Path],
    budget: str,
    out: Path,
    timeout: int = CELL_TIMEOUT_S,
    mathjax_url: str | None = None,
    log: TextIO | None = None,
) -> list[Path]:
    """Execute and render each notebook into ``out``, one progress line each, and write the
    index. A failure stops the build with a SiteError; the pages already built stay, and the
    index lists them."""
    if budget not in BUDGETS:
        raise SiteError(f"budget {budget!r} is not one of {', '.join(BUDGETS)}")
    lessons = [read_lesson(p) for p in paths]
    log = log or sys.stdout
    if not mathjax_url:  # before any notebook runs: a missing package stops the build at once
        try:
            copied = copy_mathjax(out)
        except OSError as error:
            raise SiteError(
                f"MathJax cannot be copied into {out / MATHJAX_DIR}: {error}"
            ) from error
        if copied:
            log.write(f"MathJax: {copied} files copied into {out / MATHJAX_DIR}\n")
    exporter = make_exporter(mathjax_url)
    built: list[Path] = []
    started = time.perf_counter()
    try:
        for i, lesson in enumerate(lessons):
            log.write(f"[{i + 1}/{len(lessons)}] {lesson.path.name} ({budget}) ... ")
            log.flush()
            t0 = time.perf_counter()
            try:
                nb = execute(lesson.path, budget, timeout)
            except SiteError:
                log.write(f"failed after {time.perf_counter() - t0:.1f} s\n")
                raise
            page = out / lesson.page
            page.write_text(render(nb, lessons, i, exporter), encoding="utf-8")
            built.append(page)
            log.write(f"{time.perf_counter() - t0:.1f} s -> {page}\n")
    finally:
        (out / "index.html").write_text(index_html(lessons, out, budget), encoding="utf-8")
    total = time.perf_counter() - started
    log.write(f"{len(built)} pages in {total:.1f} s: open {out / 'index.html'}\n")
    return built


def main(argv: Sequence[str] | None = None) -> int:
    """The command: build the site, or say why not (exit status 1)."""
    args = parse_args(argv)
    try:
        build(args.notebooks, args.budget, args.out, args.timeout, args.mathjax)
    except SiteError as error:
        print(f"gancourse.site: {error}", file=sys.stderr)
        print(f"the pages built before it are in {args.out}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
