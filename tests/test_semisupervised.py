"""Lesson 9's package: the K+1 discriminator, its losses and games, the split of the digits, the
``semi-supervised`` benchmark and ``python -m gancourse.classify``."""

import json
import subprocess
import sys
from dataclasses import fields, replace

import numpy as np
import pytest
import torch
from test_conditional import Untouchable

from gancourse import bench, classify, recipes, semisupervised
from gancourse.data import load_mnist
from gancourse.evaluator import gan_training_digits, held_out_digits
from gancourse.semisupervised import KPlusOneDiscriminator, Split, split_digits


def with_generated_class(logits: torch.Tensor) -> torch.Tensor:
    """The K+1 logits written out: the K of D and a (K+1)-th fixed at 0."""
    return torch.cat([logits, torch.zeros(len(logits), 1)], dim=1)


def test_fixing_the_generated_logit_at_zero_gives_d_as_z_over_z_plus_one():
    logits = torch.randn(64, 10) * 4
    p = with_generated_class(logits).softmax(dim=1)
    z = logits.exp().sum(dim=1, keepdim=True)
    torch.testing.assert_close(p[:, 10:], 1 / (z + 1))
    torch.testing.assert_close(semisupervised.real_probability(logits), z / (z + 1))
    torch.testing.assert_close(semisupervised.real_probability(logits), 1 - p[:, 10:])
    # a shift of all K+1 logits changes no probability: that is why the last can be fixed at 0
    shifted = with_generated_class(logits) + 3.0
    torch.testing.assert_close(shifted.softmax(dim=1), p)


def test_the_losses_are_salimans_l_sup_and_half_l_unsup():
    torch.manual_seed(0)
    labelled, unlabelled, fake = torch.randn(3, 32, 10) * 3
    labels = torch.randint(0, 10, (32,))
    p_lab = with_generated_class(labelled).softmax(dim=1)
    l_sup = -torch.log(p_lab[torch.arange(32), labels] / (1 - p_lab[:, 10])).mean()
    torch.testing.assert_close(semisupervised.supervised_loss(labelled, labels), l_sup)
    p_unl = with_generated_class(unlabelled).softmax(dim=1)
    p_fake = with_generated_class(fake).softmax(dim=1)
    l_unsup = -torch.log(1 - p_unl[:, 10]).mean() - torch.log(p_fake[:, 10]).mean()
    torch.testing.assert_close(semisupervised.unsupervised_loss(unlabelled, fake), l_unsup / 2)


def test_feature_matching_is_the_mean_squared_gap_of_the_batch_means():
    real, fake = torch.randn(50, 8), torch.randn(40, 8) + 1.0
    gap = fake.mean(0) - real.mean(0)
    torch.testing.assert_close(semisupervised.feature_matching_loss(fake, real), gap.pow(2).mean())
    assert semisupervised.feature_matching_loss(real[torch.randperm(50)], real) < 1e-12


def test_the_noise_layers_act_only_while_training():
    classifier = KPlusOneDiscriminator((32, 16))
    images = torch.rand(8, 1, 28, 28) * 2 - 1
    classifier.eval()
    assert torch.equal(classifier(images), classifier(images))
    classifier.train()
    assert not torch.equal(classifier(images), classifier(images))
    assert classifier(images).shape == (8, 10) and classifier.features(images).shape == (8, 16)


@pytest.fixture(scope="module")
def digits():
    return load_mnist(verbose=False)


def test_the_split_draws_ten_labels_of_each_class_and_holds_out_the_test_digits(digits):
    split = split_digits(digits, per_class=10, seed=0)
    pool = gan_training_digits(digits)
    assert torch.equal(split.labels.bincount(minlength=10), torch.full((10,), 10))
    assert len(split.labelled) + len(split.unlabelled) == len(pool)
    assert len(split.test) == 1000 and torch.equal(split.test, held_out_digits(digits).images)
    flat = {tuple(x.flatten().tolist()[::7]) for x in pool.images}  # the GAN's part, by pixels
    assert not any(tuple(x.flatten().tolist()[::7]) in flat for x in split.test[:200])
    labelled = {tuple(x.flatten().tolist()) for x in split.labelled}
    assert not any(tuple(x.flatten().tolist()) in labelled for x in split.unlabelled)
    other = split_digits(digits, per_class=10, seed=1)
    assert not torch.equal(other.labelled, split.labelled)
    assert torch.equal(split_digits(digits, 10, seed=0).labelled, split.labelled)


def test_a_split_does_not_hold_the_unlabelled_digits_labels():
    assert [f.name for f in fields(Split)] == [
        "labelled", "labels", "unlabelled", "test", "test_labels", "source"
    ]  # fmt: skip


@pytest.mark.parametrize("recipe", recipes.SEMI_SUPERVISED, ids=lambda r: r.name)
def test_training_reads_no_label_but_the_labelled_digits(digits, recipe):
    split = split_digits(digits, per_class=10, seed=0)
    trapped = replace(split, test_labels=split.test_labels.as_subclass(Untouchable))
    with pytest.raises(AssertionError, match="the labels were read"):
        trapped.test_labels + 1  # the trap works
    small = replace(recipe, k_plus_one_hidden=(32, 16), shift=0)  # digits as they are
    run = recipes.build(small, trapped, seed=0)
    history = recipes.train(run, small, steps=3, progress=False)
    assert len(history) == 3
    # every label a batch carries is the label of the labelled digit it comes with
    images, labels, _ = run.sample_data(256)
    index = (images.flatten(1)[:, None] == split.labelled.flatten(1)[None]).all(-1).int().argmax(1)
    assert torch.equal(split.labels[index], labels)


def test_the_three_recipes_differ_only_in_what_trains_the_classifier():
    labels_only, usual, matching = recipes.SEMI_SUPERVISED

    def same(recipe):  # all but the name, the kind and the seconds of training
        return replace(recipe, name="x", semi_supervised="feature_matching", full_seconds=1.0,
                       quick_steps=1)  # fmt: skip

    assert same(labels_only) == same(usual) == same(matching)
    run = recipes.build(labels_only, split_digits(load_mnist(verbose=False), 10))
    assert run.discriminator is None and run.game.has_d_side is False
    assert isinstance(semisupervised.classifier_of(run), KPlusOneDiscriminator)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"players": "k_plus_one"}, "has players='k_plus_one', and only it"),
        ({"semi_supervised": "feature_matching"}, "has players='k_plus_one', and only it"),
        ({"players": "k_plus_one", "semi_supervised": "nope"}, "unknown semi_supervised"),
    ],
)
def test_bad_semi_supervised_recipes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        recipes.Recipe("bad", **kwargs)


def test_a_split_goes_to_a_semi_supervised_recipe_and_digits_to_the_others(digits):
    with pytest.raises(ValueError, match="learns a semisupervised.Split"):
        recipes.build(recipes.K_PLUS_ONE_FM, digits)
    with pytest.raises(ValueError, match="is not semi-supervised"):
        recipes.build(recipes.IMPROVED, split_digits(digits, 10))


@pytest.mark.parametrize(
    ("labels", "message"),
    [(15, "multiple of 10"), (0, "10 or more"), (2.5, "whole number"), (True, "whole number")],
)
def test_label_counts_must_give_every_class_as_many(labels, message):
    with pytest.raises(ValueError, match=message):
        semisupervised.labels_per_class(labels)


def test_asking_for_more_labels_than_a_class_has_is_refused(digits):
    with pytest.raises(ValueError, match="ask for fewer"):
        split_digits(digits, per_class=400)


def test_the_semi_supervised_benchmark_writes_errors_samples_and_a_classifier(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    small = tuple(replace(r, quick_steps=5) for r in recipes.SEMI_SUPERVISED)
    monkeypatch.setattr(recipes, "SEMI_SUPERVISED", small)
    result = bench.run("semi-supervised", "quick", tmp_path, labels=20)
    assert result["labels"] == 20 and result["test_digits"] == 1000
    assert set(result["test_error"]) == {"labels_only", "non_saturating", "feature_matching"}
    assert all(0 <= e <= 1 for e in result["test_error"].values())
    assert result["unlabelled_labels_read"] is False
    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (10_000, 1, 28, 28) and -1 <= samples.min() <= samples.max() <= 1
    assert json.loads((tmp_path / "result.json").read_text())["name"] == "semi-supervised"
    # the classifier scores the held-out digits as the benchmark did
    held = held_out_digits(load_mnist(verbose=False))
    np.save(tmp_path / "held.npy", held.images.numpy())
    predicted = classify.classify(
        tmp_path / "classifier.pt", tmp_path / "held.npy", tmp_path / "p.npy"
    )
    assert predicted.shape == (1000,) and predicted.dtype == np.int64
    error = float((predicted != held.labels.numpy()).mean())
    assert error == pytest.approx(result["test_error"]["feature_matching"], abs=1e-6)
    assert np.array_equal(np.load(tmp_path / "p.npy"), predicted)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["semi-supervised", "--labels", "15", "--out", "x"], "multiple of 10"),
        (["dcgan", "--labels", "100", "--out", "x"], "--labels is for semi-supervised"),
    ],
)
def test_bad_label_counts_on_the_command_line_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    torch.manual_seed(0)
    classifier = KPlusOneDiscriminator((32, 16))
    classify.save_classifier(folder / "classifier.pt", classifier)
    return folder / "classifier.pt", classifier


def test_a_saved_classifier_reads_back_and_predicts_the_same(saved_classifier, tmp_path):
    path, classifier = saved_classifier
    images = torch.rand(20, 1, 28, 28) * 2 - 1
    read = classify.read_classifier(path)
    predicted = semisupervised.predict(read, images)
    assert torch.equal(predicted, semisupervised.predict(classifier, images))
    np.save(tmp_path / "in.npy", images.numpy())
    done = subprocess.run(
        [sys.executable, "-m", "gancourse.classify", str(path), str(tmp_path / "in.npy"),
         str(tmp_path / "out.npy")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "20 predictions written" in done.stdout
    assert np.load(tmp_path / "out.npy").shape == (20,)


def images_file(tmp_path, array):
    np.save(tmp_path / "in.npy", array)
    return str(tmp_path / "in.npy")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((5, 28, 28), np.float32) - 1, "add the channel axis: images[:, None]"),
        (np.zeros((5, 784), np.float32), "expected images shaped (N, 1, 28, 28)"),
        (np.zeros((0, 1, 28, 28), np.float32), "N >= 1"),
        (np.full((2, 1, 28, 28), 255, np.uint8), "expected floats in [-1, 1]"),
        (np.full((2, 1, 28, 28), 200.0, np.float32), "x / 127.5 - 1"),
        (np.full((2, 1, 28, 28), np.nan, np.float32), "NaN or infinite"),
        (np.linspace(0, 1, 2 * 784, dtype=np.float32).reshape(2, 1, 28, 28), "give 2 x - 1"),
    ],
)
def test_classify_refuses_images_it_cannot_read(saved_classifier, tmp_path, array, message, capsys):
    path, _ = saved_classifier
    with pytest.raises(SystemExit) as exit_info:
        classify.main([str(path), images_file(tmp_path, array), str(tmp_path / "out.npy")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()


def test_classify_refuses_a_file_that_is_not_a_classifier(saved_classifier, tmp_path, capsys):
    images = images_file(tmp_path, np.zeros((2, 1, 28, 28), np.float32) - 1)
    torch.save({"format": 1, "recipe": {}, "generator": {}}, tmp_path / "generator.pt")
    for given, message in (
        (tmp_path / "missing.pt", "no classifier at"),
        (tmp_path / "generator.pt", "is not a classifier.pt"),
    ):
        with pytest.raises(SystemExit):
            classify.main([str(given), images, str(tmp_path / "out.npy")])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        classify.main([str(saved_classifier[0]), images, str(tmp_path)])
    assert "is a folder" in capsys.readouterr().err
