"""gancourse: the helper package behind the GAN course's notebooks.

The core, shared by every lesson: ``games`` (the games: what each side of Algorithm 1
computes; one table, ``games.GAMES``), ``train`` (Algorithm 1: ``gan_step`` and the loop
``train_gan``), ``recipes`` (one ``Recipe`` type, the table of every lesson's presets, ``build``
apart from ``train``), ``checkpoint`` and ``history`` (what a run saves and records), ``record``
(the one recorder), ``workers`` (the one process pool), ``losses``, ``nets``, ``data``,
``metrics``, ``evaluator`` and ``config`` (budget, device, seed: read once, at the entry point).

Each lesson's own: ``toy1d`` (lessons 1 and 2), ``dcgan`` (lesson 3), ``toy2d`` (lessons 4 and
5), ``wgan`` (lesson 6 on MNIST), ``playground`` (lesson 7), ``plots`` and ``widgets``; and the
tools ``bench`` (``python -m gancourse.bench``) and ``seedcheck``.
"""

from . import config, data, games, losses, metrics, nets, recipes, train

__all__ = ["config", "data", "games", "losses", "metrics", "nets", "recipes", "train"]
__version__ = "0.1.0"
