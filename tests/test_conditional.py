"""Lesson 8's package: the conditional game and its discriminators, InfoGAN, stroke measures,
and their benchmarks (``cgan``, ``infogan``)."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from gancourse import bench, conditional, infogan, losses, nets, recipes, shipped, strokes
from gancourse.data import Digits, load_mnist
from gancourse.evaluator import gan_training_digits, load_or_train_evaluator
from gancourse.games import Players


def bars() -> torch.Tensor:
    """Three 20-pixel strokes on blank paper: upright 2 wide, upright 4 wide, and 2 wide leaning
    right (one column right every three rows up)."""
    images = -torch.ones(4, 1, 28, 28)
    images[0, 0, 4:24, 13:15] = 1
    images[1, 0, 4:24, 12:16] = 1
    for row in range(4, 24):
        images[2, 0, row, 10 + (24 - row) // 3 : 12 + (24 - row) // 3] = 1
    images[3] = images[2].flip(-1)  # leaning left
    return images


def test_stroke_width_grows_with_the_stroke_and_slant_has_the_lean_s_sign():
    width, lean = strokes.stroke_width(bars()), strokes.slant(bars())
    assert 1.5 < width[0] < 2.0 and 3.0 < width[1] < 4.0  # 2 A / P of 2- and 4-pixel strokes
    assert lean[0] == pytest.approx(0, abs=1e-6) and lean[1] == pytest.approx(0, abs=1e-6)
    assert lean[2] == pytest.approx(1 / 3, abs=0.05) and lean[3] == pytest.approx(-1 / 3, abs=0.05)
    blank = -torch.ones(1, 1, 28, 28)
    assert strokes.stroke_width(blank).item() == 0 and strokes.slant(blank).item() == 0


def test_labels_asked_for_cover_every_class_and_wrong_labels_are_always_wrong():
    _, asked = conditional.labelled_noise(8)(2000)
    assert set(asked.tolist()) == set(range(10))  # randint(0, 9) would never ask for a 9
    labels = torch.arange(10).repeat(100)
    wrong = conditional.wrong_labels(labels)
    assert (wrong != labels).all() and set(wrong.tolist()) == set(range(10))
    assert conditional.asked_labels(25).tolist() == [*range(10), *range(10), *range(5)]


def test_the_matching_aware_loss_counts_a_wrong_label_as_fake_with_its_share():
    torch.manual_seed(0)
    generator, discriminator = (
        conditional.ConditionalGenerator(8, 4),
        (conditional.ProjectionDiscriminator(4)),
    )
    players = Players(generator, discriminator, None, None)
    images, labels = torch.rand(16, 1, 28, 28) * 2 - 1, torch.arange(16) % 10
    z = torch.randn(16, 8)
    base = recipes.GAMES["non_saturating"]
    games = {m: conditional.ConditionalGame("c", base.d_cost, base.g_cost, m) for m in (0, 0.5)}
    generator.eval(), discriminator.eval()  # batch statistics and spectral norm frozen
    torch.manual_seed(1)
    plain = games[0].d_loss(players, (images, labels), (z, labels)).loss
    torch.manual_seed(1)
    aware = games[0.5].d_loss(players, (images, labels), (z, labels)).loss
    torch.manual_seed(1)
    wrong = conditional.wrong_labels(labels)
    real, fake = discriminator(images, labels), discriminator(generator(z, labels), labels)
    w = discriminator(images, wrong)
    expected = losses.discriminator_loss(real, fake) * 0.5 + 0.5 * losses.discriminator_loss(
        real, w
    )
    assert plain.item() == pytest.approx(losses.discriminator_loss(real, fake).item(), rel=1e-5)
    assert aware.item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_projection_discriminator_reads_the_label_only_through_the_inner_product():
    torch.manual_seed(0)
    discriminator = conditional.ProjectionDiscriminator(4).eval()
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        logits = [discriminator(images, torch.full((3,), c)) for c in range(10)]
        pooled = discriminator.body(images).sum(dim=(2, 3))
        unconditional = discriminator.head(discriminator.body(images)).flatten(1)
        for c, logit in enumerate(logits):
            projection = pooled @ discriminator.embed.weight[c]
            assert torch.allclose(logit[:, 0], unconditional[:, 0] + projection, atol=1e-5)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"condition": "concat", "game": "wgan_gp", "d_norm": "none"}, "without penalty"),
        ({"condition": "projection", "d_norm": "batch"}, "spectral norm and nothing else"),
        ({"condition": "projection", "mismatch": 1.0}, r"share in \[0, 1\)"),
        ({"infogan": True, "condition": "concat"}, "conditional or InfoGAN, not both"),
        ({"condition": "labels"}, "unknown condition 'labels'"),
    ],
)
def test_lesson8_recipes_refuse_what_they_cannot_be(settings, message):
    with pytest.raises(ValueError, match=message):
        replace(recipes.IMPROVED, **settings)


def test_a_conditional_recipe_trains_on_labelled_digits_and_refuses_unlabelled_data():
    digits = gan_training_digits(load_mnist(verbose=False))
    for condition in ("concat", "projection"):
        recipe = replace(recipes.CGAN, condition=condition)
        run = recipes.build(recipe, digits, seed=0)
        history = recipes.train(run, recipe, steps=2, progress=False)
        assert len(history) == 2 and run.game.name == "conditional_non_saturating"
        drawn = conditional.sample_for_labels(run.generator, torch.arange(10), seed=1)
        assert drawn.shape == (10, 1, 28, 28)
    with pytest.raises(ValueError, match="labelled digits"):
        recipes.build(recipes.CGAN, digits.images)


def test_the_evaluator_scores_real_digits_as_what_they_are():
    digits = load_mnist(verbose=False)
    evaluator, training = load_or_train_evaluator(digits), gan_training_digits(digits)
    accuracy = evaluator.label_accuracy(training.images, training.labels)
    assert accuracy > 0.9 and abs(accuracy - evaluator.accuracy) < 0.03
    assert evaluator.class_frechet_ratios(training.images, training.labels) == [1.0] * 10
    shuffled = training.labels[
        torch.randperm(len(training), generator=torch.Generator().manual_seed(0))
    ]
    assert min(evaluator.class_frechet_ratios(training.images, shuffled)) > 3  # wrong classes


def test_the_best_mapping_finds_a_relabelling_and_the_bound_has_its_ceiling():
    classes = torch.arange(1000) % 10
    codes = (classes * 3 + 1) % 10  # a permutation of the classes
    mapping, accuracy = infogan.best_mapping(codes, classes)
    assert accuracy == 1.0 and all(mapping[(c * 3 + 1) % 10] == c for c in range(10))
    _, chance = infogan.best_mapping(
        torch.randint(0, 10, (5000,), generator=torch.Generator().manual_seed(0)),
        torch.randint(0, 10, (5000,), generator=torch.Generator().manual_seed(1)),
    )
    assert chance < 0.15
    assert infogan.mutual_information_bound(math.log(10)) == pytest.approx(0)


class Untouchable(torch.Tensor):
    """A tensor that fails the run when anything reads it."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise AssertionError(f"the labels were read ({func.__name__})")


def test_infogan_trains_without_reading_a_label():
    digits = gan_training_digits(load_mnist(verbose=False))
    poisoned = Digits(digits.images, digits.labels, digits.source)
    object.__setattr__(poisoned, "labels", digits.labels.as_subclass(Untouchable))
    with pytest.raises(AssertionError, match="the labels were read"):
        poisoned.labels + 1  # the trap works
    recipe = recipes.INFOGAN
    run = recipes.build(recipe, poisoned, seed=0)
    history = recipes.train(run, recipe, steps=3, progress=False)
    assert len(history) == 3 and run.game.name == "infogan_non_saturating"


def test_infogan_raises_the_bound_on_the_categorical_code():
    images = gan_training_digits(load_mnist(verbose=False)).images[:512]
    recipe = replace(recipes.INFOGAN, width=8)
    run = recipes.build(recipe, images, seed=0)
    noise = infogan.info_noise()(512)

    def bound() -> float:
        with torch.no_grad():
            q = run.discriminator.eval().judge_and_read(run.generator.eval()(*noise))[1]
        run.discriminator.train(), run.generator.train()
        return infogan.mutual_information_bound(
            torch.nn.functional.cross_entropy(q[:, :10], noise[1]).item()
        )

    before = bound()
    recipes.train(run, recipe, steps=150, progress=False)
    assert before < 0.1 and bound() > 1.0, (before, bound())


def test_cgan_quick_writes_digits_and_the_labels_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(recipes, "CGAN", replace(recipes.CGAN, quick_steps=8))
    result = bench.run("cgan", "quick", tmp_path)
    samples, labels = np.load(tmp_path / "samples.npy"), np.load(tmp_path / "labels.npy")
    assert samples.shape == (10_000, 1, 28, 28) and labels.shape == (10_000,)
    assert np.bincount(labels).tolist() == [1000] * 10 and labels.dtype == np.int64
    assert 0 <= result["label_accuracy"] <= 1 and len(result["class_frechet_ratios"]) == 10
    assert result["steps"] == 8 and len(result["curve"]) == 8
    assert ships_and_scores_again(tmp_path, monkeypatch) == {"frechet_ratio", "label_accuracy"}


def test_infogan_quick_writes_digits_and_their_codes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(recipes, "INFOGAN", replace(recipes.INFOGAN, quick_steps=8))
    result = bench.run("infogan", "quick", tmp_path)
    samples, codes = np.load(tmp_path / "samples.npy"), np.load(tmp_path / "codes.npy")
    assert samples.shape == (10_000, 1, 28, 28) and codes.shape == (10_000,)
    assert np.bincount(codes).tolist() == [1000] * 10
    assert 0 <= result["mapping_accuracy"] <= 1 and sorted(result["mapping"].values()) == list(
        range(10)
    )
    assert set(result["continuous_0"]) == {"slant_per_unit", "width_per_unit", "class_kept"}
    assert ships_and_scores_again(tmp_path, monkeypatch) == {"frechet_ratio", "mapping_accuracy"}


def ships_and_scores_again(out, monkeypatch) -> set[str]:
    """Ship the generator a benchmark wrote to ``out``, load it, measure it again under another
    GANCOURSE_SEED: the same samples (its labels or codes too) give the same figures. Returns
    the names of the figures compared."""
    folder = out / "shipped"
    monkeypatch.setattr(shipped, "FOLDER", folder)
    monkeypatch.setattr(shipped, "MANIFEST", folder / "models.json")
    shipped.add("lesson8-test", out)
    monkeypatch.setenv("GANCOURSE_SEED", "3")
    evaluator = load_or_train_evaluator(load_mnist())
    rows = shipped.measure_again("lesson8-test", shipped.load("lesson8-test", "cpu"), evaluator)
    assert all(row["now"] == pytest.approx(row["then"], rel=1e-6) for row in rows.values()), rows
    return set(rows)


def test_captions_say_the_class_and_the_measured_attributes_and_hold_out_one_pairing_per_class():
    training = gan_training_digits(load_mnist(verbose=False))
    images, tokens, attributes = conditional.captioned(training)
    thick, right = attributes.measure(training.images, training.labels)
    assert 0.45 < thick.float().mean() < 0.55 and 0.45 < right.float().mean() < 0.55  # medians
    first = conditional.caption_tokens(training.labels[:1], thick[:1], right[:1])[0]
    words = conditional.caption_text(first).split()
    assert words[2] == conditional.NUMBERS[training.labels[0]] and words[0] == "a"
    assert words[1] == ("thick" if thick[0] else "thin") and words[4] == (
        "right" if right[0] else "left"
    )
    # a quarter of each class is held out: its combination never appears in training
    combination = (
        2 * (tokens[:, 1] == conditional.WORD["thick"]).long()
        + (tokens[:, 4] == conditional.WORD["right"]).long()
    )
    digit = tokens[:, 2] - conditional.WORD["zero"]
    assert not (combination == digit % 4).any()
    assert 0.65 < len(images) / len(training) < 0.85
    shuffled = conditional.other_captions(tokens)
    assert (shuffled != tokens).any(dim=1).float().mean() > 0.9  # mostly another caption


def test_a_caption_is_a_bag_of_words_whose_order_does_not_matter():
    tokens = torch.tensor([[conditional.WORD[w] for w in "a thick seven slanted left".split()]])
    counts = conditional.word_counts(tokens, torch.zeros(1))
    assert counts.sum() == 5 and counts[0, conditional.WORD["seven"]] == 1
    generator = conditional.CaptionGenerator(latent_dim=4, width=8).eval()
    z = torch.randn(1, 4)
    assert torch.equal(generator(z, tokens), generator(z, tokens.flip(1)))


def test_a_caption_recipe_trains_on_captioned_digits():
    training = gan_training_digits(load_mnist(verbose=False))
    run = recipes.build(recipes.CAPTIONS, training, seed=0)
    (images, tokens), (z, asked) = run.sample_data(8), run.sample_noise(8)
    assert z.shape == (8, 100)
    assert images.shape == (8, 1, 28, 28) and tokens.shape == asked.shape == (8, 5)
    history = recipes.train(run, recipes.CAPTIONS, steps=2, progress=False)
    assert len(history) == 2 and run.game.wrong is conditional.other_captions


def test_concepts_are_confident_digits_of_their_class_at_the_ends_of_the_stroke_widths():
    from gancourse import latent, shipped

    evaluator = load_or_train_evaluator(load_mnist(verbose=False))
    generator = shipped.load("dcgan-improved", "cpu")
    pool = latent.draw_pool(generator, evaluator, 3000, seed=5)
    thick, thin = pool.concept(7, high=True), pool.concept(7, high=False)
    assert (pool.classes[thick] == 7).all() and (pool.confidence[thin] > 0.9).all()
    assert pool.attribute[thick].min() > pool.attribute[thin].max()
    a, b, c = torch.randn(3, 1, 100), torch.randn(3, 1, 100), torch.randn(3, 1, 100)
    assert torch.allclose(latent.combine(a, b, c), a.mean(0) - b.mean(0) + c.mean(0))
    rates = latent.success_rate(generator, evaluator, pool, 7, 3, exemplars=3, trials=20, seed=0)
    assert 0 <= rates["target_and_higher"] <= rates["target_class"] <= 1
    leaning = latent.draw_pool(generator, evaluator, 3000, seed=5, measure=strokes.slant)
    assert torch.equal(leaning.codes, pool.codes) and torch.equal(leaning.classes, pool.classes)
    assert torch.allclose(leaning.attribute, strokes.slant(nets.decode(generator, pool.codes)))
