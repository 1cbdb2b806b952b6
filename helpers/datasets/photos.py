"""Real photographs shipped inside scikit-image, the source of the kit's offline stand-ins.

These images are in the scikit-image wheel itself (no download), so every offline
default (landmark-like photos, HPatches-style patches, SVHN backgrounds) is built from
real camera images rather than noise.
"""

from __future__ import annotations

import numpy as np

# Colour photographs bundled with scikit-image (no network needed).
COLOUR = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
          "immunohistochemistry", "cat", "colorwheel")
# Grayscale photographs bundled with scikit-image.
GRAY = ("camera", "brick", "grass", "gravel", "moon", "coins", "clock", "page", "text")


def bundled_photos(colour: bool = True, gray: bool = True) -> dict[str, np.ndarray]:
    """``{name: uint8 image}``: HxWx3 colour photos and HxW grayscale ones."""
    import skimage.data

    out = {}
    names = (COLOUR if colour else ()) + (GRAY if gray else ())
    for name in names:
        img = np.asarray(getattr(skimage.data, name)())
        if img.dtype != np.uint8:
            continue
        out[name] = img
    return out


def rgb_photos() -> dict[str, np.ndarray]:
    """All bundled photos as HxWx3 uint8 (grayscale ones repeated on three channels)."""
    return {k: (np.repeat(v[..., None], 3, axis=-1) if v.ndim == 2 else v[..., :3])
            for k, v in bundled_photos().items()}


def gray_photos() -> dict[str, np.ndarray]:
    """All bundled photos as HxW uint8 luma (ITU-R BT.601 weights for colour ones)."""
    out = {}
    for k, v in bundled_photos().items():
        if v.ndim == 3:
            v = np.rint(v[..., :3] @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
        out[k] = v
    return out
