import numpy as np
import pytest
import torch

from gancourse import config


def test_budget_defaults_to_full(monkeypatch):
    monkeypatch.delenv("GANCOURSE_BUDGET", raising=False)
    assert config.budget() == "full"
    assert config.budgeted(quick=1, full=2) == 2


def test_quick_budget_picks_quick_values(monkeypatch):
    monkeypatch.setenv("GANCOURSE_BUDGET", "Quick ")
    assert config.budget() == "quick"
    assert config.budgeted(quick=1, full=2) == 1


def test_unknown_budget_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GANCOURSE_BUDGET", "medium")
    with pytest.raises(ValueError, match=r"GANCOURSE_BUDGET='medium' is not a budget.*quick.*full"):
        config.budget()


def test_device_auto_and_cpu(monkeypatch):
    monkeypatch.delenv("GANCOURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    assert config.device().type in {"cuda", "mps", "cpu"}
    if expected:
        assert config.device().type == expected
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")


def test_unknown_device_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"GANCOURSE_DEVICE='tpu' is not a device: choose one of"):
        config.device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_device_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no cuda device.*unset it or set it to auto"):
        config.device("cuda")


def test_seeding_repeats_torch_and_numpy():
    config.seed_everything(7)
    first = torch.randn(3), np.random.rand(3)
    config.seed_everything(7)
    second = torch.randn(3), np.random.rand(3)
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_a_clear_error(seed):
    with pytest.raises(ValueError, match=r"seed must be a whole number from 0 to 2\*\*32 - 1"):
        config.seed_everything(seed)


def test_data_dir_honours_override(monkeypatch, tmp_path):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "here"))
    assert config.data_dir() == tmp_path / "here" and (tmp_path / "here").is_dir()


def test_setup_prints_what_is_in_force(capsys, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    threads = torch.get_num_threads()
    try:
        assert config.setup(seed=3, threads=1) == torch.device("cpu")
        out = capsys.readouterr().out
        assert "device: cpu" in out and "seed: 3" in out and "budget: quick" in out
    finally:
        torch.set_num_threads(threads)


def test_a_lesson_may_choose_the_cpu_unless_the_learner_asks(capsys, monkeypatch):
    monkeypatch.setattr(config, "_available", lambda name: True)  # as on a machine with CUDA
    monkeypatch.delenv("GANCOURSE_DEVICE", raising=False)
    assert config.setup(seed=0, auto="cpu") == torch.device("cpu")
    assert "device: cpu (this lesson's choice" in capsys.readouterr().out
    assert config.setup(seed=0) == torch.device("cuda")  # other lessons: auto takes CUDA
    monkeypatch.setenv("GANCOURSE_DEVICE", "cuda")
    assert config.setup(seed=0, auto="cpu") == torch.device("cuda")  # the learner's choice wins
    assert "lesson's choice" not in capsys.readouterr().out


def test_seed_offset_shifts_every_seed(monkeypatch):
    monkeypatch.delenv("GANCOURSE_SEED", raising=False)
    assert config.seed_offset() == 0 and config.seeded(7) == 7
    config.seed_everything(7)
    seven = torch.randn(3)
    monkeypatch.setenv("GANCOURSE_SEED", " 3 ")
    assert config.seeded(4) == 7
    config.seed_everything(4)
    assert torch.equal(torch.randn(3), seven)
    assert torch.equal(
        torch.randn(2, generator=config.rng(4)), torch.randn(2, generator=config.rng(4))
    )
    monkeypatch.setenv("GANCOURSE_SEED", "0")
    assert torch.equal(
        torch.randn(3, generator=config.rng(7)), torch.randn(3, generator=config.rng(7))
    )


def test_a_recorded_runs_noise_is_drawn_again_whatever_the_offset(monkeypatch):
    monkeypatch.setenv("GANCOURSE_SEED", "3")
    recorded = torch.randn(3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.randn(3, generator=config.rng(5, offset=False)), recorded)
    assert not torch.equal(torch.randn(3, generator=config.rng(5)), recorded)
    with pytest.raises(ValueError, match="seed must be a whole number"):
        config.rng(-1, offset=False)


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_bad_seed_offset_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("GANCOURSE_SEED", value)
    with pytest.raises(ValueError, match=r"GANCOURSE_SEED=.* is not a seed offset"):
        config.seed_everything(0)


def test_setup_shows_the_seed_offset(capsys, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setenv("GANCOURSE_SEED", "2")
    config.setup(seed=1)
    assert "seed: 1 + GANCOURSE_SEED 2 = 3" in capsys.readouterr().out


def test_atomic_save_leaves_no_temporary_file(tmp_path):
    path = config.save_atomically({"x": torch.ones(2)}, tmp_path / "sub" / "f.pt")
    assert torch.load(path)["x"].sum() == 2
    assert [p.name for p in path.parent.iterdir()] == ["f.pt"]
