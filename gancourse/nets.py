"""Generator and discriminator builders.

Discriminators return logits, one per sample (shape (N, 1)); D(x) = sigmoid(logit). Keeping the
sigmoid out of the network lets the losses stay finite at any confidence (see ``losses``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import config
from .config import check_count

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (64, 64),
    activation: str = "leaky_relu",
) -> nn.Sequential:
    """A multilayer perceptron: Linear, activation, ..., Linear (no activation on the output)."""
    check_count(in_dim, "in_dim")
    check_count(out_dim, "out_dim")
    for width in hidden:
        check_count(width, "every hidden width")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}: choose one of {', '.join(ACTIVATIONS)}"
        )
    layers: list[nn.Module] = []
    width_in = in_dim
    for width in hidden:
        layers += [nn.Linear(width_in, width), ACTIVATIONS[activation]()]
        width_in = width
    layers.append(nn.Linear(width_in, out_dim))
    return nn.Sequential(*layers)


def mlp_generator(
    latent_dim: int = 1,
    data_dim: int = 1,
    hidden: Sequence[int] = (32, 32),
    activation: str = "leaky_relu",
) -> nn.Sequential:
    """G: R^latent_dim -> R^data_dim, an MLP with a linear output (data need not be bounded)."""
    return mlp(latent_dim, data_dim, hidden, activation)


def mlp_discriminator(
    data_dim: int = 1,
    hidden: Sequence[int] = (32, 32),
    activation: str = "leaky_relu",
) -> nn.Sequential:
    """D: R^data_dim -> R, an MLP returning one logit per sample; D(x) = sigmoid(logit)."""
    return mlp(data_dim, 1, hidden, activation)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2015, arXiv 1511.06434): convolution weights from
    N(0, 0.02); batch-norm scales from N(1, 0.02), shifts 0. Use as ``model.apply(dcgan_init)``."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Scale(nn.Module):
    """Multiply by a fixed ``factor`` (a buffer, not a parameter): puts a network that works in
    standardised units into data units, or the other way round."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        if not factor > 0:
            raise ValueError(f"the scale factor must be positive, got {factor}")
        self.register_buffer("factor", torch.tensor(float(factor)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor


class Reshape(nn.Module):
    """Reshape a batch of vectors (N, d) to (N, *shape)."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: Tensor) -> Tensor:
        return x.view(x.shape[0], *self.shape)


def dcgan_generator(latent_dim: int = 100, width: int = 64) -> nn.Sequential:
    """The DCGAN generator adapted to 28x28 (Radford et al. 2015): fractionally-strided
    convolutions 1 -> 7 -> 14 -> 28, batch norm after every layer but the output, ReLU, tanh
    output. Takes z shaped (N, latent_dim); returns images (N, 1, 28, 28) in [-1, 1]."""
    check_count(latent_dim, "latent_dim")
    check_count(width, "width")
    model = nn.Sequential(
        Reshape(latent_dim, 1, 1),
        nn.ConvTranspose2d(latent_dim, 4 * width, 7, 1, 0, bias=False),  # 1x1 -> 7x7
        nn.BatchNorm2d(4 * width),
        nn.ReLU(),
        nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),  # 7x7 -> 14x14
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.ConvTranspose2d(2 * width, 1, 4, 2, 1),  # 14x14 -> 28x28, no batch norm on the output
        nn.Tanh(),
    )
    model.apply(dcgan_init)
    return model


def latent_size(generator: nn.Module) -> int:
    """The size of z that ``generator`` takes: the input width of its first linear or
    transposed-convolution layer."""
    for module in generator.modules():
        if isinstance(module, nn.Linear):
            return module.in_features
        if isinstance(module, nn.ConvTranspose2d):
            return module.in_channels
    raise ValueError("cannot tell the generator's latent size: pass latent_dim")


@torch.no_grad()
def sample_generator(
    generator: nn.Module,
    n: int,
    seed: int,
    *,
    latent_dim: int | None = None,
    batch: int = 1000,
    offset: bool = True,
) -> Tensor:
    """``n`` samples G(z) on the CPU, z ~ N(0, I) in ``latent_dim`` dimensions (by default
    :func:`latent_size`): the course's one way to sample a generator. The noise comes from its
    own seeded generator (``config.rng``: ``seed`` plus ``GANCOURSE_SEED``), so the same seed
    gives the same samples whatever else has drawn random numbers; G is in evaluation mode for
    the draw and goes back to its mode after. Images come as (n, 1, 28, 28), points as (n, d).
    With ``offset=False`` the seed is taken as it is, whatever GANCOURSE_SEED says: to draw a
    recorded run's samples again."""
    latent_dim = latent_size(generator) if latent_dim is None else latent_dim
    draw = config.rng(seed, offset=offset)
    return decode(generator, torch.randn(n, latent_dim, generator=draw), batch=batch)


@torch.no_grad()
def decode(generator: nn.Module, *inputs: Tensor, batch: int = 1000) -> Tensor:
    """G(*inputs) on the CPU, in chunks of ``batch`` rows moved to G's device, with G in
    evaluation mode for the draw and back in its mode after: how every lesson draws from a
    generator it is given inputs for (noise; noise and labels; noise and codes)."""
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    chunks = zip(*(x.split(batch) for x in inputs), strict=True)
    samples = torch.cat([generator(*(x.to(device) for x in chunk)).cpu() for chunk in chunks])
    generator.train(was_training)
    return samples


def conv_encoder(outputs: int, width: int = 32) -> nn.Sequential:
    """A digit (N, 1, 28, 28) to ``outputs`` numbers: two strided 4x4 convolutions (28 -> 14
    -> 7, LeakyReLU 0.2, batch norm on the second), a 256-unit layer, a linear output. IcGAN's
    encoders are four such layers of 32 filters on 64x64 faces; MNIST needs two. The encoder of
    lesson 10's BiGAN and IcGAN."""
    return nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1),
        nn.BatchNorm2d(2 * width),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(2 * width * 7 * 7, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, outputs),
    )


class MinibatchStd(nn.Module):
    """Append one feature map: the standard deviation of each feature over the batch, averaged
    into a single number (Karras et al. 2017, "Progressive Growing of GANs", arXiv 1710.10196,
    section 3). A batch of near-identical samples shows a small value, so D can see a collapsed
    generator from its batch statistics. (N, C, H, W) -> (N, C + 1, H, W)."""

    def forward(self, x: Tensor) -> Tensor:
        # biased std: a batch of one (D in evaluation on a single image) gives 0, not NaN
        spread = x.std(dim=0, correction=0).mean()
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class _PairwiseCloseness(torch.autograd.Function):
    """o_(b,i) = sum_(j != i) exp(-||m_(b,i) - m_(b,j)||_1) for points m (B, N, C), with a
    backward pass that uses the symmetry of the distances.

    Plain autograd through ``torch.cdist(m, m, p=1)`` runs cdist's backward once for each of
    its two (identical) arguments and copies every (B, N, N) intermediate on the way. Here the
    gradient of the distances is symmetrised first, d_(ij) <- d_(ij) + d_(ji), and cdist's
    backward runs once, about half the time (README, "Lessons 4 and 5"). The result is the
    autograd one up to rounding (tests/test_nets.py). First derivatives only:
    nothing differentiates through minibatch discrimination twice (no gradient penalty on it).
    """

    @staticmethod
    def forward(ctx, m: Tensor) -> Tensor:  # type: ignore[override]
        l1 = torch.cdist(m, m, p=1)  # (B, N, N), every pair for every kernel at once
        close = torch.exp(-l1)
        ctx.save_for_backward(m, l1, close)
        # the diagonal is exp(-0) = 1: subtracting it leaves out each sample's pair with itself
        return close.sum(dim=2) - 1

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> Tensor:  # type: ignore[override]
        m, l1, close = ctx.saved_tensors
        # d o_(b,i) / d l1_(b,i,j) = -exp(-l1_(b,i,j)); l1 is symmetric in i and j
        grad_l1 = close * grad_out[:, :, None]
        grad_l1 = (grad_l1 + grad_l1.transpose(1, 2)).neg_()
        return torch.ops.aten._cdist_backward(grad_l1, m, m, 1.0, l1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs",
    arXiv 1606.03498, section 3.2): D sees how close each sample is to the others in its batch.

    Features f(x_i) in R^A times a learned tensor T in R^(A x B x C) give matrices
    M_i in R^(B x C). For each of the B kernels, c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1), and
    o(x_i)_b = sum_(j != i) c_b(x_i, x_j). The output is f(x_i) with o(x_i) appended:
    (N, A) -> (N, A + B). A batch of near-copies gives large o, so D can tell a collapsed
    generator's batch from a real one. Call it on a batch of all-real or all-fake samples.

    ``average=True`` (the default here) divides the sum by N - 1, the number of other
    samples, so o lies in [0, 1] whatever the batch size. The paper's plain sum grows with the
    batch (up to 127 at batch 128), and trained lesson 5's grid worse (README, "Lessons 4 and
    5"). ``average=False`` is the paper's sum.
    """

    def __init__(
        self, in_features: int, kernels: int = 16, kernel_dim: int = 8, average: bool = True
    ) -> None:
        super().__init__()
        for value, name in (
            (in_features, "in_features"),
            (kernels, "kernels"),
            (kernel_dim, "kernel_dim"),
        ):
            check_count(value, name)
        self.kernels, self.kernel_dim, self.average = kernels, kernel_dim, average
        # the authors' code draws T from N(0, 0.05^2)
        self.T = nn.Parameter(0.05 * torch.randn(in_features, kernels * kernel_dim))

    def kernel_points(self, features: Tensor) -> Tensor:
        """M = f T for each row of ``features`` (N, A), as (B, N, C): one set of N points per
        kernel, ready for pairwise L1 distances."""
        m = (features @ self.T).view(-1, self.kernels, self.kernel_dim)  # (N, B, C)
        return m.transpose(0, 1)

    def forward(self, features: Tensor) -> Tensor:
        if features.ndim != 2 or features.shape[1] != self.T.shape[0]:
            raise ValueError(
                f"minibatch discrimination expects features shaped (N, {self.T.shape[0]}), "
                f"got {tuple(features.shape)}"
            )
        closeness = _PairwiseCloseness.apply(self.kernel_points(features))  # (B, N)
        if self.average:
            closeness = closeness / max(features.shape[0] - 1, 1)
        return torch.cat([features, closeness.T], dim=1)


class Packed(nn.Module):
    """PacGAN-m (Lin et al. 2018, arXiv 1712.04086): D judges m samples at once. A batch
    (N, d) becomes N / m packs (N / m, m d) of consecutive samples, all real or all fake, and
    ``inner`` (which takes m d inputs) returns one logit per pack."""

    def __init__(self, inner: nn.Module, m: int) -> None:
        super().__init__()
        check_count(m, "m")
        self.inner, self.m = inner, m

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[0] % self.m:
            raise ValueError(
                f"PacGAN-{self.m} needs a batch (N, d) with N a multiple of {self.m}, "
                f"got {tuple(x.shape)}: pick a batch size divisible by {self.m}"
            )
        return self.inner(x.reshape(x.shape[0] // self.m, -1))


D_NORMS = ("batch", "spectral", "none")


def dcgan_discriminator(
    width: int = 64, norm: str = "batch", minibatch_std: bool = False, in_channels: int = 1
) -> nn.Sequential:
    """The DCGAN discriminator adapted to 28x28: strided convolutions 28 -> 14 -> 7 instead of
    pooling, LeakyReLU 0.2, no fully connected hidden layer; returns one logit per image, (N, 1).

    ``norm="batch"`` is the paper's: batch norm on every layer but the input. ``norm="spectral"``
    divides every layer's weight by its largest singular value instead, so D is 1-Lipschitz per
    layer (Miyato et al. 2018, arXiv 1802.05957), and drops batch norm, so D judges each image
    on its own rather than against the rest of its batch. ``norm="none"``: neither, the critic of
    WGAN-GP (Gulrajani et al. 2017, arXiv 1704.00028), whose penalty keeps it Lipschitz and
    needs each score to depend on its own image only. ``minibatch_std`` adds a
    :class:`MinibatchStd` feature map before the last layer. ``in_channels``: more maps beside
    the image (a conditional D's label maps, lesson 8).
    """
    check_count(width, "width")
    if norm not in D_NORMS:
        raise ValueError(f"unknown norm {norm!r}: choose one of {', '.join(D_NORMS)}")
    spectral = norm == "spectral"
    batch = norm == "batch"
    hidden = nn.Conv2d(width, 2 * width, 4, 2, 1, bias=not batch)  # batch norm has its own shift
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, width, 4, 2, 1),  # 28 -> 14, no batch norm on the input layer
        nn.LeakyReLU(0.2),
        hidden,  # 14 -> 7
        *([nn.BatchNorm2d(2 * width)] if batch else []),
        nn.LeakyReLU(0.2),
        *([MinibatchStd()] if minibatch_std else []),
        nn.Conv2d(2 * width + minibatch_std, 1, 7, 1, 0),  # 7 -> 1: the logit
        nn.Flatten(),
    ]
    model = nn.Sequential(*layers)
    model.apply(dcgan_init)
    if spectral:
        for layer in model:
            if isinstance(layer, nn.Conv2d):
                nn.utils.parametrizations.spectral_norm(layer)
    return model


class MinibatchDiscriminator(nn.Module):
    """An MLP discriminator with minibatch discrimination before its last layer:
    x -> f(x) (hidden features) -> [f(x), o(x)] -> logit."""

    def __init__(
        self, hidden: int, layers: int, kernels: int, kernel_dim: int, average: bool = True
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(mlp(2, hidden, (hidden,) * (layers - 1)), nn.LeakyReLU(0.2))
        self.minibatch = MinibatchDiscrimination(hidden, kernels, kernel_dim, average)
        self.out = nn.Linear(hidden + kernels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.minibatch(self.features(x)))


def diff_augment(images: Tensor, shift: int = 3, cutout: int = 14) -> Tensor:
    """Differentiable augmentation (Zhao et al. 2020, arXiv 2006.10738), sized for 28x28 digits:
    move each image by up to ``shift`` pixels each way (the border filled with background, -1),
    then blank a random ``cutout`` x ``cutout`` square. Both are indexing and masking, so
    gradients flow through to G. Applied to real and fake images alike, every time D looks, it
    shows D many versions of each of the few real digits, which slows D's memorising them."""
    n, _, height, width = images.shape
    device = images.device
    padded = F.pad(images, (shift, shift, shift, shift), value=-1.0)
    dy = torch.randint(0, 2 * shift + 1, (n, 1, 1), device=device)
    dx = torch.randint(0, 2 * shift + 1, (n, 1, 1), device=device)
    rows = torch.arange(height, device=device).view(1, -1, 1) + dy
    cols = torch.arange(width, device=device).view(1, 1, -1) + dx
    batch = torch.arange(n, device=device).view(-1, 1, 1)
    moved = padded[batch, 0, rows, cols].unsqueeze(1)
    half = cutout // 2
    cy = torch.randint(0, height, (n, 1, 1), device=device)
    cx = torch.randint(0, width, (n, 1, 1), device=device)
    ys = torch.arange(height, device=device).view(1, -1, 1)
    xs = torch.arange(width, device=device).view(1, 1, -1)
    inside = (ys >= cy - half) & (ys < cy + half) & (xs >= cx - half) & (xs < cx + half)
    return torch.where(inside.unsqueeze(1), torch.full_like(moved, -1.0), moved)


class AugmentedDiscriminator(nn.Module):
    """D that sees every image through :func:`diff_augment` while training (not in eval)."""

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, images: Tensor) -> Tensor:
        return self.discriminator(diff_augment(images) if self.training else images)


def fast_layout(model: nn.Module, device: torch.device | str) -> nn.Module:
    """``model`` on ``device``, its convolution weights in the channels-last memory layout where
    the convolution libraries prefer it (oneDNN on CPUs, cuDNN on GPUs): the same arithmetic in
    another order in memory, faster (``python -m gancourse.bench dcgan`` measures it). A library
    may choose another kernel for another layout, so two layouts can differ in the last bits."""
    device = torch.device(device)
    if device.type in ("cpu", "cuda"):
        return model.to(device, memory_format=torch.channels_last)
    return model.to(device)
