"""What a digit looks like, measured from its pixels: stroke width and slant (lesson 8).

Both are read from the ink, w = (pixel + 1) / 2 in [0, 1] for images in [-1, 1]:

- **stroke width**: 2 A / P, with A the number of inked pixels (w > 0.5) and P the length of
  the ink's outline (pixel edges between ink and paper). A stroke of width s and length L has
  A = s L and P = 2 (L + s), so 2 A / P = s L / (L + s), close to s for a long stroke, whatever
  the digit;
- **slant**: the shear of the ink's second moments, -mu_11 / mu_02, with x the column and y
  the row (rows grow downwards): how many columns the ink moves right per row up. Positive
  leans right, like italics; 0 is upright.
"""

from __future__ import annotations

import torch
from torch import Tensor


def ink(images: Tensor) -> Tensor:
    """The ink of images in [-1, 1], (N, 1, H, W) or (N, H, W): (N, H, W) in [0, 1]."""
    if images.dim() == 4:
        images = images[:, 0]
    if images.dim() != 3:
        raise ValueError(f"expected images (N, 1, H, W) or (N, H, W), got {tuple(images.shape)}")
    return ((images.float() + 1) / 2).clamp(0, 1)


def stroke_width(images: Tensor) -> Tensor:
    """Each image's stroke width in pixels, 2 A / P (see the module's docstring); 0 for an
    image without ink."""
    inked = (ink(images) > 0.5).float()
    padded = torch.nn.functional.pad(inked, (1, 1, 1, 1))
    outline = (padded[:, 1:, :] != padded[:, :-1, :]).sum(dim=(1, 2)) + (
        padded[:, :, 1:] != padded[:, :, :-1]
    ).sum(dim=(1, 2))
    area = inked.sum(dim=(1, 2))
    return torch.where(outline > 0, 2 * area / outline.clamp(min=1), torch.zeros_like(area))


def slant(images: Tensor) -> Tensor:
    """Each image's slant, -mu_11 / mu_02 of its ink (columns per row, positive leaning
    right); 0 for an image without ink."""
    w = ink(images)
    rows = torch.arange(w.shape[1], dtype=w.dtype)[None, :, None]
    cols = torch.arange(w.shape[2], dtype=w.dtype)[None, None, :]
    mass = w.sum(dim=(1, 2)).clamp(min=1e-6)
    cy = (w * rows).sum(dim=(1, 2)) / mass
    cx = (w * cols).sum(dim=(1, 2)) / mass
    dy, dx = rows - cy[:, None, None], cols - cx[:, None, None]
    mu11 = (w * dx * dy).sum(dim=(1, 2)) / mass
    mu02 = (w * dy * dy).sum(dim=(1, 2)) / mass
    return torch.where(mu02 > 1e-6, -mu11 / mu02.clamp(min=1e-6), torch.zeros_like(mu02))
