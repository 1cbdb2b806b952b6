"""Robust image decoding: JPEG/PNG bytes -> square RGB uint8 (notebook 01's dataset builder).

Real downloads contain files that are not plain RGB JPEGs. :func:`decode_square` turns the
bytes of one file into a ``size x size x 3`` uint8 image, or tells why it cannot:

- converted (the image is kept): ``grayscale`` (L, LA, 1, I, I;16, F), ``cmyk``,
  ``palette`` (P, with or without transparency), ``alpha`` (RGBA: composited on white),
  ``other_mode`` (YCbCr, LAB, HSV, ...);
- skipped (the image is dropped): ``unreadable`` (not an image, unknown format, too many
  pixels), ``truncated`` (the file ends before the image data does), ``too_small``
  (shorter side below the target size: the kit never upsamples).

Geometry: EXIF orientation is applied, the largest centred square is cut out, and it is
resampled to ``size`` with an area filter (Pillow's BOX filter: each output pixel is the
mean of the input pixels it covers, the right filter for downsampling). Large JPEGs are
first decoded at 1/2, 1/4 or 1/8 scale by libjpeg (``Image.draft``), never below the
target size, which is itself an averaging step and makes decoding several times faster.
"""

from __future__ import annotations

import io
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

CONVERTED = ("grayscale", "cmyk", "palette", "alpha", "other_mode")
SKIPPED = ("unreadable", "truncated", "too_small")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_PIXELS = 100_000_000  # refuse decompression bombs (Pillow's own limit is ~179 Mpx)

_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def _to_rgb(img: Image.Image) -> tuple[Image.Image, str]:
    """(RGB image, kind) where kind is "ok" or one of CONVERTED."""
    mode = img.mode
    has_alpha = mode in ("RGBA", "LA", "La", "PA", "RGBa") or "transparency" in img.info
    if mode == "RGB" and not has_alpha:
        return img, "ok"
    if mode == "P":
        kind = "palette"
        img = img.convert("RGBA") if has_alpha else img.convert("RGB")
    elif mode in _GRAY_MODES:
        kind = "grayscale"
        if mode.startswith("I") or mode == "F":  # 16/32-bit gray: scale to 8 bits
            arr = np.asarray(img, dtype=np.float64)
            top = 65535.0 if arr.max() > 255 else 255.0
            img = Image.fromarray(np.clip(np.rint(arr / top * 255), 0, 255).astype(np.uint8))
        img = img.convert("LA" if has_alpha else "L").convert("RGBA" if has_alpha else "RGB")
    elif mode == "CMYK":
        kind = "cmyk"
        img = img.convert("RGB")
    elif has_alpha:
        kind = "alpha"
        img = img.convert("RGBA")
    else:
        kind = "other_mode"
        img = img.convert("RGB")
    if img.mode == "RGBA":  # composite on white: transparent areas become white, not black
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
        if kind == "other_mode":
            kind = "alpha"
    return img, kind


def decode_square(data: bytes, size: int) -> tuple[np.ndarray | None, str]:
    """``(image, kind)``: a ``size x size x 3`` uint8 centre crop, or ``(None, reason)``.

    ``kind`` is ``"ok"``, one of :data:`CONVERTED` (image returned) or one of
    :data:`SKIPPED` (``None`` returned). Never raises for bad bytes.
    """
    strict = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file must fail, not decode as grey
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > MAX_PIXELS:
                return None, "unreadable"
            # the EXIF orientation may swap width and height, but not the shorter side
            if min(width, height) < size:
                return None, "too_small"
            if img.format == "JPEG" and img.mode in ("RGB", "L", "YCbCr"):
                img.draft(img.mode, (size, size))  # DCT-domain downscale, stays >= size
            img.load()
            img = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        return None, "unreadable"
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc).lower()
        truncated = "truncat" in text or "premature" in text or isinstance(exc, EOFError)
        return None, "truncated" if truncated else "unreadable"
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = strict
    try:
        img, kind = _to_rgb(img)
    except (OSError, ValueError) as exc:  # a conversion Pillow cannot do
        return None, "truncated" if "truncat" in str(exc).lower() else "unreadable"
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    out = img.resize((size, size), Image.Resampling.BOX, box=(left, top, left + side, top + side))
    arr = np.asarray(out, dtype=np.uint8)
    if arr.shape != (size, size, 3):
        return None, "unreadable"
    return arr, kind


class DecodeCounts(Counter):
    """Counts of ``ok``, converted and skipped files; ``.summary()`` is one readable line."""

    @property
    def kept(self) -> int:
        return self["ok"] + sum(self[k] for k in CONVERTED)

    @property
    def skipped(self) -> int:
        return sum(self[k] for k in SKIPPED)

    def as_dict(self) -> dict:
        return {k: int(self[k]) for k in ("ok", *CONVERTED, *SKIPPED)}

    def summary(self) -> str:
        conv = ", ".join(f"{k} {self[k]}" for k in CONVERTED if self[k])
        skip = ", ".join(f"{k} {self[k]}" for k in SKIPPED if self[k])
        return (f"{self.kept} images kept ({self['ok']} RGB as is"
                f"{'; converted: ' + conv if conv else ''}), {self.skipped} skipped"
                f"{' (' + skip + ')' if skip else ''}")


def decode_stream(items: Iterable[tuple[str, bytes]], size: int,
                  counts: DecodeCounts | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Decode ``(name, bytes)`` pairs one at a time; yield ``(name, image)`` for kept ones.

    Bad files are counted in ``counts`` (a :class:`DecodeCounts`) and never stop the
    stream. Used for tar shards and folder trees alike.
    """
    counts = DecodeCounts() if counts is None else counts
    for name, data in items:
        image, kind = decode_square(data, size)
        counts[kind] += 1
        if image is not None:
            yield name, image


def iter_folder(root, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Iterator[tuple[str, bytes]]:
    """``(relative/posix/name, bytes)`` of image files under ``root``, in sorted path order.

    Reads one file at a time; symlinks are not followed out of the tree. The same shape of
    stream as :func:`helpers.download.iter_tar`, so both go through :func:`decode_stream`.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in filenames:
            if fname.lower().endswith(suffixes):
                names.append(Path(dirpath, fname).relative_to(root).as_posix())
    for name in sorted(names):
        path = root / name
        if path.is_symlink() or not path.is_file():
            continue
        yield name, path.read_bytes()

