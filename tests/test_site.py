"""The static site (gancourse.site): its arguments, its navigation and widget snapshots, a
failing notebook, and one lesson built at the quick budget and opened in headless Chromium.

The browser is Debian's Chromium driven by Playwright with ``executable_path``, as in
tests/test_browser.py: Playwright never downloads a browser, and without Chromium the browser
test skips and says how to get it. The page is opened from file:// with the network cut off:
it asks the network for nothing, and its maths is typeset by the site's own copy of MathJax.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat
import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS

from gancourse import site

LESSON = "01_gan_1d_gaussians"  # the shortest lesson: about 30 s at the quick budget
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really a picture").decode()
# Resolves once MathJax has done all it was asked (its queue runs in order, after the page's
# own Typeset), with what it typeset and how.
MATHJAX_DONE = """() => new Promise(resolve => MathJax.Hub.Queue(() => resolve({
    typeset: document.querySelectorAll('.MathJax, .MathJax_CHTML, .MathJax_SVG').length,
    display: document.querySelectorAll('.MathJax_Display, .MathJax_SVG_Display').length,
    errors: document.querySelectorAll('.MathJax_Error, merror').length,
    output: MathJax.Hub.outputJax['jax/mml'][0].id,
    font: (MathJax.OutputJax['HTML-CSS'] || {}).fontInUse || null,
    stix: Array.from(document.fonts).filter(
        face => face.family.includes('STIX') && face.status === 'loaded').length,
})))"""


def _lesson(stem: str, title: str) -> site.Lesson:
    return site.Lesson(Path(f"/nowhere/{stem}.ipynb"), title)


def _notebook(path: Path, *sources: str, heading: str = "# A test lesson") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(heading)]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, path)
    return path


# --- arguments ---------------------------------------------------------------------------------


def test_all_notebooks_in_lesson_order_by_default() -> None:
    paths = site.find_notebooks([])
    assert [p.name for p in paths] == sorted(p.name for p in paths)
    assert paths[0].name == f"{LESSON}.ipynb" and len(paths) >= 7


@pytest.mark.parametrize(
    "name", [LESSON, f"{LESSON}.ipynb", "01", f"notebooks/{LESSON}.ipynb", str(site.NOTEBOOKS)]
)
def test_a_notebook_is_named_by_stem_file_number_or_path(name: str) -> None:
    if name == str(site.NOTEBOOKS):
        name = str(site.NOTEBOOKS / f"{LESSON}.ipynb")  # an absolute path
    assert site.find_notebooks([name]) == [site.NOTEBOOKS / f"{LESSON}.ipynb"]


def test_named_notebooks_come_in_lesson_order_once() -> None:
    paths = site.find_notebooks(["07", "01", f"{LESSON}.ipynb"])
    assert [p.name[:2] for p in paths] == ["01", "07"]


@pytest.mark.parametrize("name", ["99", "no_such_lesson", "0", "README.md", "notebooks"])
def test_an_unknown_notebook_is_refused_with_the_list(name: str) -> None:
    with pytest.raises(site.SiteError, match=r"no notebook .* the notebooks are .*01_gan"):
        site.find_notebooks([name])


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "page.html"
    file.write_text("")
    with pytest.raises(site.SiteError, match="is a file"):
        site.check_out(file)


def test_out_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(site.SiteError, match="cannot be written"):
        site.check_out(blocker / "site")  # a folder under a file


def test_out_is_made(tmp_path: Path) -> None:
    out = site.check_out(tmp_path / "a" / "site")
    assert out.is_dir() and list(out.iterdir()) == []  # the write check leaves nothing


def test_the_command_line_stops_before_running_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        site.main(["--budget", "quick", "--out", str(tmp_path), "99_nothing"])
    assert stop.value.code == 2
    assert "no notebook '99_nothing'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        site.main(["--budget", "huge", "--out", str(tmp_path)])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit):
        site.main(["--out", str(tmp_path / "f"), "01"])
    assert "is a file" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.html"))


def test_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site, "DEFAULT_OUT", tmp_path / "site")  # not the repository's site/
    args = site.parse_args([])
    assert args.budget == "full" and args.out == tmp_path / "site" and args.out.is_dir()
    assert args.notebooks == site.course_notebooks()


def test_mathjax_from_a_local_file_or_a_url(tmp_path: Path) -> None:
    local = tmp_path / "MathJax.js"
    local.write_text("")
    config = "?config=TeX-AMS-MML_HTMLorMML-full,Safe"
    assert site.mathjax_src(str(local)) == f"{local.as_uri()}{config}"
    assert site.mathjax_src("mathjax/MathJax.js?config=X") == "mathjax/MathJax.js?config=X"
    assert site.mathjax_src("https://example.org/MathJax.js") == (
        f"https://example.org/MathJax.js{config}"
    )


def test_the_packaged_mathjax_has_the_configurations_the_pages_ask_for() -> None:
    folder = site.packaged_mathjax()
    configs = site.LOCAL_MATHJAX.split("?config=", 1)[1].split(",")
    assert site.LOCAL_MATHJAX.startswith(f"{site.MATHJAX_DIR}/MathJax.js?")
    assert (folder / "MathJax.js").is_file()
    for config in configs:
        assert (folder / "config" / f"{config}.js").is_file(), config
    assert (folder / "jax" / "output" / "HTML-CSS").is_dir() and (folder / "fonts").is_dir()


def test_mathjax_is_copied_into_the_site_once(tmp_path: Path) -> None:
    source = tmp_path / "static"
    (source / "config").mkdir(parents=True)
    (source / "MathJax.js").write_text("mathjax")
    (source / "config" / "Safe.js").write_text("safe")
    out = tmp_path / "site"
    assert site.copy_mathjax(out, source) == 2
    assert (out / "mathjax" / "config" / "Safe.js").read_text() == "safe"
    assert site.copy_mathjax(out, source) == 0  # up to date: nothing copied
    (out / "mathjax" / "config" / "Safe.js").unlink()
    (source / "MathJax.js").write_text("mathjax, a newer release")
    assert site.copy_mathjax(out, source) == 2  # missing or out of date: copied again
    assert (out / "mathjax" / "MathJax.js").read_text() == "mathjax, a newer release"


def test_without_the_mathjax_package_the_build_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[Path] = []

    def execute(path: Path, budget: str, timeout: int) -> nbformat.NotebookNode:
        ran.append(path)  # no kernel: the notebook as it is
        return nbformat.read(path, as_version=4)

    monkeypatch.setattr(site, "execute", execute)
    monkeypatch.setattr(site, "MATHJAX_PACKAGE", "no_such_mathjax_package")
    notebook = _notebook(tmp_path / "01_a.ipynb", "print('never runs')")
    out = site.check_out(tmp_path / "site")
    with pytest.raises(site.SiteError, match="install the course's requirements"):
        site.build([notebook], "quick", out, log=io.StringIO())
    assert not ran and list(out.iterdir()) == []  # it stops before running anything
    # an address of MathJax given on the command line needs no copy
    site.build([notebook], "quick", out, mathjax_url="https://example.org/m.js", log=io.StringIO())
    page = (out / "01_a.html").read_text()
    assert ran == [notebook] and not (out / "mathjax").exists()
    assert '<script src="https://example.org/m.js?config=TeX-AMS-MML_HTMLorMML-full,Safe">' in page


# --- navigation and widgets --------------------------------------------------------------------


def test_the_title_is_the_first_heading() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("# a comment, not a heading"),
        nbformat.v4.new_markdown_cell("Some text\n\n## Lesson 9: *titles*  \nmore"),
    ]
    assert site.lesson_title(nb, "fallback") == "Lesson 9: *titles*"
    assert site.lesson_title(nbformat.v4.new_notebook(), "fallback") == "fallback"


def test_every_notebook_has_a_lesson_title() -> None:
    for path in site.course_notebooks():
        assert site.read_lesson(path).title.startswith("Lesson "), path.name


def test_previous_index_and_next_links() -> None:
    lessons = [_lesson("01_a", "A"), _lesson("02_b", "B <&>"), _lesson("03_c", "C")]
    first, middle, last = (site.nav_html(lessons, i) for i in range(3))
    assert 'href="02_b.html"' in first and "gancourse-none" in first  # no previous
    assert 'href="01_a.html"' in middle and 'href="03_c.html"' in middle
    assert 'href="02_b.html" title="B &lt;&amp;&gt;"' in last and "next &rarr;</span>" in last
    assert all('href="index.html"' in nav for nav in (first, middle, last))


def test_the_index_links_the_pages_that_exist(tmp_path: Path) -> None:
    lessons = [_lesson("01_a", "A & a"), _lesson("02_b", "B")]
    (tmp_path / "01_a.html").write_text("")
    page = site.index_html(lessons, tmp_path, "quick")
    assert '<a href="01_a.html">A &amp; a</a>' in page
    assert "<li>B <span" in page and "not built" in page and "quick budget" in page


def _widget_notebook() -> nbformat.NotebookNode:
    def model(name: str, **state: object) -> dict:
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    image = model("ImageModel", format="png")
    image["buffers"] = [{"path": ["value"], "encoding": "base64", "data": PNG}]
    state = {
        "box": model("VBoxModel", children=["IPY_MODEL_html", "IPY_MODEL_row", "IPY_MODEL_img"]),
        "row": model("HBoxModel", children=["IPY_MODEL_pick", "IPY_MODEL_go", "IPY_MODEL_out"]),
        "html": model("HTMLModel", value="<b>panel</b>"),
        "pick": model("DropdownModel", description="game", _options_labels=["a", "b"], index=1),
        "go": model("ButtonModel", description="Step"),
        "out": model("OutputModel", outputs=[{"output_type": "stream", "text": "said <hi>"}]),
        "img": image,
    }
    nb = nbformat.v4.new_notebook()
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    output = nbformat.v4.new_output(
        "display_data", data={site.WIDGET_VIEW: view, "text/plain": "VBox(...)"}
    )
    nb.cells = [nbformat.v4.new_code_cell("panel.widget", outputs=[output])]
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": state, "version_major": 2}}
    return nb


def test_a_widget_becomes_a_snapshot_of_its_last_state() -> None:
    nb = _widget_notebook()
    assert site.freeze_widgets(nb) == 1
    assert "widgets" not in nb.metadata  # no widget manager for the page to load
    data = nb.cells[0].outputs[0].data
    assert set(data) == {"text/html", "text/plain"}
    snapshot = data["text/html"]
    assert f'src="data:image/png;base64,{PNG}"' in snapshot
    assert "<b>panel</b>" in snapshot and "game: b" in snapshot
    assert "<button disabled>Step</button>" in snapshot and "said &lt;hi&gt;" in snapshot
    assert snapshot.index("panel") < snapshot.index("game: b") < snapshot.index("data:image")


def test_a_widget_without_saved_state_shows_its_text() -> None:
    nb = _widget_notebook()
    del nb.metadata["widgets"]
    site.freeze_widgets(nb)
    assert "<pre>VBox(...)</pre>" in nb.cells[0].outputs[0].data["text/html"]


def test_the_page_has_navigation_and_no_require_js() -> None:
    nb = _widget_notebook()
    lessons = [_lesson("01_a", "A"), _lesson("02_b", "B")]
    page = site.render(nb, lessons, 0, site.make_exporter())
    assert page.count('class="gancourse-nav"') == 2  # above and below the lesson
    assert "<title>A</title>" in page and "require.js" not in page
    assert "embed-amd.js" not in page and "ajax/libs/mathjax" not in page  # no MathJax CDN
    assert f'<script src="{site.LOCAL_MATHJAX}">' in page  # the site's copy, by a relative address
    assert 'webFont: "STIX-Web"' in page  # the fonts jupyter-server-mathjax ships


# --- executing ---------------------------------------------------------------------------------


def test_a_failing_notebook_is_named_and_the_pages_before_it_stay(tmp_path: Path) -> None:
    good = _notebook(tmp_path / "01_good.ipynb", "print('fine')", heading="# Good")
    bad = _notebook(tmp_path / "02_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    out = tmp_path / "site"
    out.mkdir()
    log = io.StringIO()
    with pytest.raises(site.SiteError) as failure:
        site.build([good, bad], "quick", out, timeout=60, log=log)
    message = str(failure.value)
    assert "02_bad.ipynb" in message and "cell 3 of 3" in message
    assert "raise ValueError" in message and "broken on purpose" in message
    assert (out / "01_good.html").is_file() and not (out / "02_bad.html").exists()
    index = (out / "index.html").read_text()
    assert '<a href="01_good.html">Good</a>' in index and "not built" in index
    assert "[1/2] 01_good.ipynb (quick) ... " in log.getvalue()
    assert "[2/2] 02_bad.ipynb (quick) ... failed after" in log.getvalue()
    assert not nbformat.read(bad, as_version=4).cells[1].outputs  # the notebook is untouched


@pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=(
        f"no Chromium at {CHROMIUM}: the page test needs Debian's chromium package "
        f"(apt-get install chromium, as root), or set GANCOURSE_CHROMIUM to a Chromium binary"
    ),
)
def test_a_lesson_built_at_the_quick_budget_shows_its_figures_in_chromium(
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    notebook = site.NOTEBOOKS / f"{LESSON}.ipynb"
    before = notebook.read_bytes()
    log = io.StringIO()
    site.build([notebook], "quick", tmp_path, log=log)
    assert notebook.read_bytes() == before, "the committed notebook must not change"
    title = site.read_lesson(notebook).title
    assert f"[1/1] {LESSON}.ipynb (quick) ... " in log.getvalue()

    errors: list[str] = []
    asked: list[str] = []

    def offline(route) -> None:
        asked.append(route.request.url)
        route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.route("http*://**", offline)  # no network: the page must stand on its own
            page.goto((tmp_path / f"{LESSON}.html").as_uri(), wait_until="load")
            page.wait_for_function("window.MathJax && MathJax.Hub", timeout=30_000)
            maths = page.evaluate(MATHJAX_DONE)
            markdown = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown")
            rendered = markdown.all_inner_texts()
            displays = markdown.evaluate_all(
                "cells => cells.filter(c => c.querySelector('.MathJax_Display')).length"
            )
            figures = page.evaluate(
                "Array.from(document.querySelectorAll('.jp-OutputArea-output img'))"
                ".map(img => img.complete ? img.naturalWidth : 0)"
            )
            heading = page.locator("h1").first.inner_text()
            navigation = page.locator("nav.gancourse-nav a").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            )
            # nbconvert shows errors and warnings as stderr outputs
            stderr = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            ).all_inner_texts()
            traceback = "Traceback" in page.locator("main").inner_text()
            index = browser.new_page()
            index.goto((tmp_path / "index.html").as_uri())
            index_links = index.locator("li a").all_inner_texts()
        finally:
            browser.close()

    assert page_title_ok(heading, title), (heading, title)
    assert figures and all(width > 0 for width in figures), figures
    assert navigation == ["index.html", "index.html"], navigation  # a lesson alone: no neighbours
    assert not traceback, "the page shows a traceback"
    assert not [text for text in stderr if "Error" in text or "Traceback" in text], stderr
    assert not errors, errors
    assert asked == [], asked  # not even MathJax: the site has its own copy
    assert (tmp_path / "mathjax" / "MathJax.js").is_file()
    # the maths is typeset, in MathJax's STIX-Web fonts, and no TeX source is left showing
    source = nbformat.read(notebook, as_version=4).cells
    display_cells = [c for c in source if c.cell_type == "markdown" and "$$" in c.source]
    assert display_cells, "the lesson has no display maths to check"
    assert maths["typeset"] > 0 and maths["errors"] == 0, maths
    assert maths["display"] > 0 and displays >= 1, (maths, displays)
    assert maths["output"] != "HTML-CSS" or maths["font"] == "STIX-Web", maths
    assert maths["stix"] > 0, maths  # the web fonts came from the site's copy
    assert not [text for text in rendered if "$$" in text], "raw $$ on the page"
    assert index_links == [title]


def page_title_ok(heading: str, title: str) -> bool:
    """The page's first heading is the lesson's title (nbconvert adds an anchor mark)."""
    return heading.replace("¶", "").strip() == title


def test_a_kernel_that_dies_is_named_with_its_cell(tmp_path: Path) -> None:
    dies = _notebook(
        tmp_path / "01_dies.ipynb",
        "import os, sys",
        "sys.stderr.write('bye\\n'); sys.stderr.flush(); os._exit(3)",
    )
    with pytest.raises(site.SiteError, match=r"01_dies.ipynb failed in cell 3 of 3 .*os._exit"):
        site.build([dies], "quick", tmp_path, timeout=60, log=io.StringIO())
