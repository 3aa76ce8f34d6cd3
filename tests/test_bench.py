import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from gancourse import bench, shipped
from gancourse.nets import sample_generator


def test_gaussian1d_quick_writes_result_and_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    assert (
        bench.main(
            [
                "gaussian1d",
                "--budget",
                "quick",
                "--out",
                str(tmp_path),
                "--seed",
                "1",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "result.json").read_text())
    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (10_000, 1)
    for key in (
        "name",
        "budget",
        "device",
        "seed",
        "steps",
        "seconds",
        "steps_per_second",
        "torch",
    ):
        assert key in result
    assert result["budget"] == "quick" and result["seed"] == 1 and result["steps"] == 1000
    assert (result["target_mean"], result["target_std"]) == (2.0, 0.5)
    assert abs(samples.mean() - 2.0) < 0.15 and abs(samples.std() / 0.5 - 1) < 0.2


def test_bench_passes_its_budget_down_and_leaves_the_environment_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_BUDGET", "full")
    seen = []

    def tiny(device, seed, budget):
        seen.append(budget)
        return bench.Outcome(np.zeros((3, 1)), {}, 1, 0.1)

    monkeypatch.setitem(bench.BENCHMARKS, "tiny", (tiny, "a test"))
    bench.run("tiny", "quick", tmp_path)
    assert seen == ["quick"] and os.environ["GANCOURSE_BUDGET"] == "full"
    with pytest.raises(ValueError, match="unknown budget 'medium'"):
        bench.run("tiny", "medium", tmp_path)


def test_list_names_the_benchmarks(capsys):
    assert bench.main(["--list"]) == 0
    assert "gaussian1d" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope", "--out", "x"], "unknown benchmark 'nope'"),
        (["gaussian1d", "--budget", "medium", "--out", "x"], "invalid choice: 'medium'"),
        (["gaussian1d"], "give a benchmark NAME and --out DIR"),
    ],
)
def test_bad_command_lines_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "gancourse.bench", "--list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "gaussian1d" in done.stdout


def test_dcgan_quick_writes_digits_and_both_recipes_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    # a few steps keep the test fast; the notebook and the full budget train for real
    monkeypatch.setattr(bench.dcgan, "IMPROVED", replace(bench.IMPROVED, quick_steps=16))
    monkeypatch.setattr(bench.dcgan, "PLAIN", replace(bench.PLAIN, quick_steps=16))
    result = bench.run("dcgan", "quick", tmp_path)
    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (10_000, 1, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= -1 and samples.max() <= 1
    assert result["steps"] == 16 and result["improved"]["steps"] == 16
    assert result["plain"]["train_seconds"] >= 0.9 * result["improved"]["train_seconds"] or (
        result["plain"]["steps"] == 160  # or it ran out of steps first
    )
    assert result["frechet_ratio"] == result["improved"]["frechet_ratio"] > 0
    assert len(result["improved"]["class_histogram"]) == 10
    feeding = result["feeding"]
    assert feeding["tensor_on_device_steps_per_second"] > 0
    assert feeding["dataloader_steps_per_second"] > 0
    assert json.loads((tmp_path / "result.json").read_text())["name"] == "dcgan"


def test_dcgan_levers_quick_measures_every_lever(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    levers = list(bench.recipes.LEVERS.items())
    improved = next(lever for lever in levers if lever[1] is bench.dcgan.IMPROVED)
    monkeypatch.setattr(bench.recipes, "LEVERS", dict([levers[0], improved]))
    result = bench.run("dcgan-levers", "quick", tmp_path)
    rows = result["levers"]
    assert [row["lever"] for row in rows] == [levers[0][0], improved[0]]
    assert all(row["steps"] >= 1 and row["frechet_ratio"] > 0 for row in rows)
    assert "frechet_ratio_weight_average" in rows[1]  # measured on IMPROVED's row
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 1, 28, 28)


def test_dcgan_decay_quick_pairs_the_two_schedules_over_three_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    result = bench.run("dcgan-decay", "quick", tmp_path, seed=4)
    runs = result["runs"]
    assert [(r["seed"], r["lever"]) for r in runs] == [
        (s, label) for s in (4, 5, 6) for label in ("falling to 0", "constant")
    ]
    assert all(r["steps"] >= 1 and r["frechet_ratio"] > 0 for r in runs)
    falling = [r["frechet_ratio"] for r in runs if r["lever"] == "falling to 0"]
    assert result["frechet_ratio_falling_to_0"]["mean"] == pytest.approx(np.mean(falling), abs=0.01)
    assert len(result["constant_minus_falling"]) == 3
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 1, 28, 28)


def test_ring_quick_writes_points_and_mode_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    argv = ["ring", "--budget", "quick", "--out", str(tmp_path), "--threads", "1"]
    assert bench.main(argv) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (10_000, 2)
    assert result["samples_measured"] == 2500 and result["modes"] == 8
    assert 0 <= result["modes_captured"] <= 8
    assert 0 <= result["reverse_kl"] <= np.log(8) + 1e-9
    assert result["steps"] == 1500 and result["recipe"]["d_kind"] == "plain"


@pytest.mark.parametrize("name", ["grid-minibatch", "ring-pacgan2"])
def test_lesson5_benchmarks_train_their_kind_on_their_target(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    target, kind = name.split("-")
    recipe = replace(bench.toy2d.lesson5(target, kind), quick_steps=3)  # the wiring, not the GAN
    monkeypatch.setitem(bench.BENCHMARKS, name, (bench._toy2d(target, recipe), "3 steps"))
    result = bench.run(name, "quick", tmp_path)
    assert result["target"] == target and result["recipe"]["d_kind"] == kind
    assert result["recipe"] == recipe.as_dict() and result["steps"] == 3
    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (10_000, 2)
    # the trained generator, saved beside its samples, draws them again
    generator = shipped.read_generator(tmp_path / "generator.pt")
    again = sample_generator(generator, 10_000, seed=result["seed"] + 1).numpy()
    np.testing.assert_allclose(again, samples, atol=1e-6)
    assert {"ring", "grid", "ring-minibatch", "grid-pacgan2"} <= set(bench.BENCHMARKS)


@pytest.mark.parametrize("name", ["wgan-clip-grid", "wgan-gp-grid"])
def test_wgan_grid_benchmarks_train_their_setup(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    game = "wgan_clip" if "clip" in name else "wgan_gp"
    recipe = replace(bench.recipes.RECIPES[f"{game}_2d"], quick_steps=3)  # the wiring only
    monkeypatch.setitem(bench.BENCHMARKS, name, (bench._toy2d("grid", recipe), "3 steps"))
    result = bench.run(name, "quick", tmp_path)
    assert result["target"] == "grid" and result["recipe"]["game"] == game
    assert result["steps"] == 3 and np.isfinite(result["critic_w1_estimate"])
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 2)


def test_wgan_gp_mnist_quick_pairs_the_critics_estimates_with_the_frechet_ratio(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(
        bench.wgan, "WGAN_GP", replace(bench.WGAN_GP, quick_steps=16)
    )  # the wiring: 16 steps, measured every two, with 2 refining steps each
    refine = bench.wgan.refined_critic_estimate
    monkeypatch.setattr(
        bench.wgan, "refined_critic_estimate", lambda *args: refine(*args, steps=2, probe=64)
    )
    result = bench.run("wgan-gp-mnist", "quick", tmp_path)
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 1, 28, 28)
    assert len(result["running_estimates"]) == 8
    assert all("refined_estimate" in p for p in result["wgan_gp"]["curve"])
    assert -1 <= result["rank_correlation_refined_estimate_frechet_ratio"] <= 1
    assert result["frechet_ratio"] > 0 and result["steps"] == 16


def test_steps_times_every_lessons_training_step(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    result = bench.run("steps", "quick", tmp_path)
    assert list(result["settings"]) == list(bench.STEP_SETTINGS)
    assert all(row["steps_per_second"] > 0 for row in result["settings"].values())
    assert np.load(tmp_path / "samples.npy").shape == (10_000, 1, 28, 28)


def test_a_seed_offset_is_recorded_and_changes_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    first = bench.run("gaussian1d", "quick", tmp_path / "a", seed=1)
    monkeypatch.setenv("GANCOURSE_SEED", "1")
    shifted = bench.run("gaussian1d", "quick", tmp_path / "b", seed=0)
    assert (first["seed"], first["seed_offset"]) == (1, 0)
    assert (shifted["seed"], shifted["seed_offset"]) == (0, 1)
    assert np.array_equal(
        np.load(tmp_path / "a" / "samples.npy"), np.load(tmp_path / "b" / "samples.npy")
    )
