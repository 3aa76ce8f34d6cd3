"""The GAN objectives, one function per formula, computed stably from the discriminator's logits.

Conventions (Goodfellow 2016, "NIPS 2016 Tutorial: Generative Adversarial Networks",
arXiv 1701.00160, section 3.2): the discriminator returns a logit ``a``, and D(x) = sigma(a)
with sigma the logistic sigmoid. Then

    log D(x)       = -softplus(-a)
    log(1 - D(x))  = -softplus(a)

which never takes log(0), whatever the logit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import check_count

# exp(a) overflows float32 past a ~ 88; a logit of 50 already means D(x) = 1 - 2e-22.
_MAX_LOGIT_FOR_EXP = 50.0


def check_logits(logits: Tensor, name: str = "logits") -> Tensor:
    """Return ``logits`` flattened to shape (N,), or raise a clear error for any other shape.

    Accepted shapes: (N,) or (N, 1), one logit per sample, as a discriminator returns them.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(
            f"{name} has dtype {logits.dtype}, but logits are real numbers: pass a float tensor "
            f"(the discriminator's raw output, or labels.float() for hand-made ones)"
        )
    if logits.dim() == 1 or (logits.dim() == 2 and logits.shape[1] == 1):
        if logits.shape[0] == 0:
            raise ValueError(f"{name} is empty: pass at least one sample")
        return logits.reshape(-1)
    raise ValueError(
        f"{name} has shape {tuple(logits.shape)}, expected (N,) or (N, 1): one logit per sample "
        f"(does the discriminator end in a single output unit, with no sigmoid?)"
    )


def value_function(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The GAN value V(D, G) = E_data[log D(x)] + E_z[log(1 - D(G(z)))].

    Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv 1406.2661, equation 1:
    D ascends V, G descends it. Its maximum over D is -log 4 + 2 JSD(p_data || p_g).
    """
    real = check_logits(real_logits, "real_logits")
    fake = check_logits(fake_logits, "fake_logits")
    return -F.softplus(-real).mean() - F.softplus(fake).mean()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's cost J(D) = -1/2 E_data[log D(x)] - 1/2 E_z[log(1 - D(G(z)))].

    That is -V(D, G) / 2: the binary cross-entropy of labelling data 1 and samples 0
    (Goodfellow 2016, arXiv 1701.00160, equation 8).
    """
    return -0.5 * value_function(real_logits, fake_logits)


def minimax(fake_logits: Tensor) -> Tensor:
    """Minimax generator cost J(G) = -J(D), keeping only the term that depends on G:

        J(G) = 1/2 E_z[log(1 - D(G(z)))] = -1/2 E_z[softplus(a)].

    The zero-sum game of Goodfellow et al. 2014 (arXiv 1406.2661). It saturates: when D
    rejects the samples confidently (a << 0), its gradient sigma(a) / 2 vanishes.
    """
    a = check_logits(fake_logits, "fake_logits")
    return -0.5 * F.softplus(a).mean()


def non_saturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator cost J(G) = -1/2 E_z[log D(G(z))] = 1/2 E_z[softplus(-a)].

    Goodfellow et al. 2014 (arXiv 1406.2661), section 3: the same fixed point as minimax, but
    strong gradients early in training, when D rejects the samples.
    """
    a = check_logits(fake_logits, "fake_logits")
    return 0.5 * F.softplus(-a).mean()


def maximum_likelihood(fake_logits: Tensor) -> Tensor:
    """Maximum-likelihood generator cost J(G) = -1/2 E_z[exp(sigma^-1(D(G(z))))] = -1/2 E_z[exp(a)].

    Goodfellow 2014, "On distinguishability criteria for estimating generative models",
    arXiv 1412.6515: with the optimal D, its expected gradient is that of KL(p_data || p_g).
    Logits are capped at 50 before exp so the cost cannot overflow (D = 1 - 2e-22 there).
    """
    a = check_logits(fake_logits, "fake_logits")
    return -0.5 * torch.exp(a.clamp(max=_MAX_LOGIT_FOR_EXP)).mean()


GENERATOR_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": minimax,
    "non_saturating": non_saturating,
    "maximum_likelihood": maximum_likelihood,
}


def generator_loss(name: str) -> Callable[[Tensor], Tensor]:
    """The generator cost called ``name``: one of minimax, non_saturating, maximum_likelihood."""
    try:
        return GENERATOR_LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown generator loss {name!r}: choose one of {', '.join(GENERATOR_LOSSES)}"
        ) from None


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic's cost E_z[f(G(z))] - E_data[f(x)]: minimising it maximises the estimate of
    the Wasserstein-1 distance, W1 = sup over 1-Lipschitz f of E_data[f(x)] - E_g[f(x)]
    (Arjovsky, Chintala, Bottou 2017, "Wasserstein GAN", arXiv 1701.07875, equation 3). The
    critic's outputs are scores, not logits: no sigmoid anywhere."""
    real = check_logits(real_scores, "real_scores")
    fake = check_logits(fake_scores, "fake_scores")
    return fake.mean() - real.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """The generator's cost -E_z[f(G(z))] (Arjovsky et al. 2017, Algorithm 1)."""
    return -check_logits(fake_scores, "fake_scores").mean()


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The hinge loss for D (Lim and Ye 2017, arXiv 1705.02894; used with spectral norm by
    Miyato et al. 2018): E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], D(.) the logit. D stops
    pushing on samples it already scores beyond the margin, which keeps it from overconfidence."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """The hinge game's generator cost: -E[D(G(z))], raise the logit of the samples."""
    return -fake_logits.mean()


def interpolates(real: Tensor, fake: Tensor) -> Tensor:
    """x_hat = eps x + (1 - eps) x_tilde with one eps ~ U[0, 1] per sample, on the straight
    line between a real and a generated sample (Gulrajani et al. 2017, arXiv 1704.00028,
    Algorithm 1). Draws eps from PyTorch's global generator."""
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake batches must have the same shape to pair them, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    return eps * real + (1 - eps) * fake


def interpolate_gradient_norms(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, create_graph: bool = False
) -> Tensor:
    """||grad_x f(x_hat)||_2 for each of the ``interpolates`` x_hat of the batches, shape (N,):
    what the gradient penalty holds near 1."""
    x_hat = interpolates(real.detach(), fake.detach()).requires_grad_(True)
    scores = check_logits(critic(x_hat), "critic scores")
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=create_graph)
    return grad.flatten(1).norm(dim=1)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    weight: float = 10.0,
    unit: float = 1.0,
) -> Tensor:
    """WGAN-GP's penalty lambda E[(unit ||grad_x f(x_hat)||_2 - 1)^2] on ``interpolates`` of
    the batches (Gulrajani et al. 2017, arXiv 1704.00028, equation 3; lambda = 10 there). Zero
    for a critic whose gradient has norm 1 everywhere, such as f(x) = w.x with |w| = 1. Keeps
    the graph, so the critic's optimiser can step on it.

    ``unit`` is the distance that counts as one: with the data's standard deviation there, the
    penalty asks for slope 1 per standard deviation, as if the data had been standardised
    (the authors' toy code divides its data by its standard deviation)."""
    if not weight >= 0 or not unit > 0:
        raise ValueError(f"need weight >= 0 and unit > 0, got weight={weight}, unit={unit}")
    norms = unit * interpolate_gradient_norms(critic, real, fake, create_graph=True)
    return weight * ((norms - 1) ** 2).mean()


def check_every(every: object, name: str = "every") -> None:
    """Refuse an interval of :class:`LazyPenalty` that is not a positive integer (a bool is
    not one), with an error that says so."""
    check_count(every, name, hint="1 puts the penalty on every critic step")


class LazyPenalty:
    """Lazy regularisation (Karras et al. 2020, "Analyzing and Improving the Image Quality of
    StyleGAN", arXiv 1912.04958, section 3.1): a critic penalty such as
    :func:`gradient_penalty` computed on one critic step in ``every`` and multiplied by
    ``every``, so that its average weight over the steps is unchanged; the other steps return 0.

    The penalty's second backward pass is the dearest part of a WGAN-GP step; skipping it on
    three steps in four gives more steps in a fixed time. The first call applies it. The count
    lives in this object: build a new one for each run (a resumed run starts counting again).
    """

    def __init__(self, penalty: Callable[..., Tensor], every: int) -> None:
        check_every(every)
        self.penalty, self.every, self.calls = penalty, every, 0

    def __call__(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        due = self.calls % self.every == 0
        self.calls += 1
        if not due:
            return real.new_zeros(())
        return self.every * self.penalty(critic, real, fake)


@torch.no_grad()
def clip_weights(module: torch.nn.Module, c: float = 0.01) -> None:
    """Clamp every parameter of the critic to [-c, c] after each of its steps, the crude way
    WGAN keeps f Lipschitz (Arjovsky et al. 2017, Algorithm 1; c = 0.01 there)."""
    if not c > 0:
        raise ValueError(f"the clipping bound c must be positive, got {c}")
    for parameter in module.parameters():
        parameter.clamp_(-c, c)
