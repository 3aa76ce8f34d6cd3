"""gancourse: the helper package behind the GAN course's notebooks.

Modules: ``config`` (budget, device, seeding), ``data`` (target distributions, MNIST), ``nets``
(model builders), ``losses`` (the GAN objectives), ``train`` (Algorithm 1 with progress, history,
NaN guard and checkpoints), ``metrics`` (what the notebooks assert), ``toy1d`` (the 1D setting
of lessons 1 and 2), ``evaluator`` (a held-out MNIST classifier for Frechet ratios), ``plots``,
``widgets`` (instructors' panels) and ``bench`` (``python -m gancourse.bench``).
"""

from . import config, data, losses, metrics, nets, train

__all__ = ["config", "data", "losses", "metrics", "nets", "train"]
__version__ = "0.1.0"
