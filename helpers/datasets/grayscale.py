"""Grayscale images for the Gaussian-noise DnCNN track (notebooks 02 and 05).

    from helpers.datasets import grayscale
    data = grayscale.load()                                   # offline default (photos)
    data = grayscale.load("path/to/Train400", "path/to/Set12")  # DnCNN's folders
    data.train          # (N, 40, 40, 1) uint8 training patches
    data.test           # {name: HxW uint8 image}, full test images of any size

Sources: a folder of grayscale images such as DnCNN's Train400 (400 BSD images, 180x180)
and Set12 (Zhang et al. 2017), or, by default, the real photographs bundled with
scikit-image (``helpers.datasets.photos.gray_photos``), split into training and test
photos; ``source`` says which, and that the default is a stand-in.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")
# bundled photos held out for testing when no folders are given
OFFLINE_TEST = ("camera", "coins", "moon")
# the synthetic colour wheel is not a photograph: never used
OFFLINE_SKIP = ("colorwheel",)


@dataclasses.dataclass
class GrayData:
    train: np.ndarray          # (N, P, P, 1) uint8 patches
    test: dict                 # {name: HxW uint8}
    source: str


def read_folder(folder, *, max_images: int | None = None) -> dict[str, np.ndarray]:
    """``{file stem: HxW uint8}`` for every image in ``folder`` (sorted by name); colour
    files are converted to luma. Raises with a clear message on a missing/empty folder or
    an unreadable file."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist; pass the folder that "
                                "holds the PNGs (e.g. Train400/ or Set12/), or no folder "
                                "for the bundled photos")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(SUFFIXES)}) in {folder}")
    out = {}
    for path in files[:max_images]:
        try:
            with Image.open(path) as img:
                out[path.stem] = np.asarray(img.convert("L"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"{path} is not a readable image ({exc}); delete or replace "
                             "it and run again") from exc
    return out


def offline_split() -> tuple[dict, dict]:
    """The bundled grayscale photos as (train, test) dicts; test is :data:`OFFLINE_TEST`."""
    from helpers.datasets.photos import gray_photos

    photos = {k: v for k, v in gray_photos().items() if k not in OFFLINE_SKIP}
    test = {k: photos[k] for k in OFFLINE_TEST}
    train = {k: v for k, v in photos.items() if k not in OFFLINE_TEST}
    return train, test


def _dihedral(patch: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 flips/rotations (DnCNN's data augmentation), mode 0 is the identity."""
    out = np.rot90(patch, mode % 4)
    return out[:, ::-1] if mode >= 4 else out


def extract_patches(images, size: int = 40, stride: int = 10, *, augment: bool = True,
                    max_patches: int | None = None, rng=None) -> np.ndarray:
    """All ``size`` x ``size`` patches on a grid of step ``stride`` from every image,
    as ``(N, size, size, 1)`` uint8. ``augment`` applies one random flip/rotation per patch;
    ``max_patches`` keeps a random subset. Images smaller than ``size`` are skipped."""
    gen = np.random.default_rng(rng)
    imgs = list(images.values()) if isinstance(images, dict) else list(images)
    out = []
    for img in imgs:
        img = np.asarray(img)
        if img.ndim == 3:
            img = img[..., 0]
        h, w = img.shape
        if h < size or w < size:
            continue
        for top in range(0, h - size + 1, stride):
            for left in range(0, w - size + 1, stride):
                out.append(img[top:top + size, left:left + size])
    if not out:
        raise ValueError(f"no image is at least {size}x{size}")
    patches = np.stack(out)
    if max_patches is not None and max_patches < len(patches):
        patches = patches[np.sort(gen.choice(len(patches), max_patches, replace=False))]
    if augment:
        modes = gen.integers(0, 8, len(patches))
        patches = np.stack([_dihedral(p, m) for p, m in zip(patches, modes)])
    return np.ascontiguousarray(patches[..., None], dtype=np.uint8)


def load(train_dir=None, test_dir=None, *, patch: int = 40, stride: int = 10,
         max_patches: int | None = None, max_train_images: int | None = None,
         augment: bool = True, seed: int = 0) -> GrayData:
    """Training patches and full test images (notebook 02's DnCNN track, notebook 05).

    With both folders given (e.g. ``Train400``, ``Set12``) they are read from disk;
    with neither, the bundled photos are used and ``source`` says it is a stand-in.
    """
    if (train_dir is None) != (test_dir is None):
        raise ValueError("pass both train_dir and test_dir, or neither (bundled photos)")
    if train_dir is None:
        train, test = offline_split()
        source = ("offline stand-in: scikit-image's bundled grayscale photos "
                  f"(train {len(train)} photos, test {', '.join(test)}), not Train400/Set12")
    else:
        train = read_folder(train_dir, max_images=max_train_images)
        test = read_folder(test_dir)
        source = f"{Path(train_dir).name} ({len(train)} images) / {Path(test_dir).name} " \
                 f"({len(test)} images)"
    patches = extract_patches(train, patch, stride, augment=augment,
                              max_patches=max_patches, rng=seed)
    return GrayData(train=patches, test=test, source=source)
