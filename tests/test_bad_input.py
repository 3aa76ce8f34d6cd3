"""Bad and unusual input, row by row of shared/BAD-INPUT-REPORT.md (113 rows, about 150
inputs, tried as a careless or adversarial learner would): each must be refused at the
package's boundary with a message that says what was wrong and what to do, or (where the input
is fine) give the right answer. A test's name starts with the rows it covers.

The report was written before the package was restructured (issue 19): its ``toy2d.Setup``,
``dcgan.Recipe`` and ``toy1d.train_lesson1_gan`` are ``recipes.Recipe`` and ``recipes.build``
now, ``TrainingRecord`` is ``record.Recorder``, and ``train_gan`` has no ``log_every`` any
more; the rows are tested through what replaced them.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import bench, config, data, dcgan, losses, metrics, recipes, toy2d
from gancourse.checkpoint import Checkpoint, load_checkpoint
from gancourse.config import DamagedFile
from gancourse.data import Digits, Gaussian1D, write_idx
from gancourse.evaluator import DigitClassifier, Evaluator
from gancourse.games import Players
from gancourse.nets import mlp_discriminator, mlp_generator
from gancourse.playground import Playground
from gancourse.recipes import Recipe
from gancourse.record import Measurement, Recorder
from gancourse.train import TrainingDiverged, train_gan

TARGET = Gaussian1D(2.0, 0.5)
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search", "--"]  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread_and_the_data_folder(tmp_path, monkeypatch):
    """One CPU thread (tiny networks), restored afterwards; GANCOURSE_DATA in the test's folder,
    so nothing is written into the checkout."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("GANCOURSE_SEED", raising=False)
    yield
    torch.set_num_threads(threads)


def players(seed: int = 0, lr: float = 1e-3, latent: int = 1, out: int = 1):
    """Lesson 1's players, small: G latent -> 16 -> 16 -> out (tanh), D 1 -> 16 -> 16 -> 1."""
    config.seed_everything(seed)
    g = mlp_generator(latent, out, (16, 16), activation="tanh")
    d = mlp_discriminator(1, (16, 16))
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    return g, d, opt_g, opt_d


def train(g, d, opt_g, opt_d, steps=3, checkpoint=None, **kwargs):
    kwargs.setdefault("batch_size", 16)
    return train_gan(
        Players(g, d, opt_g, opt_d),
        kwargs.pop("game", "non_saturating"),
        sample_data=kwargs.pop("sample_data", TARGET.sample),
        sample_noise=kwargs.pop("sample_noise", lambda m: torch.randn(m, 1)),
        steps=steps,
        progress=False,
        checkpoint=checkpoint,
        **kwargs,
    )


def no_dac(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``code`` in Python without root's power to write anywhere (as the report did), so a
    chmod 555 folder is read-only even for root."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a read-only folder")
        command = NO_DAC + command
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


# --- environment variables --------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [("Full", "full"), ("", "full"), (" quick ", "quick")])
def test_rows_01_03_budget_variable_is_read_loosely(monkeypatch, value, expected):
    monkeypatch.setenv("GANCOURSE_BUDGET", value)
    assert config.budget() == expected


def test_row_02_an_unknown_budget_is_refused_before_any_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GANCOURSE_BUDGET", "fast")
    with pytest.raises(ValueError, match="'fast' is not a budget: set it to 'quick'"):
        config.setup()
    monkeypatch.setattr(bench, "run", lambda *args: pytest.fail("must not train"))
    with pytest.raises(SystemExit):
        bench.main(["gaussian1d", "--out", str(tmp_path / "out")])
    assert "'fast' is not a budget" in capsys.readouterr().err


def test_row_04_the_budget_flag_wins_over_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("GANCOURSE_BUDGET", "fast")
    asked = []
    monkeypatch.setattr(bench, "run", lambda name, budget, *rest: asked.append(budget) or {})
    assert bench.main(["gaussian1d", "--budget", "quick", "--out", str(tmp_path / "o")]) == 0
    assert asked == ["quick"]


@pytest.mark.parametrize("value", ["gpu", "CUDA:0", "cuda:1", "tpu"])
def test_rows_05_09_a_device_that_is_no_device_is_named(monkeypatch, value):
    monkeypatch.setenv("GANCOURSE_DEVICE", value)
    with pytest.raises(ValueError, match=f"'{value}' is not a device: choose one of cuda, mps"):
        config.setup()


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_rows_06_07_a_device_this_machine_lacks_is_refused_before_training(
    monkeypatch, tmp_path, capsys, name
):
    if config._available(name):
        pytest.skip(f"this machine has {name}")
    monkeypatch.setenv("GANCOURSE_DEVICE", name)
    with pytest.raises(ValueError, match=f"this machine has no {name} device.*set it to auto"):
        config.setup()
    monkeypatch.setattr(bench, "run", lambda *args: pytest.fail("must not train"))
    with pytest.raises(SystemExit):
        bench.main(["gaussian1d", "--budget", "quick", "--out", str(tmp_path / "o")])
    assert f"no {name} device" in capsys.readouterr().err


def test_row_08_device_variable_is_stripped(monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu ")
    assert config.device() == torch.device("cpu")


def test_row_10_a_data_folder_that_is_a_file_is_named(monkeypatch, tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("")
    monkeypatch.setenv("GANCOURSE_DATA", str(a_file))
    with pytest.raises(ValueError, match=r"GANCOURSE_DATA=.*afile.* is a file, not a folder"):
        config.data_dir()
    with pytest.raises(ValueError, match="GANCOURSE_DATA"):
        data.load_mnist(download=False)
    monkeypatch.setenv("GANCOURSE_DATA", str(a_file / "below"))
    with pytest.raises(ValueError, match="cannot be written.*folder you can write"):
        config.data_dir()


@pytest.mark.parametrize("below", ["", "sub/dir"], ids=["row 11: read-only", "row 13: under it"])
def test_rows_11_13_a_read_only_data_folder_is_named_before_any_work(tmp_path, below):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        done = no_dac(
            "from gancourse import data; data.load_mnist(download=False)",
            {"GANCOURSE_DATA": str(read_only / below)},
        )
    finally:
        read_only.chmod(0o755)
    assert done.returncode != 0
    assert "cannot be written (Permission denied" in done.stderr
    assert "point GANCOURSE_DATA at a folder you can write" in done.stderr
    assert "MNIST:" not in done.stdout  # refused before loading, let alone training


def test_row_12_a_missing_data_folder_is_made(monkeypatch, tmp_path):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "nested" / "a" / "b"))
    assert config.data_dir().is_dir()


def test_row_14_a_quoted_tilde_is_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANCOURSE_DATA", "~/gcdata")
    monkeypatch.chdir(tmp_path)
    assert config.data_dir() == tmp_path / "home" / "gcdata"
    assert not (tmp_path / "~").exists()


def test_rows_15_16_a_relative_or_blank_data_folder_is_taken_from_the_repository(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(config, "REPOSITORY", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)  # notebooks run in notebooks/, the bench in the root: one folder
    monkeypatch.setenv("GANCOURSE_DATA", "relative/d")
    assert config.data_dir() == tmp_path / "repo" / "relative" / "d"
    monkeypatch.setenv("GANCOURSE_DATA", "   ")
    assert config.data_dir() == tmp_path / "repo" / "data"


# --- the bench's command line -------------------------------------------------------------------
@pytest.mark.parametrize(
    "arguments, message",
    [
        (["gaussian2d", "--budget", "quick"], "unknown benchmark 'gaussian2d': choose one of"),
        (["gaussian1d", "--budget", "Quick"], "invalid choice: 'Quick'"),
        (["gaussian1d", "--seed", "-1"], r"--seed must be a whole number from 0 to 2\*\*32 - 1"),
        (["gaussian1d", "--seed", "abc"], "invalid int value: 'abc'"),
        (
            ["gaussian1d", "--seed", "4294967296"],
            r"--seed must be a whole number from 0 to 2\*\*32",
        ),
        (["gaussian1d", "--seed", "99999999999999999999999"], r"from 0 to 2\*\*32 - 1"),
        (["gaussian1d", "--threads", "0"], "--threads must be a positive integer, got 0"),
        (["gaussian1d", "--threads", "-2"], "--threads must be a positive integer, got -2"),
        (["gaussian1d", "--device", "tpu"], "invalid choice: 'tpu'"),
    ],
    ids=[
        "row 17",
        "row 18",
        "row 19",
        "row 20",
        "row 21",
        "row 21 huge",
        "row 22",
        "row 22b",
        "row 24",
    ],
)
def test_rows_17_24_bench_arguments_are_checked_before_training(
    monkeypatch, tmp_path, capsys, arguments, message
):
    monkeypatch.setattr(bench, "run", lambda *args: pytest.fail("must not train"))
    with pytest.raises(SystemExit) as stopped:
        bench.main([*arguments, "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_row_21_a_seed_beyond_numpys_range_is_refused_by_setup():
    with pytest.raises(ValueError, match=r"seed must be a whole number from 0 to 2\*\*32 - 1"):
        config.setup(seed=2**40)


def test_row_21_a_seed_plus_offset_beyond_numpys_range_is_refused(monkeypatch):
    monkeypatch.setenv("GANCOURSE_SEED", "10")
    with pytest.raises(ValueError, match=r"plus GANCOURSE_SEED 10 .* above 2\*\*32 - 1"):
        config.seeded(2**32 - 5)


def test_row_23_more_threads_than_cpus_is_a_warning(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    monkeypatch.setattr(bench, "run", lambda *args: {})
    with pytest.warns(UserWarning, match="--threads=2 is more than this machine's 1 CPUs"):
        bench.main(["gaussian1d", "--budget", "quick", "--threads", "2", "--out", str(tmp_path)])
    with pytest.warns(UserWarning, match="runs slower with more threads than CPUs"):
        config.set_threads(2)


def test_row_25_the_list_names_every_benchmark_with_a_whole_line(capsys):
    assert bench.main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(bench.BENCHMARKS)
    assert all(not line.rstrip().endswith((",", " and")) for line in lines)


def test_row_26_no_out_folder_is_refused(capsys):
    for arguments in ([], ["gaussian1d", "--budget", "quick"]):
        with pytest.raises(SystemExit):
            bench.main(arguments)
        assert "give a benchmark NAME and --out DIR" in capsys.readouterr().err


def test_rows_27_30_an_output_folder_that_cannot_hold_the_results_is_refused_before_training(
    tmp_path, monkeypatch, capsys
):
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for bad, message in (
        (a_file, "is a file"),  # row 27
        (a_file / "below", "cannot write the results"),
        (Path(""), "a folder of its own"),  # row 29
        ("", "a folder of its own"),
    ):
        with pytest.raises(ValueError, match=message):
            bench.writable_folder(bad)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert bench.writable_folder("~/results") == tmp_path / "results"  # row 30
    monkeypatch.setattr(bench, "run", lambda *args: pytest.fail("must not train"))
    with pytest.raises(SystemExit):  # the command line says so at once, before any training
        bench.main(["gaussian1d", "--budget", "quick", "--out", str(a_file)])
    assert "is a file" in capsys.readouterr().err


def test_row_28_a_read_only_output_folder_is_refused_before_training(tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        done = no_dac(
            "from gancourse import bench; bench.writable_folder("
            + repr(str(read_only / "res"))
            + ")",
            {},
        )
    finally:
        read_only.chmod(0o755)
    assert "cannot write the results" in done.stderr and "Permission denied" in done.stderr


# --- losses ------------------------------------------------------------------------------------
def test_rows_31_34_logits_of_the_wrong_shape_emptiness_or_type_are_named():
    with pytest.raises(ValueError, match=r"shape \(64, 2\), expected \(N,\) or \(N, 1\)"):
        losses.discriminator_loss(torch.randn(64, 2), torch.randn(64, 1))
    with pytest.raises(ValueError, match=r"shape \(64, 1, 1\)"):
        losses.discriminator_loss(torch.randn(64, 1, 1), torch.randn(64, 1))
    with pytest.raises(ValueError, match="real_logits is empty"):
        losses.discriminator_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(TypeError, match="must be a torch.Tensor, got ndarray"):
        losses.discriminator_loss(np.zeros(4), torch.zeros(4))
    # row 32: NaN passes through the loss (train_gan's guard stops it: row 47)
    assert torch.isnan(losses.discriminator_loss(torch.tensor([math.nan, 1.0]), torch.zeros(2)))


def test_row_35_integer_logits_are_named():
    with pytest.raises(TypeError, match=r"real_logits has dtype torch.int64.*float tensor"):
        losses.discriminator_loss(torch.tensor([1, 2]), torch.tensor([0, 1]))


@pytest.mark.parametrize("name", ["nonsaturating", "Non_Saturating", None])
def test_row_36_an_unknown_generator_loss_or_game_lists_the_choices(name):
    with pytest.raises(ValueError, match="unknown generator loss .*choose one of minimax"):
        losses.generator_loss(name)
    with pytest.raises(ValueError, match="unknown game 'minmax': choose one of"):
        train(*players(), game="minmax")


def test_row_37_penalty_and_clipping_settings_are_checked():
    critic = nn.Linear(2, 1)
    real = torch.randn(4, 2)
    for weight in (-1, math.nan):
        with pytest.raises(ValueError, match="need weight >= 0 and unit > 0"):
            losses.gradient_penalty(critic, real, real, weight=weight)
    with pytest.raises(ValueError, match=r"same shape to pair them, got \(4, 2\) and \(3, 2\)"):
        losses.gradient_penalty(critic, real, real[:3])
    for c in (0, math.nan):
        with pytest.raises(ValueError, match="the clipping bound c must be positive"):
            losses.clip_weights(critic, c)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        losses.LazyPenalty(losses.gradient_penalty, 0)


def test_row_38_a_discriminator_ending_in_a_sigmoid_is_refused():
    g, d, opt_g, opt_d = players()
    with pytest.raises(ValueError, match="ends in a sigmoid.*remove the final nn.Sigmoid"):
        train(g, nn.Sequential(d, nn.Sigmoid()), opt_g, opt_d)


# --- train_gan ---------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_row_39_k_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match=f"k must be a positive integer, got {k!r}: Algorithm 1"):
        train(*players(), k=k)
    with pytest.raises(ValueError, match="n_critic must be a positive integer"):
        Recipe("bad", n_critic=k)


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0: the number of samples"),
        ({"steps": -5}, "steps must be an integer >= 0, got -5"),
        ({"steps": 2.0}, "steps must be an integer >= 0, got 2.0"),
        ({"time_limit": 0}, "time_limit must be a positive number of seconds, got 0"),
    ],
)
def test_row_40_loop_settings_are_checked(setting, message):
    with pytest.raises(ValueError, match=message):
        train(*players(), **setting)


def test_row_41_a_negative_learning_rate_is_refused_where_it_is_given():
    with pytest.raises(ValueError, match="Invalid learning rate"):  # torch's own, at once
        torch.optim.Adam(nn.Linear(1, 1).parameters(), lr=-1e-3)
    with pytest.raises(ValueError, match="lr_g must be a number from 0 to 1, got -0.001"):
        Recipe("bad", lr_g=-1e-3)


@pytest.mark.parametrize("lr", [1e3, 2.0])
def test_row_42_a_learning_rate_above_one_is_refused(lr):
    with pytest.raises(ValueError, match="learning rate of opt_g must be a number from 0 to 1"):
        train(*players(lr=lr))
    with pytest.raises(ValueError, match="lr_d must be a number from 0 to 1"):
        Recipe("bad", lr_d=lr)


def test_row_43_a_generator_shaped_unlike_the_data_is_named():
    g, d, opt_g, opt_d = players(out=2)
    with pytest.raises(ValueError, match=r"generator output has shape \(16, 2\) but the data"):
        train(g, d, opt_g, opt_d)


def test_row_44_noise_of_the_wrong_size_points_at_sample_noise():
    with pytest.raises(ValueError, match=r"cannot take sample_noise's batch of shape \(16, 3\)"):
        train(*players(), sample_noise=lambda m: torch.randn(m, 3))


@pytest.mark.parametrize(
    "sample_data, error, message",
    [
        (lambda m: TARGET.sample(m)[:, 0], ValueError, r"but the data batch has shape \(16,\)"),
        (lambda m: TARGET.sample(10), ValueError, r"returned shape \(10, 1\): its first dim"),
        (lambda m: TARGET.sample(m).numpy(), TypeError, "must return tensors, got ndarray"),
    ],
)
def test_row_45_data_batches_of_the_wrong_shape_or_type_are_named(sample_data, error, message):
    with pytest.raises(error, match=message):
        train(*players(), sample_data=sample_data)


def test_row_46_float64_data_is_named_with_the_fix():
    with pytest.raises(ValueError, match=r"data batch is torch.float64 .* add \.float\(\)"):
        train(*players(), sample_data=lambda m: TARGET.sample(m).double())


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_row_47_non_finite_data_stops_training_with_advice(bad):
    def sample(m):
        batch = TARGET.sample(m)
        batch[0] = bad
        return batch

    with pytest.raises(TrainingDiverged, match="became nan at step 1.*check the data for NaN"):
        train(*players(), sample_data=sample)


# --- metrics -----------------------------------------------------------------------------------
RING = data.ring()


def ring_samples(n: int = 2500, seed: int = 0) -> np.ndarray:
    return RING.sample(n, generator=torch.Generator().manual_seed(seed)).numpy()


@pytest.mark.parametrize(
    "samples", [np.zeros((0, 2)), [], np.zeros((5, 3)), np.zeros(5), np.zeros((2, 5))]
)
def test_row_48_mode_coverage_names_badly_shaped_samples(samples):
    with pytest.raises(ValueError, match=r"samples must be shaped \(N, 2\)"):
        metrics.mode_coverage(samples, RING.means.numpy(), RING.std)


def test_rows_49_50_mode_coverage_of_one_sample_and_of_nan():
    with pytest.warns(UserWarning, match="more modes"):
        one = metrics.mode_coverage(ring_samples(1), RING.means.numpy(), RING.std)
    assert (one.modes_captured, one.high_quality) == (1, 1.0)
    assert one.reverse_kl == pytest.approx(math.log(8))
    with pytest.raises(ValueError, match="NaN or infinite values: the generator has diverged"):
        metrics.mode_coverage(np.full((5, 2), np.nan), RING.means.numpy(), RING.std)


def test_rows_51_53_mode_coverage_refuses_no_modes_a_bad_std_and_nan_means():
    samples, means = ring_samples(), RING.means.numpy().copy()
    with pytest.raises(ValueError, match=r"means must be shaped \(K, 2\) with K >= 1"):
        metrics.mode_coverage(samples, np.zeros((0, 2)), RING.std)
    for std in (-1, 0, math.nan, math.inf):
        with pytest.raises(ValueError, match="std must be a positive number"):
            metrics.mode_coverage(samples, means, std)
    means[3] = np.nan
    with pytest.raises(ValueError, match="means contain NaN"):
        metrics.mode_coverage(samples, means, RING.std)
    assert metrics.mode_coverage(samples, RING.means.numpy(), RING.std).modes_captured == 8


def test_row_54_swapped_arguments_to_mode_coverage_are_flagged():
    with pytest.warns(UserWarning, match=r"more modes \(2500\) than samples \(8\).*swapped"):
        metrics.mode_coverage(RING.means.numpy(), ring_samples(), RING.std)


@pytest.mark.parametrize("features", [np.array([]), np.zeros((0, 64)), np.zeros((1, 4)),
                                      np.zeros(100)])  # fmt: skip
def test_row_55_frechet_distance_needs_more_samples_than_features(features):
    with pytest.raises(ValueError, match="need more samples than feature dimensions"):
        metrics.frechet_distance(features, np.random.default_rng(0).normal(size=(100, 4)))


def test_rows_56_57_frechet_distance_names_unlike_or_non_finite_features():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="feature sizes differ: 5 and 6"):
        metrics.frechet_distance(rng.normal(size=(100, 5)), rng.normal(size=(100, 6)))
    for bad in (np.nan, np.inf):
        features = rng.normal(size=(100, 5))
        features[7, 2] = bad
        with pytest.raises(ValueError, match="hold 1 NaN or infinite values: did the generator"):
            metrics.frechet_distance(features, rng.normal(size=(100, 5)))


def test_rows_58_60_empirical_w1_refuses_empty_non_finite_and_unlike_sets():
    with pytest.raises(ValueError, match="non-empty point sets"):
        metrics.empirical_w1(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.empirical_w1([[math.nan, 0.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"same shape \(n, d\), got \(3, 2\) and \(4, 2\)"):
        metrics.empirical_w1(np.zeros((3, 2)), np.zeros((4, 2)))


def test_rows_61_62_inception_score_refuses_empty_and_non_probabilities():
    with pytest.raises(ValueError, match="probabilities is empty"):
        metrics.inception_score(np.zeros((0, 10)))
    for bad in (np.random.default_rng(0).normal(size=(5, 10)), np.full((5, 10), np.nan)):
        with pytest.raises(ValueError, match=r"\(N, K\) array of rows that sum to 1"):
            metrics.inception_score(bad)


@pytest.mark.parametrize("labels", [np.array([-1, 2]), np.array([12, 2]), np.array([1.5, 2])])
def test_rows_63_64_class_histogram_refuses_labels_outside_its_classes(labels):
    with pytest.raises(ValueError, match="class labels must be whole numbers from 0 to 9"):
        metrics.class_histogram(labels)
    assert metrics.class_histogram(np.array([0, 9, 9])).tolist() == [1 / 3] + [0] * 8 + [2 / 3]


def test_row_65_a_density_estimate_of_non_finite_samples_is_refused():
    samples = np.append(np.random.default_rng(0).normal(size=100), np.nan)
    with pytest.raises(ValueError, match="samples hold 1 NaN or infinite values"):
        metrics.gaussian_kde(samples, np.linspace(-3, 3, 50))


def test_row_66_histogram_jsd_counts_the_mass_outside_the_window():
    ring = ring_samples(2000)
    moved = ring.copy()
    moved[::2] += 100.0  # half the mass, 100 units away
    jsd = metrics.histogram_jsd(ring, moved, 30, (-3, 3, -3, 3))
    # with the far half in a cell of its own, q = p / 2 inside and 1/2 outside, so the JSD is
    # 1/2 log(4/3) + 1/4 log(2/3) + 1/4 log 2 = 3/4 log(4/3) = 0.216 (0.0023 with it dropped)
    assert jsd == pytest.approx(0.75 * math.log(4 / 3), abs=0.03)
    again = metrics.histogram_jsd(ring, ring_samples(2000, seed=1), 30, (-3, 3, -3, 3))
    assert again < 0.05


def test_row_67_histogram_jsd_names_bad_bins_and_an_empty_window():
    ring = ring_samples(100)
    with pytest.raises(ValueError, match="bins must be a positive integer, got 0"):
        metrics.histogram_jsd(ring, ring, 0, (-3, 3, -3, 3))
    with pytest.raises(ValueError, match="no points inside the extent: widen it"):
        metrics.histogram_jsd(ring, ring + 50, 30, (-3, 3, -3, 3))


def test_row_68_density_helpers_name_their_bad_input():
    x = np.linspace(-1, 1, 11)
    p = np.ones_like(x)
    with pytest.raises(ValueError, match="densities must be finite and non-negative"):
        metrics.jensen_shannon(np.where(x > 0, np.nan, 1.0), p, x)
    with pytest.raises(ValueError, match="x must be an increasing 1D grid"):
        metrics.kl_divergence(p, p, x[::-1])
    with pytest.raises(ValueError, match="need at least 2 samples"):
        metrics.gaussian_kde(np.array([1.0]), x)
    with pytest.raises(ValueError, match="mass must lie strictly between 0 and 1, got 1"):
        metrics.high_density_region(p, x, mass=1)


# --- the evaluator (checks on its input: an untrained classifier is enough) ------------------
@pytest.fixture(scope="module")
def evaluator():
    torch.manual_seed(0)
    digits = torch.rand(200, 1, 28, 28) * 2 - 1
    return Evaluator(DigitClassifier(), digits[:100], digits[100:], 0.5)


def real_looking(n: int = 120) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("scale", [lambda x: (x + 1) * 127.5, lambda x: ((x + 1) * 127.5).byte()])
def test_row_69_pixels_in_0_255_are_refused(evaluator, scale):
    with pytest.raises(ValueError, match=r"expected pixel values in \[-1, 1\]"):
        evaluator.evaluate(scale(real_looking()))


def test_row_70_pixels_in_0_1_are_refused_with_the_fix(evaluator):
    with pytest.raises(ValueError, match=r"lie in \[0, 1\].*map them with 2 \* x - 1"):
        evaluator.evaluate((real_looking() + 1) / 2)


@pytest.mark.parametrize("shape", [(120, 28, 28), (120, 3, 28, 28), (120, 784), (120, 1, 32, 32)])
def test_rows_71_73_images_of_the_wrong_shape_or_type_are_named(evaluator, shape):
    with pytest.raises(ValueError, match=r"expected images shaped \(N, 1, 28, 28\)"):
        evaluator.evaluate(torch.zeros(shape))
    with pytest.raises(ValueError, match="got ndarray"):
        evaluator.evaluate(real_looking().numpy())
    with pytest.raises(ValueError, match="got list"):
        evaluator.evaluate(list(real_looking()))


def test_row_72_float64_images_are_measured_as_float32(evaluator):
    images = real_looking()
    assert evaluator.evaluate(images.double())["frechet_ratio"] == pytest.approx(
        evaluator.evaluate(images)["frechet_ratio"], rel=1e-4
    )


def test_row_74_too_few_images_for_a_frechet_distance(evaluator):
    for n in (64, 0):
        with pytest.raises(ValueError, match=f"need more than 64 images .*got {n}"):
            evaluator.evaluate(real_looking()[:n])


@pytest.mark.parametrize("how_many", [1, 120])
def test_row_75_nan_images_are_named(evaluator, how_many):
    images = real_looking()
    images[:how_many] = math.nan
    with pytest.raises(ValueError, match="NaN or infinite: did training diverge"):
        evaluator.evaluate(images)


# --- checkpoints -------------------------------------------------------------------------------
def test_row_76_a_missing_checkpoint_says_how_to_make_it(tmp_path):
    for path in (tmp_path / "missing.pt", tmp_path):
        with pytest.raises(FileNotFoundError, match="no checkpoint at .*train the model first"):
            load_checkpoint(path, players()[0])


@pytest.mark.parametrize(
    "damage",
    [b"", b"\x00" * 4096, "half", "a list"],
    ids=["row 78: empty", "row 79: random bytes", "row 77: cut short", "row 80: not a dict"],
)
def test_rows_77_80_a_damaged_checkpoint_names_its_path_and_what_to_do(tmp_path, damage):
    path = tmp_path / "run.pt"
    train(*players(), checkpoint=path)
    if damage == "half":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "a list":
        torch.save([1, 2, 3], path)
    else:
        path.write_bytes(damage)
    for attempt in (
        lambda: load_checkpoint(path, players()[0]),
        lambda: train(*players(), steps=6, checkpoint=path),
    ):
        with pytest.raises(DamagedFile, match=r"run\.pt is (damaged or is )?not a gancourse"):
            attempt()


def test_row_81_another_kind_of_file_is_not_taken_for_a_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(ValueError, match=r"other\.pt is not a gancourse checkpoint \(format None"):
        load_checkpoint(path, players()[0])


def test_row_82_a_checkpoint_of_another_architecture_is_named(tmp_path):
    path = tmp_path / "small.pt"
    train(*players(), checkpoint=path)
    bigger = mlp_generator(1, 1, (32, 32), activation="tanh")
    with pytest.raises(ValueError, match="does not fit this generator .*different architecture"):
        load_checkpoint(path, bigger)
    with pytest.raises(ValueError, match="does not fit this generator"):
        dcgan.load_generator("improved", "quick", "cpu", path=path)


def test_row_83_a_missing_generator_or_recipe_says_what_to_do():
    with pytest.raises(FileNotFoundError, match="no trained DCGAN generator at .*run notebooks/03"):
        dcgan.load_generator("improved", "full", "cpu")
    with pytest.raises(ValueError, match="unknown recipe 'best': choose one of"):
        dcgan.load_generator("best", "full", "cpu")


@pytest.mark.parametrize(
    "first, then, message",
    [
        ({"k": 1}, {"k": 2}, "k=1 there but 2 here"),
        ({"batch_size": 16}, {"batch_size": 32}, "batch_size=16 there but 32 here"),
    ],
)
def test_row_84_resuming_with_another_k_or_batch_is_refused(tmp_path, first, then, message):
    path = tmp_path / "run.pt"
    train(*players(), steps=5, checkpoint=path, **first)
    with pytest.raises(ValueError, match=f"other settings \\({message}\\): pass resume=False"):
        train(*players(), steps=10, checkpoint=path, **then)


def test_row_85_resuming_with_another_learning_rate_is_refused(tmp_path):
    path = tmp_path / "lr.pt"
    train(*players(lr=1e-3), steps=5, checkpoint=path)
    with pytest.raises(ValueError, match=r"other settings \(learning_rates=.*resume=False"):
        train(*players(lr=5e-2), steps=10, checkpoint=path)


def test_row_86_a_resumed_run_knows_its_seed_and_data_or_says_it_cannot(tmp_path, capsys):
    recipe = recipes.LESSON1
    path = tmp_path / "recipe.pt"
    recipes.train(recipes.build(recipe, "gaussian1d", seed=0), recipe, steps=5, checkpoint=path)
    for seed, target in ((7, "gaussian1d"), (0, Gaussian1D(-3.0, 0.5))):
        run = recipes.build(recipe, target, seed=seed)
        with pytest.raises(ValueError, match=r"other settings \(source\.\w+=.*pass resume=False"):
            recipes.train(run, recipe, steps=10, checkpoint=path)
    # train_gan given bare models cannot know the seed or the data: it says so on resuming
    path = tmp_path / "bare.pt"
    train(*players(seed=0), steps=5, checkpoint=path)
    capsys.readouterr()
    train(*players(seed=7), steps=10, checkpoint=path)
    assert "a changed seed or data cannot be seen: pass resume=False" in capsys.readouterr().out


def test_row_87_a_checkpoint_holding_more_steps_than_asked_says_so(tmp_path, capsys):
    path = tmp_path / "twenty.pt"
    train(*players(), steps=20, checkpoint=path)
    capsys.readouterr()
    history = train(*players(), steps=5, checkpoint=path)
    shown = capsys.readouterr().out
    assert "it holds 20 steps, more than the 5 asked for (pass resume=False" in shown
    assert "of 5" not in shown and len(history) == 20


def test_row_88_an_interrupted_run_keeps_a_loadable_checkpoint(tmp_path, capsys):
    path = tmp_path / "stopped.pt"

    def interrupt(step):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(*players(), steps=20, checkpoint=Checkpoint(path, every=5), callback=interrupt)
    assert "the checkpoint at step 5 in" in capsys.readouterr().out
    assert load_checkpoint(path, players()[0])["step"] == 5
    assert not list(tmp_path.glob("*.tmp"))


def test_row_89_a_damaged_evaluator_cache_is_trained_again(tmp_path, monkeypatch, capsys):
    from gancourse import evaluator as evaluator_module

    path = tmp_path / "evaluator.pt"
    path.write_bytes(b"not a cache")
    trained = []

    def train_evaluator(digits, seed=0):  # a stand-in: an untrained classifier is enough
        trained.append(seed)
        return Evaluator(DigitClassifier(), digits.images, digits.images, 0.5)

    monkeypatch.setattr(evaluator_module, "train_evaluator", train_evaluator)
    digits = Digits(torch.rand(128, 1, 28, 28) * 2 - 1, torch.arange(128) % 10, "test")
    evaluator_module.load_or_train_evaluator(digits, path=path)
    assert trained == [0] and "damaged" in capsys.readouterr().out
    assert isinstance(torch.load(path, weights_only=True), dict)  # written again, whole


def test_row_90_a_damaged_training_record_names_its_path(tmp_path):
    path = tmp_path / "record.pt"
    recorder = Recorder(lambda: Measurement({"x": 1.0}), every_steps=1, path=path)
    recorder(1)
    recorder.finish(1)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(DamagedFile, match=r"record\.pt is damaged or is not a training record"):
        Recorder(lambda: Measurement({"x": 1.0}), every_steps=1, path=path)


# --- the playground ----------------------------------------------------------------------------
def test_rows_91_96_the_playground_refuses_bad_settings_and_says_why():
    with pytest.raises(ValueError, match="lr_d must lie between 0 and 1, got -1"):
        Playground(device="cpu", lr_d=-1)
    panel = Playground(device="cpu", steps_per_frame=3)
    before = panel.settings
    for change, message in (
        ({"lr_d": -1}, "lr_d must lie between 0 and 1, got -1"),
        ({"lr_g": math.nan}, "lr_g must be a number, got nan"),
        ({"lr_d": "0.01"}, "lr_d must be a number, got '0.01'"),
        ({"k": 0}, "k must be a whole number from 1 to 100, got 0"),
        ({"k": 1.5}, "k must be a whole number"),
        ({"target": "moon"}, "unknown target 'moon': choose one of ring, grid"),
        ({"game": "wgan"}, "unknown game 'wgan'"),
        ({"foo": 1}, "unknown setting foo: choose from"),
        ({"steps_per_frame": 10**6}, "steps_per_frame must be a whole number from 1 to 100"),
        ({"minibatch": True, "game": "wgan_gp"}, "minibatch discrimination goes with the GAN"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"clip": 0}, "clip must lie between"),
        ({"gp_weight": -1}, "gp_weight must lie between"),
    ):
        assert panel.set(**change) is False
        assert message in panel.status.value, (change, panel.status.value)
        assert panel.settings == before


def test_row_97_a_bad_value_typed_into_a_control_snaps_back():
    panel = Playground(device="cpu", steps_per_frame=3)
    panel.controls["k"].value = 0
    assert "k must be a whole number" in panel.status.value
    assert panel.controls["k"].value == panel.settings.k == 1


def test_row_98_running_a_bad_number_of_steps_is_refused():
    panel = Playground(device="cpu", steps_per_frame=3)
    for steps in (-1, 2.5):
        with pytest.raises(ValueError, match="steps must be a non-negative integer"):
            panel.run(steps)


def test_row_99_a_bad_playground_device_is_named():
    with pytest.raises(ValueError, match="'gpu' is not a device: choose one of cuda, mps, cpu"):
        Playground(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="this machine has no cuda device"):
            Playground(device="cuda")


def test_row_100_a_frame_too_long_to_pause_is_refused():
    panel = Playground(device="cpu", target="grid", game="wgan_gp")
    assert panel.set(k=100, steps_per_frame=100) is False
    assert "10,000 D steps a frame, more than 500" in panel.status.value
    assert panel.set(k=100, steps_per_frame=5) is True  # 500: allowed


def test_row_101_the_largest_learning_rates_fail_visibly_not_with_a_crash():
    panel = Playground(device="cpu", game="maximum_likelihood", lr_d=1.0, lr_g=1.0)
    for _ in range(3):
        panel.step()
    assert "modes captured" in panel.readout.value


# --- MNIST on disk -----------------------------------------------------------------------------
def mnist_folder(root: Path, images: int = 200, labels: int | None = None) -> Path:
    """MNIST's four files, as torchvision reads them, holding ``images`` small real-looking
    digits (random bytes are enough for loading)."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        write_idx(
            raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (images, 28, 28), np.uint8)
        )
        count = images if labels is None else labels
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, count, np.uint8))
    return raw


def damaged_mnist(root: Path, how: str) -> None:
    raw = mnist_folder(root, labels=150 if how == "row 106: labels short" else None)
    images = raw / "train-images-idx3-ubyte"
    if how == "row 102: empty":
        images.write_bytes(b"")
    elif how == "row 103: cut short":
        images.write_bytes(images.read_bytes()[: 16 + 28 * 28 * 50 + 100])
    elif how == "row 104: an HTML page":
        images.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    elif how == "row 105: legacy files empty":
        shutil.rmtree(raw)
        (root / "MNIST" / "processed").mkdir(parents=True)
        for name in ("training.pt", "test.pt"):
            (root / "MNIST" / "processed" / name).write_bytes(b"")


@pytest.mark.parametrize(
    "how",
    [
        "row 102: empty",
        "row 103: cut short",
        "row 104: an HTML page",
        "row 105: legacy files empty",
        "row 106: labels short",
    ],
)
def test_rows_102_106_damaged_mnist_files_are_named_and_the_course_goes_on(tmp_path, capsys, how):
    damaged_mnist(tmp_path, how)
    digits = data.load_mnist(tmp_path, download=False)
    shown = capsys.readouterr().out
    assert f"the MNIST files under {tmp_path / 'MNIST'} are damaged" in shown
    assert "Delete that folder, and the next run downloads MNIST again" in shown
    assert "could not be had offline" not in shown
    assert len(digits) == len(digits.images) == 5000  # the bundled real subset, whole


def test_row_106_images_and_labels_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        Digits(torch.zeros(5, 1, 28, 28), torch.zeros(4, dtype=torch.long), "test")


def test_row_107_missing_files_fall_back_as_missing(tmp_path, capsys):
    raw = mnist_folder(tmp_path)
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).unlink()
    assert len(data.load_mnist(tmp_path, download=False)) == 5000
    assert "could not be had offline" in capsys.readouterr().out


def test_row_108_a_valid_partial_set_says_what_it_used(tmp_path, capsys):
    mnist_folder(tmp_path, images=300)
    assert len(data.load_mnist(tmp_path, download=False)) == 300
    assert f"MNIST: 300 real digits from torchvision MNIST in {tmp_path}" in capsys.readouterr().out


# --- other package inputs ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings, message",
    [
        ({"d_kind": "minibatc"}, "unknown d_kind 'minibatc': choose one of"),
        ({"game": "wgan"}, "unknown game 'wgan': choose one of"),
        ({"game": "hinge2"}, "unknown game 'hinge2'"),
        ({"d_kind": "pacgan2", "batch_size": 3}, "PacGAN-2 needs an even batch size, got 3"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"n_critic": 0}, "n_critic must be a positive integer"),
        ({"latent_dim": 0}, "latent_dim must be a positive integer"),
        ({"width": 0}, "width must be a positive integer, got 0"),
        ({"d_norm": "layer"}, "unknown d_norm 'layer': choose one of"),
        ({"gp_every": 0}, "gp_every must be a positive integer"),
        ({"game": "wgan_clip", "clip": -1}, "the clipping bound c must be positive"),
        ({"game": "wgan_gp", "gp_weight": -5}, "need gp_weight >= 0"),
    ],
)
def test_rows_109_110_a_recipe_names_what_is_wrong_in_it(settings, message):
    with pytest.raises(ValueError, match=message):
        Recipe("x", **settings)


def test_row_109_targets_seeds_and_lesson_names_are_checked():
    with pytest.raises(ValueError, match="unknown 2D target 'moon': choose one of ring, grid"):
        recipes.build(recipes.LESSON4, "moon")
    with pytest.raises(ValueError, match="seeds is empty: give at least one seed"):
        toy2d.train_seeds("ring", {"plain": toy2d.lesson5("ring")}, steps=1, seeds=[])
    with pytest.raises(ValueError, match="Ring"):
        toy2d.lesson5("Ring")


def test_row_111_a_sampler_of_no_images_is_refused():
    with pytest.raises(
        ValueError, match=r"non-empty tensor of samples, got shape \(0, 1, 28, 28\)"
    ):
        data.tensor_sampler(torch.zeros(0, 1, 28, 28))


@pytest.mark.parametrize("threads", [2.5, 0, True])
def test_row_112_threads_must_be_a_whole_number(threads):
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        config.setup(threads=threads)


def test_row_113_a_bench_run_writes_only_into_out_and_the_data_folder(tmp_path, monkeypatch):
    repository = Path(__file__).resolve().parent.parent
    status = ["git", "-C", str(repository), "status", "--porcelain"]
    before = subprocess.run(status, capture_output=True, text=True).stdout
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench.main(["gaussian1d", "--budget", "quick", "--out", "out", "--threads", "1"])
    assert sorted(p.name for p in work.iterdir()) == ["out"]
    assert sorted(p.name for p in (work / "out").iterdir()) == ["result.json", "samples.npy"]
    assert subprocess.run(status, capture_output=True, text=True).stdout == before
