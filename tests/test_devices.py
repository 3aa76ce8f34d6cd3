"""Every tensor the package makes is made on the device of what it meets (principle 6).

A machine without a GPU cannot run CUDA, but it can catch the usual CUDA bug: a tensor made on
the CPU (noise, labels, a grid, a probe) meeting a model on another device. PyTorch's fake
tensors run the training paths without computing anything; each tensor knows its device, and
an operation that mixes two devices raises "Expected all tensors to be on the same device",
as CUDA does. Here the models live on the "meta" device, which every machine has, so a tensor
left on the CPU meets them exactly as it would meet a model on a GPU. Values cannot be read
(no .item(), no numpy), so these tests cover the training steps; what reads values is covered
by tests/test_playground.py and the notebooks, and on a GPU by the whole suite.
"""

import dataclasses
import types
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
import torch.utils
from torch._subclasses.fake_tensor import FakeTensorMode

from gancourse import conditional, infogan, losses, nets, recipes, semisupervised, train
from gancourse.data import Digits, grid

AWAY = torch.device("meta")


@contextmanager
def away_from_the_cpu() -> Iterator[None]:
    """Fake tensors for everything made inside. Moving a module between devices swaps its
    parameters in place, which torch refuses for fake tensors that a weak reference tracks;
    nothing here relies on those references, so the check is switched off meanwhile."""
    saved = torch.utils.weakref
    torch.utils.weakref = types.SimpleNamespace(getweakrefs=lambda tensor: [])
    try:
        # real tensors made before (a target's means, a data set) may come in, as fakes
        with FakeTensorMode(allow_non_fake_inputs=True):
            yield
    finally:
        torch.utils.weakref = saved


def test_a_cpu_tensor_meeting_a_model_away_from_the_cpu_is_caught():
    """The harness itself: the mistake these tests look for does raise, for a tensor made
    inside and for one made before."""
    made_before = torch.randn(4, 2)
    with away_from_the_cpu():
        model = torch.nn.Linear(2, 1).to(AWAY)
        for on_the_cpu in (torch.randn(4, 2), made_before):  # on the CPU by mistake
            # "Expected all tensors to be on the same device" (newer torch) or "Unhandled
            # FakeTensor Device Propagation ... found two different devices" (older)
            with pytest.raises(RuntimeError, match="device"):
                model(on_the_cpu)
        assert model(torch.randn(4, 2, device=AWAY)).device == AWAY


@pytest.fixture
def no_history(monkeypatch):
    """train_gan reads its figures back to the host every few steps; fake tensors hold no
    values, so the history gets zeros instead (the devices have been checked by then)."""

    def flush(buffer, history, first_step, checkpoint_step):
        for offset, _ in enumerate(buffer):
            history.step.append(first_step + offset)
            for name in ("d_loss", "g_loss", "d_real", "d_fake"):
                getattr(history, name).append(0.0)
        buffer.clear()

    monkeypatch.setattr(train, "flush", flush)


RECIPES = {
    **recipes.RECIPES,
    "lesson5_pacgan2": dataclasses.replace(recipes.LESSON5_GRID, d_kind="pacgan2"),
    "lesson5_minibatch": dataclasses.replace(recipes.LESSON5_GRID, d_kind="minibatch"),
    "augment_mbstd": dataclasses.replace(recipes.IMPROVED, augment=True, minibatch_std=True),
}


@pytest.fixture
def real_captions(monkeypatch):
    """Captions come from measuring the digits (medians, a held-out mask): values that fake
    tensors do not hold. They are measured on the real CPU digits, as loading does."""
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    measure = conditional.captioned

    def captioned(digits):
        with unset_fake_temporarily():
            return measure(digits)

    monkeypatch.setattr(conditional, "captioned", captioned)


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_trains_away_from_the_cpu(name, no_history, real_captions):
    recipe = RECIPES[name]
    if recipe.players == "mlp":  # small batches: only the devices are checked
        recipe = dataclasses.replace(recipe, batch_size=32, n_critic=min(recipe.n_critic, 2))
    steps = recipe.gp_every + 1  # the lazy penalty is due on the first step
    # a 2D target's means are real numbers: the players' scale is read from them
    target = "gaussian1d" if recipe.latent_dim == 1 else grid()
    if recipe.condition != "none":  # labelled digits, made (and captioned) on the CPU first
        target = Digits(torch.rand(256, 1, 28, 28) * 2 - 1, torch.arange(256) % 10, "random")
    if recipe.players == "k_plus_one":  # a few labelled digits, many without labels
        images = torch.rand(256, 1, 28, 28) * 2 - 1
        target = semisupervised.Split(images[:20], torch.arange(20) % 10, images[20:],
                                      images[:8], torch.arange(8) % 10, "random")  # fmt: skip
    with away_from_the_cpu():
        if recipe.players == "dcgan" and recipe.condition == "none":
            target = torch.rand(256, 1, 28, 28) * 2 - 1  # the digits start on the CPU, as loaded
        run = recipes.build(recipe, target, device=AWAY)
        history = recipes.train(run, recipe, steps=steps, progress=False)
        assert len(history) == steps
        assert all(p.device == AWAY for p in run.generator.parameters())
        if recipe.condition in ("concat", "projection"):
            drawn = conditional.sample_for_labels(run.generator, torch.arange(8), seed=0, batch=4)
            assert drawn.device.type == "cpu"
        elif recipe.infogan:
            code, continuous = torch.arange(8) % 10, torch.zeros(8, infogan.CONTINUOUS)
            drawn = infogan.sample_codes(run.generator, code, continuous, seed=0, batch=4)
            assert drawn.device.type == "cpu"
        elif recipe.players == "dcgan" and recipe.condition == "none":
            assert nets.sample_generator(run.generator, 8, seed=0, batch=4).device.type == "cpu"
        elif recipe.players == "k_plus_one":
            classifier = semisupervised.classifier_of(run)
            assert all(p.device == AWAY for p in classifier.parameters())
            assert semisupervised.predict(classifier, target.test, batch=4).device.type == "cpu"


def test_penalties_and_interpolates_stay_on_the_batches_device():
    with away_from_the_cpu():
        critic = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        critic = critic.to(AWAY)
        real, fake = torch.randn(16, 2, device=AWAY), torch.randn(16, 2, device=AWAY)
        assert losses.interpolates(real, fake).device == AWAY
        assert losses.gradient_penalty(critic, real, fake).device == AWAY
        lazy = losses.LazyPenalty(losses.gradient_penalty, every=2)
        assert lazy(critic, real, fake).device == lazy(critic, real, fake).device == AWAY
        losses.clip_weights(critic, 0.01)
        assert nets.diff_augment(torch.rand(4, 1, 28, 28, device=AWAY)).device == AWAY
