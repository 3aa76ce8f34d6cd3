"""Recipes: every lesson's way to train a GAN, in one vocabulary and one table.

A :class:`Recipe` names the players, the game, the optimiser and the budget. :func:`build`
makes a recipe's players for a target from a seed (the models are there before training, for
a callback to watch); :func:`train` trains them in the shared loop (``train.train_gan``).
``RECIPES`` holds every named preset, one row each, so that how two recipes differ is seen at a
glance (after StyleGAN2-ADA's ``cfg_specs``, Karras et al. 2020). The measurements behind the
presets are in the README.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import config
from .bigan import (
    PIXELS,
    BiGANGame,
    ConvJointDiscriminator,
    JointDiscriminator,
    digit_encoder,
    digit_generator,
    encoder_mlp,
)
from .checkpoint import Checkpoint
from .conditional import (
    DISCRIMINATORS,
    CaptionDiscriminator,
    CaptionGenerator,
    ConditionalGame,
    ConditionalGenerator,
    caption_samplers,
    labelled_noise,
    labelled_sampler,
    other_captions,
    wrong_labels,
)
from .data import Digits, Gaussian1D, Mixture2D, mixture, tensor_sampler
from .games import GAMES, Batch, Game, Players, WithPlayers, game
from .history import History
from .infogan import InfoDiscriminator, InfoGame, InfoGenerator, info_noise
from .losses import check_every
from .nets import (
    AugmentedDiscriminator,
    MinibatchDiscriminator,
    Packed,
    Scale,
    conv_encoder,
    dcgan_discriminator,
    dcgan_generator,
    fast_layout,
    mlp,
)
from .semisupervised import (
    KPlusOneDiscriminator,
    KPlusOneGame,
    SalimansGenerator,
    Split,
    SupervisedGame,
    split_sampler,
    uniform_noise,
)
from .train import linear_to_zero, train_gan

PLAYERS = ("mlp", "dcgan", "k_plus_one")
D_KINDS = ("plain", "minibatch", "pacgan2")
D_NORMS = ("batch", "spectral", "none")
CONDITIONS = ("none", *DISCRIMINATORS, "caption")
OPTIMIZERS = ("adam", "rmsprop")
SEMI_SUPERVISED_KINDS = ("none", "feature_matching", "non_saturating", "labels_only")
DCGAN_LATENT_DIM = 100
GAUSSIAN_1D = Gaussian1D(mean=2.0, std=0.5)  # lessons 1 and 2's target


@dataclass(frozen=True)
class Recipe:
    """One way to train a GAN. The same names in every lesson: ``lr_d`` is D's learning rate,
    ``n_critic`` the k of Algorithm 1 (D steps per G step)."""

    name: str
    players: str = "mlp"
    """"mlp" (lessons 1, 2 and 4 to 6: multilayer perceptrons), "dcgan" (lessons 3, 5, 6, 8) or
    "k_plus_one" (lesson 9: Salimans et al.'s MLPs, D a classifier with K logits)."""
    latent_dim: int = 2
    """z's dimensions (an MLP's; the DCGAN's are ``DCGAN_LATENT_DIM``)."""
    g_hidden: int = 128
    g_layers: int = 3
    g_activation: str = "relu"
    d_hidden: int = 128
    d_layers: int = 3
    d_kind: str = "plain"
    """An MLP D: "plain", "minibatch" (minibatch discrimination before its last layer,
    Salimans et al. 2016) or "pacgan2" (judges two samples at a time, Lin et al. 2018)."""
    kernels: int = 16
    """Minibatch discrimination's B kernels of ``kernel_dim`` = C dimensions."""
    kernel_dim: int = 8
    average: bool = True
    """Minibatch discrimination's o(x) as a mean over the batch, not the paper's sum."""
    standardize: bool = False
    """G and D work in units of the target's standard deviation (``nets.Scale`` at G's output
    and D's input), and the gradient penalty's unit slope is per standard deviation."""
    width: int = 64
    """The DCGAN's channels: G's last hidden layer has 2 * width, D's first layer width."""
    d_norm: str = "batch"
    """The DCGAN D's normalisation: "batch" (the paper), "spectral" (Miyato et al. 2018), "none"."""
    minibatch_std: bool = False
    """The DCGAN D sees the batch's spread (Karras et al. 2017)."""
    augment: bool = False
    """DiffAugment on everything the DCGAN D sees (Zhao et al. 2020)."""
    condition: str = "none"
    """A DCGAN conditioned on the digit's class (``conditional``): "concat" (D reads the label
    as constant feature maps) or "projection" (Miyato and Koyama 2018); or on a caption
    ("caption": "a thick seven slanted left", a bag of words); "none": unconditional."""
    mismatch: float = 0.0
    """A conditional D's matching-aware share (Reed et al. 2016): real images with a wrong label
    count as fake with this weight, generated ones with 1 - mismatch."""
    infogan: bool = False
    """InfoGAN (Chen et al. 2016, ``infogan``): G reads a categorical and two continuous codes
    beside z, and a head Q on D's body reads them back."""
    info_weight: float = 1.0
    """InfoGAN's lambda: the weight of -L_I on both sides."""
    info_continuous_weight: float = 1.0
    """The continuous codes' share of -L_I (the authors' MNIST code: 1)."""
    semi_supervised: str = "none"
    """Lesson 9 (players="k_plus_one", ``semisupervised``): the K+1 GAN with G's objective,
    "feature_matching" or "non_saturating"; or "labels_only", the classifier alone on the
    labelled digits (no generator, no adversary)."""
    k_plus_one_hidden: tuple[int, ...] = (1000, 500, 250, 250, 250)
    """The K+1 discriminator's hidden layers."""
    shift: int = 0
    """Lesson 9: every real digit the classifier sees is moved by up to this many pixels
    (``semisupervised.random_shift``)."""
    encoder: bool = False
    """ALI / BiGAN (lesson 10, ``bigan``): an MLP encoder E: x -> z (``e_hidden`` x
    ``e_layers``) trains beside G, and D judges (x, z) pairs."""
    e_hidden: int = 128
    e_layers: int = 3
    dropout: float = 0.0
    """Dropout after each of D's hidden layers (the BiGAN D on digits)."""
    latent_regression: float = 0.0
    """ALI / BiGAN: the weight of ||E(G(z)) - z||^2 on the G and E side (``bigan.BiGANGame``)."""
    game: str = "non_saturating"
    """A name from ``games.GAMES``."""
    clip: float = 0.01
    """wgan_clip: the bound c on every critic weight."""
    gp_weight: float = 10.0
    """wgan_gp: lambda."""
    gp_every: int = 1
    """wgan_gp: the penalty on one critic step in gp_every, times gp_every (lazy)."""
    optimizer: str = "adam"
    """"adam" with (beta1, beta2), or "rmsprop" as in WGAN's Algorithm 1."""
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    """Adam's first-moment decay: DCGAN lowers it from 0.9 to 0.5."""
    beta2: float = 0.999
    n_critic: int = 1
    batch_size: int = 64
    lr_decay: bool = False
    """Both learning rates fall linearly to zero over the run (``train.linear_to_zero``)."""
    quick_steps: int = 150
    full_steps: int | None = 2000
    """With ``full_seconds``, the most steps (a fast GPU stops there); None: the clock alone."""
    full_seconds: float | None = None
    """The full budget in seconds of training, if it has one."""

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("players", self.players, PLAYERS),
            ("d_kind", self.d_kind, D_KINDS),
            ("d_norm", self.d_norm, D_NORMS),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("game", self.game, tuple(GAMES)),
            ("condition", self.condition, CONDITIONS),
            ("semi_supervised", self.semi_supervised, SEMI_SUPERVISED_KINDS),
        ):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}: choose one of {', '.join(choices)}")
        check_every(self.gp_every, "gp_every")
        game(self.game, clip=self.clip, gp_weight=self.gp_weight, gp_every=self.gp_every)
        for name in ("n_critic", "batch_size", "quick_steps", "latent_dim", "width"):
            config.check_count(getattr(self, name), name)
        for name in ("lr_g", "lr_d"):
            config.check_learning_rate(getattr(self, name), name)
        penalised = self.game == "wgan_gp"
        if penalised and (
            self.d_kind != "plain" or (self.d_norm == "batch" and self.players == "dcgan")
        ):
            raise ValueError(
                "the gradient penalty is per sample, and batch norm, minibatch features and "
                "packs make each score depend on the whole batch (Gulrajani et al. 2017, "
                "section 4): use a plain D with d_norm='none'"
            )
        if self.condition != "none" or self.infogan:
            self._check_conditional()
        if (self.players == "k_plus_one") != (self.semi_supervised != "none"):
            raise ValueError(
                "a semi-supervised recipe (semi_supervised='feature_matching', "
                "'non_saturating' or 'labels_only') has players='k_plus_one', and only it: got "
                f"players={self.players!r}, semi_supervised={self.semi_supervised!r}"
            )
        if self.encoder:
            self._check_bigan()
        elif self.latent_regression:
            raise ValueError("latent_regression is the weight of ||E(G(z)) - z||^2: it needs an "
                             "encoder (encoder=True)")  # fmt: skip
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout is a share in [0, 1), got {self.dropout}")
        if self.d_kind == "pacgan2" and self.batch_size % 2:
            raise ValueError(f"PacGAN-2 needs an even batch size, got {self.batch_size}")

    def _check_bigan(self) -> None:
        """Lesson 10's recipes: an encoder beside G, a plain pair D, the non-saturating game;
        MLPs, or lesson 3's DCGAN with a spectrally normalised pair D."""
        dcgan_ok = self.players == "dcgan" and self.d_norm == "spectral"
        plain = self.d_kind == "plain" and self.game == "non_saturating"
        extras = self.condition != "none" or self.infogan or self.minibatch_std or self.augment
        if not (self.players == "mlp" or dcgan_ok) or not plain or extras:
            raise ValueError(
                "an ALI / BiGAN recipe (encoder=True) has MLP players, or DCGAN players with "
                "d_norm='spectral', a plain pair D (d_kind='plain'), the non-saturating game and "
                f"nothing else: got players={self.players!r}, d_norm={self.d_norm!r}, "
                f"d_kind={self.d_kind!r}, game={self.game!r}"
            )
        if self.latent_regression < 0:
            raise ValueError(f"latent_regression is a weight >= 0, got {self.latent_regression}")

    def _check_conditional(self) -> None:
        """Lesson 8's recipes: a conditional DCGAN or InfoGAN, on lesson 3's improved D."""
        what = "an InfoGAN" if self.infogan else "a conditional"
        plain_game = self.game in ("minimax", "non_saturating", "maximum_likelihood", "hinge")
        if self.players != "dcgan" or not plain_game or self.d_kind != "plain":
            raise ValueError(
                f"{what} recipe is a DCGAN (players='dcgan') with a plain D (d_kind="
                f"'plain') and a game without penalty or clipping (minimax, non_saturating, "
                f"maximum_likelihood, hinge): got players={self.players!r}, d_kind="
                f"{self.d_kind!r}, game={self.game!r}"
            )
        if self.d_norm != "spectral" or self.minibatch_std or self.augment:
            raise ValueError(
                f"{what} D has spectral norm and nothing else (d_norm='spectral', "
                "minibatch_std=False, augment=False)"
            )
        if self.infogan and self.condition != "none":
            raise ValueError("a recipe is conditional or InfoGAN, not both: InfoGAN reads no label")
        if not 0 <= self.mismatch < 1:
            raise ValueError(f"mismatch is a share in [0, 1), got {self.mismatch}")

    def steps(self, budget: str) -> int | None:
        """Training steps at ``budget`` ("quick" or "full"); with :meth:`seconds`, the most
        steps, since the clock usually stops the run first."""
        return config.for_budget(budget, self.quick_steps, self.full_steps)

    def seconds(self, budget: str) -> float | None:
        """Seconds of training at ``budget``, or None where the steps alone decide."""
        return config.for_budget(budget, None, self.full_seconds)

    def lr_schedule(self) -> Callable[[float], float] | None:
        """The schedule for ``train_gan(lr_schedule=...)``: linear_to_zero, or None (constant)."""
        return linear_to_zero if self.lr_decay else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Target = str | Gaussian1D | Mixture2D | Digits | Tensor | Split


def target_named(target: Target) -> Gaussian1D | Mixture2D | Digits | Tensor | Split:
    """A target by name ("gaussian1d", "ring", "grid"); an object passes through."""
    if target == "gaussian1d":
        return GAUSSIAN_1D
    return mixture(target) if isinstance(target, str) else target


def data_sampler(target: Target, device: torch.device | str) -> Callable[[int], Tensor]:
    """``sample_data(m)`` for ``target``, drawing on ``device``: the 1D Gaussian, a 2D mixture,
    or digits (kept on the device once: ``data.tensor_sampler``)."""
    target = target_named(target)
    if isinstance(target, Gaussian1D):
        return lambda m: target.sample(m, device)
    if isinstance(target, Mixture2D):
        return target.sampler(device)
    return tensor_sampler(target.images if isinstance(target, Digits) else target, device)


def _mlp_players(recipe: Recipe, data_dim: int, scale: float) -> tuple[nn.Module, nn.Module]:
    """G: latent_dim -> g_hidden x g_layers -> data_dim; D: data_dim -> d_hidden x d_layers ->
    1 logit (LeakyReLU 0.2), of ``recipe.d_kind``; with ``standardize``, both in units of
    ``scale``."""
    g_widths, d_widths = (recipe.g_hidden,) * recipe.g_layers, (recipe.d_hidden,) * recipe.d_layers
    generator: nn.Module = mlp(recipe.latent_dim, data_dim, g_widths, recipe.g_activation)
    if recipe.encoder:  # D on (x, z) pairs, x in units of the data's spread like E's input
        unit = scale if recipe.standardize else 1.0
        discriminator: nn.Module = JointDiscriminator(
            data_dim, recipe.latent_dim, d_widths, recipe.dropout, unit
        )
        if data_dim == PIXELS:  # digits: BiGAN's MNIST generator
            return digit_generator(recipe.latent_dim, g_widths), discriminator
        generator = nn.Sequential(generator, Scale(unit)) if recipe.standardize else generator
        return generator, discriminator
    if recipe.d_kind == "plain":
        discriminator = mlp(data_dim, 1, d_widths)
    elif recipe.d_kind == "minibatch":
        discriminator = MinibatchDiscriminator(
            recipe.d_hidden, recipe.d_layers, recipe.kernels, recipe.kernel_dim, recipe.average
        )
    else:
        discriminator = Packed(mlp(2 * data_dim, 1, d_widths), m=2)
    if recipe.standardize:
        generator = nn.Sequential(generator, Scale(scale))
        discriminator = nn.Sequential(Scale(1 / scale), discriminator)
    return generator, discriminator


def models(
    recipe: Recipe, device: torch.device | str = "cpu", data_dim: int = 2, scale: float = 1.0
) -> tuple[nn.Module, nn.Module]:
    """The recipe's generator and discriminator on ``device``, freshly initialised from the
    global random state (:func:`build` seeds it first). The DCGAN's are in the channels-last
    layout where the convolution libraries prefer it (``nets.fast_layout``)."""
    if recipe.players == "mlp":
        generator, discriminator = _mlp_players(recipe, data_dim, scale)
        return generator.to(device), discriminator.to(device)
    if recipe.players == "k_plus_one":  # the baseline's classifier is its one side
        classifier = KPlusOneDiscriminator(recipe.k_plus_one_hidden).to(device)
        if recipe.semi_supervised == "labels_only":
            return classifier, None
        return SalimansGenerator().to(device), classifier
    if recipe.encoder:  # BiGAN on digits: lesson 3's G, and a pair D on [conv(x), mlp(z)]
        generator = dcgan_generator(recipe.latent_dim, recipe.width)
        discriminator = ConvJointDiscriminator(recipe.latent_dim, recipe.width, recipe.d_hidden)
        return fast_layout(generator, device), fast_layout(discriminator, device)
    if recipe.infogan:
        generator, discriminator = InfoGenerator(recipe.width), InfoDiscriminator(recipe.width)
        return fast_layout(generator, device), fast_layout(discriminator, device)
    if recipe.condition == "caption":
        generator = CaptionGenerator(DCGAN_LATENT_DIM, recipe.width)
        discriminator = CaptionDiscriminator(recipe.width)
        return fast_layout(generator, device), fast_layout(discriminator, device)
    if recipe.condition != "none":
        generator = ConditionalGenerator(DCGAN_LATENT_DIM, recipe.width)
        discriminator = DISCRIMINATORS[recipe.condition](recipe.width)
        return fast_layout(generator, device), fast_layout(discriminator, device)
    generator = dcgan_generator(DCGAN_LATENT_DIM, recipe.width)
    discriminator = dcgan_discriminator(
        recipe.width, norm=recipe.d_norm, minibatch_std=recipe.minibatch_std
    )
    if recipe.augment:
        discriminator = AugmentedDiscriminator(discriminator)
    return fast_layout(generator, device), fast_layout(discriminator, device)


def encoder_model(
    recipe: Recipe, device: torch.device | str = "cpu", data_dim: int = 2, scale: float = 1.0
) -> nn.Module:
    """An ALI / BiGAN recipe's encoder E: x -> z on ``device`` (``bigan.encoder_mlp``), reading
    x in units of ``scale`` when the recipe standardises."""
    if recipe.players == "dcgan":
        return fast_layout(conv_encoder(recipe.latent_dim, recipe.width), device)
    widths = (recipe.e_hidden,) * recipe.e_layers
    if data_dim == PIXELS:
        return digit_encoder(recipe.latent_dim, widths).to(device)
    unit = scale if recipe.standardize else 1.0
    return encoder_mlp(data_dim, recipe.latent_dim, widths, unit).to(device)


def optimizers(
    recipe: Recipe, generator: nn.Module, discriminator: nn.Module | None
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
    """G's and D's optimisers: Adam with (beta1, beta2), or RMSProp as in WGAN's Algorithm 1
    (none for a missing D)."""

    def make(module: nn.Module | None, lr: float) -> torch.optim.Optimizer | None:
        if module is None:
            return None
        if recipe.optimizer == "rmsprop":
            return torch.optim.RMSprop(module.parameters(), lr=lr)
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(recipe.beta1, recipe.beta2))

    return make(generator, recipe.lr_g), make(discriminator, recipe.lr_d)


def game_of(recipe: Recipe, unit: float = 1.0) -> Game:
    """The recipe's game with its settings (``games.game``); ``unit`` is the distance that counts
    as one for a gradient penalty (the target's standard deviation when standardising). A
    conditional recipe plays its game's costs on labelled batches (``ConditionalGame``)."""
    if recipe.semi_supervised == "labels_only":
        return SupervisedGame()
    if recipe.encoder:
        return BiGANGame(recipe.latent_regression)
    if recipe.semi_supervised != "none":
        return KPlusOneGame(f"k_plus_one_{recipe.semi_supervised}", recipe.semi_supervised)
    if recipe.infogan:
        plain = GAMES[recipe.game]
        return InfoGame(f"infogan_{plain.name}", plain.d_cost, plain.g_cost, recipe.info_weight,
                        recipe.info_continuous_weight, plain.scores)  # fmt: skip
    if recipe.condition != "none":
        plain = GAMES[recipe.game]
        wrong = other_captions if recipe.condition == "caption" else wrong_labels
        return ConditionalGame(f"conditional_{plain.name}", plain.d_cost, plain.g_cost,
                               recipe.mismatch, plain.scores, wrong=wrong)  # fmt: skip
    return game(
        recipe.game,
        clip=recipe.clip,
        gp_weight=recipe.gp_weight,
        gp_unit=unit,
        gp_every=recipe.gp_every,
    )


def latent_dim(recipe: Recipe) -> int:
    """z's dimensions: the DCGAN's 100, but for a BiGAN, whose z is the encoder's output too."""
    return (
        DCGAN_LATENT_DIM if recipe.players == "dcgan" and not recipe.encoder else recipe.latent_dim
    )


@dataclass
class Run(WithPlayers):
    """A built run: the players (``run.generator``, ``run.discriminator``), the game, and the
    samplers of data and noise."""

    players: Players
    game: Game
    sample_data: Callable[[int], Batch]  # a tensor, (images, labels), or a semi-supervised triple
    sample_noise: Callable[[int], Batch]  # z, or (z, labels asked for), or InfoGAN's codes
    source: dict[str, Any] = field(default_factory=dict)  # the seed and the data, for a resume


def describe_target(target: Target) -> str:
    """A short name of the data a run learns, for a checkpoint to compare on resume."""
    target = target_named(target)
    if isinstance(target, Gaussian1D):
        return f"N({target.mean:g}, {target.std:g}^2)"
    if isinstance(target, Mixture2D):
        return target.name
    if isinstance(target, Split):
        return target.source
    images = target.images if isinstance(target, Digits) else target
    where = f", {target.source}" if isinstance(target, Digits) else ""
    return f"images {tuple(images.shape)}{where}"


def build(
    recipe: str | Recipe, target: Target, seed: int = 0, device: torch.device | str = "cpu"
) -> Run:
    """Seed everything with ``seed`` (plus GANCOURSE_SEED), then build ``recipe``'s players
    for ``target`` ("gaussian1d", "ring", "grid", a mixture, digits or a tensor of images) on
    ``device``, their optimisers, its game and the samplers."""
    recipe = recipe_named(recipe)
    target = target_named(target)
    scale = target.coordinate_std if isinstance(target, Mixture2D) else 1.0
    data_dim = 1 if isinstance(target, Gaussian1D) else 2
    data_dim = PIXELS if isinstance(target, Digits | Tensor) else data_dim
    config.seed_everything(seed)
    generator, discriminator = models(recipe, device, data_dim, scale)
    extra = {"encoder": encoder_model(recipe, device, data_dim, scale)} if recipe.encoder else {}
    # G and E share the generator side's optimiser: both want D to swap its answers
    g_side = nn.ModuleList([generator, *extra.values()]) if extra else generator
    opt_g, opt_d = optimizers(recipe, g_side, discriminator)
    unit = scale if recipe.standardize else 1.0
    dims = latent_dim(recipe)
    if recipe.semi_supervised != "none":  # (labelled, labels, unlabelled) and z ~ U(0, 1)
        if not isinstance(target, Split):
            raise ValueError(
                "a semi-supervised recipe learns a semisupervised.Split of the digits: pass "
                "semisupervised.split_digits(data.load_mnist())"
            )
        sample_data = split_sampler(target, device, recipe.shift)
        sample_noise = uniform_noise(device)
    elif isinstance(target, Split):
        raise ValueError(f"recipe {recipe.name!r} is not semi-supervised: give it digits, and a "
                         f"Split to a recipe with players='k_plus_one'")  # fmt: skip
    elif recipe.condition != "none":  # (images, labels) and (z, labels asked for)
        if not isinstance(target, Digits):
            raise ValueError("a conditional recipe learns labelled digits: pass data.load_mnist()")
        if recipe.condition == "caption":
            sample_data, sample_noise = caption_samplers(target, dims, device)
        else:
            sample_data = labelled_sampler(target.images, target.labels, device)
            sample_noise = labelled_noise(dims, device)
    else:  # InfoGAN too: its data sampler reads the images alone, never a label
        sample_data = data_sampler(target, device)
        sample_noise = (
            info_noise(device) if recipe.infogan else lambda m: torch.randn(m, dims, device=device)
        )
    return Run(
        Players(generator, discriminator, opt_g, opt_d, extra),
        game_of(recipe, unit),
        sample_data,
        sample_noise,
        {"seed": config.seeded(seed), "target": describe_target(target)},
    )


def train(
    run: Run,
    recipe: str | Recipe,
    budget: str | None = None,
    *,
    steps: int | None = None,
    time_limit: float | None = None,
    callback: Callable[[int], None] | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = True,
    progress: bool | str = True,
) -> History:
    """Train a built ``run`` with ``recipe``'s batch, k and learning-rate schedule for its
    ``budget`` ("quick" or "full"), or for ``steps`` and/or ``time_limit`` seconds when given.
    With ``checkpoint`` (a path) the run is saved there with the whole recipe, and resumed."""
    recipe = recipe_named(recipe)
    if steps is None and time_limit is None:
        if budget is None:
            raise ValueError("give the budget (quick or full), or steps or time_limit")
        steps, time_limit = recipe.steps(budget), recipe.seconds(budget)
    return train_gan(
        run.players,
        run.game,
        sample_data=run.sample_data,
        sample_noise=run.sample_noise,
        steps=steps,
        time_limit=time_limit,
        batch_size=recipe.batch_size,
        k=recipe.n_critic,
        lr_schedule=recipe.lr_schedule(),
        callback=callback,
        checkpoint=None
        if checkpoint is None
        else Checkpoint(checkpoint, resume=resume, recipe=recipe, source=run.source),
        progress=progress and (progress if isinstance(progress, str) else recipe.name),
    )


# --- the presets ---------------------------------------------------------------------------
# Lessons 1 and 2: G 1 -> 32 -> 32 -> 1 (tanh), D 1 -> 64 -> 64 -> 1; Adam 1e-3, beta1 0.5,
# decayed linearly to zero; m = 256, k = 3.
LESSON1 = Recipe(
    "lesson1", latent_dim=1, g_hidden=32, g_layers=2, g_activation="tanh", d_hidden=64,
    d_layers=2, lr_g=1e-3, lr_d=1e-3, n_critic=3, batch_size=256, lr_decay=True,
    quick_steps=1000, full_steps=2000,
)  # fmt: skip
# Lesson 4: the mode-collapse setting of the Unrolled GAN paper (Metz et al. 2016, appendix A):
# z in 256 dimensions, G 2 x 128 ReLU, D 1 x 128; Adam 1e-3 decayed to 0, beta1 0.5; batch 256.
LESSON4 = Recipe(
    "lesson4", latent_dim=256, g_layers=2, d_layers=1, kernels=8, kernel_dim=4,
    batch_size=256, lr_g=1e-3, lr_d=1e-3, lr_decay=True, quick_steps=1500, full_steps=6000,
)  # fmt: skip
# Lesson 5: deeper players that can place sharp samples on separate modes: z in 16
# dimensions, G 4 x 256 ReLU, D 3 x 128; batch 128. The grid's 25 modes take longer.
LESSON5_RING = replace(
    LESSON4, name="lesson5_ring", latent_dim=16, g_hidden=256, g_layers=4, d_layers=3,
    batch_size=128, quick_steps=1500, full_steps=8000,
)  # fmt: skip
LESSON5_GRID = replace(LESSON5_RING, name="lesson5_grid", quick_steps=2000, full_steps=20000)
# Lesson 6 on the grid: WGAN-GP as in its authors' toy code (Gulrajani et al. 2017, gan_toy.py):
# z in 2 dimensions, G and critic 3 x 128, n_critic 5, betas (0.5, 0.9), standardised data,
# lambda 0.1; and WGAN's Algorithm 1 on the same players: clipping at 0.01, RMSProp at 5e-5.
WGAN_GP_2D = replace(
    LESSON4, name="wgan_gp_2d", latent_dim=2, g_layers=3, d_layers=3, game="wgan_gp",
    n_critic=5, beta2=0.9, gp_weight=0.1, standardize=True, quick_steps=1000, full_steps=5000,
)  # fmt: skip
WGAN_CLIP_2D = replace(
    WGAN_GP_2D, name="wgan_clip_2d", game="wgan_clip", optimizer="rmsprop", lr_g=5e-5,
    lr_d=5e-5,
)  # fmt: skip
# Lesson 3: DCGAN (Radford et al. 2015) adapted to 28x28; the improved recipe fits the best
# digits into ten minutes of a 2-core CPU (each change measured: README, "DCGAN levers").
PLAIN = Recipe("plain", players="dcgan")
IMPROVED = Recipe(
    "improved", players="dcgan", width=24, d_norm="spectral", lr_g=1e-3, lr_d=1e-3,
    lr_decay=True, quick_steps=600, full_steps=40_000, full_seconds=600.0,
)  # fmt: skip
# Lesson 6 on MNIST: WGAN-GP in the same ten minutes; beta1 0, lambda 1, the penalty on one
# critic step in 4 (lazy), D twice as fast as G (two time-scales, Heusel et al. 2017).
WGAN_GP = replace(
    IMPROVED, name="wgan_gp", d_norm="none", game="wgan_gp", beta1=0.0, beta2=0.9, lr_d=2e-3,
    gp_weight=1.0, gp_every=4,
)  # fmt: skip
# Lesson 8: the improved recipe conditioned on the digit's class, with a projection D.
CGAN = replace(IMPROVED, name="cgan", condition="projection")
# Lesson 8's tiny text-to-image: captions into G and D, matching-aware (GAN-CLS's share 0.5).
CAPTIONS = replace(IMPROVED, name="captions", condition="caption", mismatch=0.5)
# Lesson 8: InfoGAN on the improved recipe, lambda 1 for both kinds of code (the authors' code).
INFOGAN = replace(IMPROVED, name="infogan", infogan=True)
# Lesson 9: Salimans et al.'s semi-supervised MNIST models (D with K logits, Gaussian noise and
# weight norm; G 500-500 softplus with batch norm), Adam 0.003, beta1 0.5, batch 100; here with
# a narrower D, digits moved by up to 2 pixels, and rates falling to 0 over the budget. The
# baseline is the same classifier on the labelled digits alone, for less time: it stops
# improving within a minute.
K_PLUS_ONE_FM = Recipe(
    "k_plus_one_fm", players="k_plus_one", semi_supervised="feature_matching",
    k_plus_one_hidden=(500, 250, 250), shift=2, lr_g=3e-3, lr_d=3e-3, batch_size=100,
    lr_decay=True, quick_steps=3000, full_steps=None, full_seconds=600.0,
)  # fmt: skip
K_PLUS_ONE_NS = replace(
    K_PLUS_ONE_FM, name="k_plus_one_ns", semi_supervised="non_saturating", quick_steps=1500,
    full_seconds=240.0,
)  # fmt: skip
LABELS_ONLY = replace(
    K_PLUS_ONE_FM, name="labels_only", semi_supervised="labels_only", quick_steps=1500,
    full_seconds=60.0,
)  # fmt: skip
SEMI_SUPERVISED = (LABELS_ONLY, K_PLUS_ONE_NS, K_PLUS_ONE_FM)
# Lesson 10: ALI / BiGAN on the grid: z in 2 dimensions as in ALI's own grid experiment, G
# 4 x 256 ReLU, E and the pair D 3 x 256, the players in units of the grid's spread (lesson 6),
# Adam 1e-3 decayed to 0, batch 128; and the plain GAN with the same G and D, no encoder.
ALI_GRID = Recipe(
    "ali_grid", latent_dim=2, g_hidden=256, g_layers=4, e_hidden=256, e_layers=3, d_hidden=256,
    d_layers=3, encoder=True, standardize=True, lr_g=1e-3, lr_d=1e-3, lr_decay=True,
    batch_size=128, quick_steps=1500, full_steps=30_000,
)  # fmt: skip
GAN_GRID_2D = replace(ALI_GRID, name="gan_grid_2d", encoder=False)
# Lesson 10: BiGAN on digits with lesson 3's improved players (G, Adam 1e-3 falling to 0, spectral
# norm in D) and a 32-dimensional z: E is two strided convolutions, D a pair D with a path for
# x and one for z; G and E also regress E(G(z)) on z with weight 0.25 (BiGAN's authors' "joint
# latent regressor"). The pure game, with BiGAN's own MLPs, is in the README.
BIGAN_MNIST = Recipe(
    "bigan_mnist", players="dcgan", latent_dim=32, width=24, d_norm="spectral", d_hidden=256,
    encoder=True, latent_regression=0.25, lr_g=1e-3, lr_d=1e-3, lr_decay=True, quick_steps=300,
    full_steps=None, full_seconds=300.0,
)  # fmt: skip
# The instructor's playground: lesson 4's players (GAN games), lesson 6's (Wasserstein) and
# lesson 1's (the 1D Gaussian), at batch 128, with no decay: a live game has no planned end.
PLAYGROUND_GAN = replace(LESSON4, name="playground_gan", batch_size=128, lr_decay=False)
PLAYGROUND_WASSERSTEIN = replace(
    WGAN_GP_2D, name="playground_wasserstein", batch_size=128, lr_decay=False
)
PLAYGROUND_1D = replace(LESSON1, name="playground_1d", batch_size=128, lr_decay=False)
# Lesson 3's levers: the way from the paper's recipe to IMPROVED, then what was tried on top.
NARROW = replace(PLAIN, name="narrow", width=IMPROVED.width)
SPECTRAL = replace(NARROW, name="spectral", d_norm="spectral")
FAST = replace(SPECTRAL, name="fast", lr_g=IMPROVED.lr_g, lr_d=IMPROVED.lr_d)
LEVERS = {
    "the paper's recipe: width 64, batch norm in D, learning rates 0.0002": PLAIN,
    f"narrower: width {IMPROVED.width}": NARROW,
    "+ spectral norm in D instead of batch norm": SPECTRAL,
    f"+ learning rates {IMPROVED.lr_g:g} (constant)": FAST,
    "+ rates falling linearly to 0 over the budget: the improved recipe": IMPROVED,
    "improved, width 32": replace(IMPROVED, name="width32", width=32),
    "improved, width 16": replace(IMPROVED, name="width16", width=16),
    "improved + hinge loss": replace(IMPROVED, name="hinge", game="hinge"),
    "improved + DiffAugment (translation, cutout)": replace(
        IMPROVED, name="diffaugment", augment=True
    ),
    "improved + minibatch standard deviation in D": replace(
        IMPROVED, name="mbstd", minibatch_std=True
    ),
    "improved + batch 128": replace(IMPROVED, name="batch128", batch_size=128),
    f"improved + two time-scales (G {IMPROVED.lr_g / 2:g}, D {IMPROVED.lr_d * 2:g})": replace(
        IMPROVED, name="ttur", lr_g=IMPROVED.lr_g / 2, lr_d=IMPROVED.lr_d * 2
    ),
}
RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        LESSON1, LESSON4, LESSON5_RING, LESSON5_GRID, WGAN_GP_2D, WGAN_CLIP_2D, PLAIN, IMPROVED,
        WGAN_GP, CGAN, CAPTIONS, INFOGAN, *SEMI_SUPERVISED, ALI_GRID, GAN_GRID_2D, BIGAN_MNIST,
        PLAYGROUND_GAN,
        PLAYGROUND_WASSERSTEIN, PLAYGROUND_1D, *LEVERS.values(),
    )
}  # fmt: skip


def recipe_named(name: str | Recipe) -> Recipe:
    """The recipe called ``name`` in ``RECIPES`` (a Recipe passes through)."""
    if isinstance(name, Recipe):
        return name
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}") from None
