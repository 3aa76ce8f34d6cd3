import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import config, dcgan, recipes, wgan
from gancourse.data import Digits, tensor_sampler
from gancourse.dcgan import (
    IMPROVED,
    PLAIN,
    Recipe,
    checkpoint_path,
    frechet_record,
    load_generator,
    recipe_named,
    record_moments,
    update_average,
)
from gancourse.losses import hinge_discriminator_loss, hinge_generator_loss
from gancourse.nets import (
    AugmentedDiscriminator,
    MinibatchStd,
    dcgan_discriminator,
    dcgan_generator,
    diff_augment,
    fast_layout,
    sample_generator,
)
from gancourse.train import linear_to_zero


def test_dcgan_shapes_and_output_range():
    g, d = dcgan_generator(latent_dim=16, width=8), dcgan_discriminator(width=8)
    images = g(torch.randn(5, 16))
    assert images.shape == (5, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1  # tanh output
    assert d(images).shape == (5, 1)


def test_dcgan_follows_the_papers_guidelines():
    g, d = dcgan_generator(latent_dim=16, width=8), dcgan_discriminator(width=8)
    layers_g, layers_d = list(g), list(d)
    assert not any(isinstance(m, nn.Linear | nn.MaxPool2d) for m in layers_g + layers_d)
    assert isinstance(layers_g[-1], nn.Tanh) and isinstance(layers_g[-2], nn.ConvTranspose2d)
    assert any(isinstance(m, nn.ReLU) for m in layers_g)
    assert isinstance(layers_d[1], nn.LeakyReLU) and layers_d[1].negative_slope == 0.2
    assert not isinstance(layers_d[1], nn.BatchNorm2d)  # none on D's input layer
    assert any(isinstance(m, nn.BatchNorm2d) for m in layers_d)


def test_dcgan_initialisation_is_normal_with_std_0_02():
    g = dcgan_generator(latent_dim=100, width=64)
    weights = torch.cat([m.weight.flatten() for m in g if isinstance(m, nn.ConvTranspose2d)])
    assert abs(weights.mean().item()) < 1e-3 and abs(weights.std().item() - 0.02) < 1e-3
    norms = torch.cat([m.weight for m in g if isinstance(m, nn.BatchNorm2d)])
    assert abs(norms.mean().item() - 1) < 0.01


def test_tensor_sampler_draws_batches_from_the_data():
    data = torch.arange(10.0).reshape(10, 1)
    sample = tensor_sampler(data)
    batch = sample(64)
    assert batch.shape == (64, 1) and set(batch.flatten().tolist()) <= set(range(10))


def test_spectral_discriminator_drops_batch_norm_and_bounds_each_layer():
    d = dcgan_discriminator(width=8, norm="spectral")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d)
    convs = [m for m in d if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and all(hasattr(m, "parametrizations") for m in convs)
    d.train()
    for _ in range(30):  # power iterations run on each training-mode forward pass
        d(torch.randn(4, 1, 28, 28))
    d.eval()
    for conv in convs:
        top = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2).item()
        assert abs(top - 1) < 0.05, f"largest singular value {top}, expected about 1"
    assert d(torch.randn(5, 1, 28, 28)).shape == (5, 1)


def test_unknown_norm_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown norm 'layer'"):
        dcgan_discriminator(width=8, norm="layer")


def test_hinge_losses_by_hand():
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-3.0], [0.0]])
    # D: mean(max(0, 1 - real)) + mean(max(0, 1 + fake)) = (0 + 0.5) / 2 + (0 + 1) / 2
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.75)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.5)


def test_recipes_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown recipe 'fancy'"):
        recipe_named("fancy")
    with pytest.raises(ValueError, match="unknown game 'wasserstein'"):
        Recipe("x", game="wasserstein")
    assert recipe_named("plain") is PLAIN and recipe_named(IMPROVED) is IMPROVED


def test_recipe_budget_is_the_budget_passed():
    timed = Recipe("timed", quick_steps=80, full_steps=9000, full_seconds=600.0)
    assert (timed.steps("full"), timed.seconds("full")) == (9000, 600.0)
    assert record_moments(timed, "full") == {"at_seconds": tuple(75.0 * i for i in range(1, 8))}
    assert PLAIN.seconds("full") is None
    assert record_moments(PLAIN, "full") == {"every_steps": 250}
    assert (timed.steps("quick"), timed.seconds("quick")) == (80, None)  # quick counts steps
    assert record_moments(timed, "quick") == {"every_steps": 10}
    with pytest.raises(ValueError, match="unknown budget 'fast'"):
        timed.steps("fast")


def test_only_recipes_that_ask_decay_their_learning_rates():
    assert Recipe("x", lr_decay=True).lr_schedule() is linear_to_zero
    assert Recipe("x").lr_schedule() is None
    assert [linear_to_zero(p) for p in (0.0, 0.25, 1.0)] == [1.0, 0.75, 0.0]


def test_fast_layout_stores_convolutions_channels_last_and_computes_the_same():
    torch.manual_seed(0)
    g = dcgan_generator(latent_dim=100, width=8).eval()
    z = torch.randn(4, 100)
    before = g(z)
    g = fast_layout(g, "cpu")
    weight = g[1].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(g(z), before, atol=1e-5)


def test_minibatch_std_appends_the_batchs_spread():
    x = torch.randn(6, 3, 7, 7)
    out = MinibatchStd()(x)
    assert out.shape == (6, 4, 7, 7) and torch.equal(out[:, :3], x)
    assert torch.allclose(out[:, 3], x.std(dim=0, correction=0).mean().expand(6, 7, 7))
    same = MinibatchStd()(torch.ones(5, 3, 7, 7))
    assert same[:, 3].abs().max() == 0  # a collapsed batch has no spread
    assert torch.isfinite(MinibatchStd()(x[:1])).all()  # a batch of one is not NaN
    d = dcgan_discriminator(width=8, norm="spectral", minibatch_std=True)
    assert any(isinstance(m, MinibatchStd) for m in d) and d(torch.randn(5, 1, 28, 28)).shape == (
        5,
        1,
    )


def tiny_digits(n=128):
    return Digits(torch.rand(n, 1, 28, 28) * 2 - 1, torch.arange(n) % 10, "test")


def test_saved_generator_loads_for_later_lessons(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    torch.set_num_threads(1)
    tiny = Recipe("plain", players="dcgan", width=4, batch_size=8)
    run = recipes.build(tiny, tiny_digits())
    history = recipes.train(
        run, tiny, steps=3, checkpoint=checkpoint_path("plain", "quick"), progress=False
    )
    generator = run.generator
    assert len(history) == 3
    loaded = load_generator("plain", "quick", "cpu")  # rebuilt from the recipe saved with it
    assert not loaded.training
    expected, got = sample_generator(generator, 4, seed=3), sample_generator(loaded, 4, seed=3)
    assert torch.equal(expected, got)


def test_missing_generator_says_which_notebook_makes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="03_dcgan_mnist.ipynb"):
        load_generator("improved", "quick", "cpu")


def test_generate_is_repeatable_and_leaves_the_mode_alone():
    g = dcgan_generator(latent_dim=100, width=4)
    g.train()
    first, second = sample_generator(g, 5, seed=7), sample_generator(g, 5, seed=7)
    assert torch.equal(first, second) and first.shape == (5, 1, 28, 28)
    assert g.training


def test_diff_augment_moves_and_cuts_out_but_lets_gradients_through():
    torch.manual_seed(0)
    images = torch.rand(32, 1, 28, 28, requires_grad=True) * 2 - 1
    images.retain_grad()
    augmented = diff_augment(images)
    assert augmented.shape == images.shape
    assert augmented.min() >= -1 and augmented.max() <= 1
    blanked = (augmented == -1).flatten(1).float().mean(1)
    assert (blanked > 0.05).all()  # every image lost a cutout square (or a shifted-in border)
    augmented.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert not torch.equal(diff_augment(images), diff_augment(images))  # random each call


def test_augmented_discriminator_augments_only_while_training():
    inner = dcgan_discriminator(width=4)
    wrapped = AugmentedDiscriminator(inner).eval()
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(wrapped(x), inner.eval()(x))


def test_weight_average_moves_a_fraction_towards_the_model():
    model, average = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        average.weight.fill_(0.0)
    update_average(average, model, decay=0.9)
    assert torch.allclose(average.weight, torch.full_like(average.weight, 0.1))


class FixedEvaluator:
    """Stands in for the evaluator: a ratio that falls with every call."""

    def __init__(self):
        self.calls = 0

    def evaluate(self, images):
        self.calls += 1
        assert images.shape[1:] == (1, 28, 28)
        return {"frechet_ratio": 100.0 / self.calls, "class_histogram": [0.1] * 10}


def test_training_record_measures_saves_and_comes_back(tmp_path):
    torch.set_num_threads(1)
    g = dcgan_generator(latent_dim=100, width=4)
    path = tmp_path / "run.pt"
    record = frechet_record(g, FixedEvaluator(), every_steps=2, probe=100, path=path)
    for step in range(1, 6):
        record(step)
    record.finish(5)
    assert [p["step"] for p in record.points] == [2, 4, 5]
    assert [p["frechet_ratio"] for p in record.points] == [100.0, 50.0, 100.0 / 3]
    assert len(record.snapshots) == 3 and record.snapshots[0].shape == (16, 1, 28, 28)
    back = frechet_record(g, FixedEvaluator(), every_steps=2, path=path)
    assert back.points == record.points and len(back.snapshots) == 3
    fresh = frechet_record(g, FixedEvaluator(), every_steps=2, path=path, resume=False)
    assert fresh.points == []
    with pytest.raises(ValueError, match="every_steps or at_seconds"):
        frechet_record(g, FixedEvaluator())


def test_show_digits_tiles_a_grid_and_rejects_other_shapes():
    import matplotlib

    matplotlib.use("Agg")
    from gancourse.plots import show_digits

    ax = show_digits(torch.zeros(20, 1, 28, 28), columns=8, title="t")
    assert ax.get_images()[0].get_array().shape == (3 * 30, 8 * 30)
    with pytest.raises(ValueError, match=r"shaped \(N, 1, H, W\)"):
        show_digits(torch.zeros(5, 28, 28))


def test_plot_history_smooths_long_runs():
    import matplotlib

    matplotlib.use("Agg")
    from gancourse.plots import plot_history
    from gancourse.train import History

    n = 1000
    history = History(
        step=list(range(1, n + 1)),
        d_loss=[float(i % 2) for i in range(n)],  # alternating 0, 1: its mean of 2 or more is ~1/2
        g_loss=[1.0] * n,
        d_real=[0.6] * n,
        d_fake=[0.4] * n,
    )
    left, _ = plot_history(history)
    smoothed = [line for line in left.get_lines() if "mean of 5 steps" in line.get_label()]
    assert len(smoothed) == 2
    assert abs(smoothed[0].get_ydata().mean() - 0.5) < 0.01
    assert len(smoothed[0].get_ydata()) == n - 4


def test_wgan_gp_recipe_has_a_critic_without_normalisation_and_trains():
    recipe = dcgan.WGAN_GP
    assert recipe.game == "wgan_gp" and recipe.d_norm == "none"
    _, critic = recipes.models(recipe)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d,)) for m in critic.modules())
    assert not any("parametrizations" in name for name, _ in critic.named_modules())
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    run = recipes.build(recipe, images, seed=0)
    history = recipes.train(run, recipe, steps=3, progress=False)
    assert len(history) == 3 and np.isfinite(history.wasserstein_estimate(3, window=3))
    with pytest.raises(ValueError, match="batch norm"):
        dataclasses.replace(recipe, d_norm="batch")
    for bad in (0, True):
        with pytest.raises(ValueError, match="gp_every must be a positive integer"):
            dataclasses.replace(recipe, gp_every=bad)


def test_refined_critic_estimate_leaves_the_models_and_random_state_alone():
    config.seed_everything(0)
    generator, critic = recipes.models(dcgan.WGAN_GP)
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    before = [t.clone() for m in (generator, critic) for t in m.state_dict().values()]
    state = torch.get_rng_state()
    estimate = wgan.refined_critic_estimate(
        critic, generator, tensor_sampler(images), dcgan.WGAN_GP, steps=3, probe=32
    )
    after = [t for m in (generator, critic) for t in m.state_dict().values()]
    assert isinstance(estimate, float) and np.isfinite(estimate)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert torch.equal(torch.get_rng_state(), state)


def test_other_seeds_keep_their_own_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path))
    monkeypatch.delenv("GANCOURSE_SEED", raising=False)
    assert checkpoint_path("improved", "full").name == "dcgan_improved_full.pt"
    monkeypatch.setenv("GANCOURSE_SEED", "3")
    assert checkpoint_path("improved", "full").name == "dcgan_improved_full_seed3.pt"
