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
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
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
