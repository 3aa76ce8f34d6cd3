"""The trained generators shipped with the course (gancourse/shipped.py): present, unchanged
(their SHA-256), loadable, and scoring the figures kept beside them."""

import json
import shutil
from dataclasses import replace

import matplotlib
import pytest
from matplotlib.colors import to_rgba

from gancourse import bench, config, plots, recipes, shipped

SHIPPED = {
    "cgan": 8,
    "dcgan-improved": 3,
    "grid-minibatch": 5,
    "infogan": 8,
    "wgan-gp-mnist": 6,
}  # name -> lesson


def test_every_lesson_named_in_the_issue_has_its_shipped_generator():
    assert set(shipped.manifest()) == set(SHIPPED)
    for name, entry in shipped.manifest().items():
        assert entry["budget"] == "full" and entry["command"].startswith(
            f"python -m gancourse.bench {entry['benchmark']} --budget full --seed"
        ), name


def test_every_shipped_file_matches_its_checksum():
    assert shipped.check() == sorted(SHIPPED)


def test_a_shipped_generator_is_small():
    sizes = {name: (shipped.FOLDER / entry["file"]).stat().st_size
             for name, entry in shipped.manifest().items()}  # fmt: skip
    assert max(sizes.values()) < 4_000_000, sizes


def test_the_shipped_grid_generator_scores_its_figures_again(capsys, monkeypatch):
    monkeypatch.setenv("GANCOURSE_SEED", "3")  # other seeds elsewhere: the benchmark's noise here
    generator = shipped.load("grid-minibatch", "cpu")
    assert "trained by `python -m gancourse.bench grid-minibatch --budget full" in (
        capsys.readouterr().out
    )
    rows = shipped.measure_again("grid-minibatch", generator)
    assert set(rows) == {"modes_captured", "high_quality"}
    assert all(row["now"] == row["then"] for row in rows.values()), rows  # the same samples


def test_a_changed_or_missing_file_is_refused_with_what_to_do(tmp_path, monkeypatch):
    folder = tmp_path / "shipped"
    shutil.copytree(shipped.FOLDER, folder)
    monkeypatch.setattr(shipped, "FOLDER", folder)
    monkeypatch.setattr(shipped, "MANIFEST", folder / "models.json")
    path = folder / "grid-minibatch.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(config.DamagedFile, match="does not match its checksum.*git checkout"):
        shipped.load("grid-minibatch", "cpu")
    path.unlink()
    with pytest.raises(FileNotFoundError, match="is missing.*train it yourself: python -m"):
        shipped.load("grid-minibatch", "cpu")
    with pytest.raises(ValueError, match="no shipped generator is called 'best': choose one of"):
        shipped.load("best")


def test_a_benchmarks_generator_is_shipped_with_its_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    recipe = replace(bench.toy2d.lesson5("ring", "minibatch"), quick_steps=50)
    monkeypatch.setitem(bench.BENCHMARKS, "ring-minibatch", (bench._toy2d("ring", recipe), ""))
    result = bench.run("ring-minibatch", "quick", tmp_path / "out", seed=3)
    folder = tmp_path / "shipped"
    monkeypatch.setattr(shipped, "FOLDER", folder)
    monkeypatch.setattr(shipped, "MANIFEST", folder / "models.json")
    entry = shipped.add("ring-test", tmp_path / "out")
    assert (
        entry["command"]
        == "python -m gancourse.bench ring-minibatch --budget quick --seed 3 --out DIR"
    )
    assert entry["figures"]["modes_captured"] == result["modes_captured"]
    assert json.loads((folder / "models.json").read_text())["ring-test"] == entry
    rows = shipped.measure_again("ring-test", shipped.load("ring-test", "cpu"))
    assert all(row["now"] == row["then"] for row in rows.values()), rows  # same machine: exact


def test_adding_from_a_folder_without_a_generator_says_which_benchmark_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no result.json in .*python -m gancourse.bench"):
        shipped.add("x", tmp_path)


def test_the_shipped_lever_figures_are_the_readme_table_and_the_package_levers():
    levers = shipped.benchmark_figures("dcgan-levers")["levers"]
    assert [row["lever"] for row in levers] == list(recipes.LEVERS)
    assert [row["recipe"] for row in levers] == [r.name for r in recipes.LEVERS.values()]
    readme = (config.REPOSITORY / "README.md").read_text()
    for row in levers:
        line = (f"| {row['lever']} | {row['steps']:,} | {row['frechet_ratio']:.2f} | "
                f"{row['inception_score']:.2f} | {row['smallest_class']:.1%} |")  # fmt: skip
        assert line in readme, line


def test_the_lever_chart_draws_every_lever_and_marks_the_notebooks_rows():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levers = shipped.benchmark_figures("dcgan-levers")["levers"]
    ax = plots.lever_chart(levers, marked={"plain", "improved"})
    bars = ax.patches
    assert len(bars) == len(levers)
    marked = [bar.get_width() for bar in bars if bar.get_facecolor() == to_rgba("tab:orange")]
    ours = [row["frechet_ratio"] for row in levers if row["recipe"] in ("plain", "improved")]
    assert marked == ours
    plt.close("all")


def test_a_runs_figures_ship_without_the_recipes_spelled_out(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped, "FOLDER", tmp_path / "shipped")
    (tmp_path / "shipped").mkdir()
    result = {"name": "dcgan-levers", "budget": "full", "seed": 2, "date": "2026-11-30",
              "levers": [{"lever": "a", "recipe": {"width": 24}}]}  # fmt: skip
    (tmp_path / "result.json").write_text(json.dumps(result))
    shipped.add_figures(tmp_path)
    assert shipped.benchmark_figures("dcgan-levers") == {
        "name": "dcgan-levers",
        "command": "python -m gancourse.bench dcgan-levers --budget full --seed 2 --out DIR",
        "date": "2026-11-30",
        "budget": "full",
        "seed": 2,
        "levers": [{"lever": "a"}],
    }
    with pytest.raises(ValueError, match="no shipped benchmark figures called 'models': choose"):
        shipped.benchmark_figures("models")


def test_runs_on_several_seeds_ship_together(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped, "FOLDER", tmp_path / "shipped")
    (tmp_path / "shipped").mkdir()
    for seed in (0, 1):
        (tmp_path / f"s{seed}").mkdir()
        result = {"name": "semi-supervised", "budget": "full", "seed": seed, "date": "2026-11-30",
                  "error": 0.1 * seed, "recipes": {"x": {"width": 1}}}  # fmt: skip
        (tmp_path / f"s{seed}" / "result.json").write_text(json.dumps(result))
    assert shipped.main(["add-figures", str(tmp_path / "s0"), str(tmp_path / "s1")]) == 0
    kept = shipped.benchmark_figures("semi-supervised")
    assert kept["seeds"] == [0, 1] and [run["error"] for run in kept["runs"]] == [0.0, 0.1]
    assert "recipes" not in kept["runs"][0]
    assert kept["runs"][1]["command"].endswith("--seed 1 --out DIR")
