"""Street View House Numbers (SVHN; Netzer et al., 2011), notebooks 06 and 07.

Two formats, as published at http://ufldl.stanford.edu/housenumbers/:

* **Format 2** (notebook 06): ``train_32x32.mat`` / ``test_32x32.mat`` (and optionally
  ``extra_32x32.mat``), 32x32 colour crops centred on one digit. :func:`load` downloads them
  (MD5-verified), reads them with ``scipy.io.loadmat``, turns the MATLAB (W, H, C, N) layout
  into (N, H, W, C), maps label 10 to digit 0, converts to grayscale with
  Y = 0.299 R + 0.587 G + 0.114 B (colour is an option), makes a stratified validation split
  (13 %, as in the report: 63,733 / 9,524) and caches everything as uint8.
* **Format 1** (notebook 07): whole street-view "parent" images with one box per digit in
  ``digitStruct.mat`` (MATLAB v7.3, i.e. HDF5 with object references). :func:`load_parents`
  streams ``test.tar.gz`` (or ``train.tar.gz``), reads the boxes with h5py and caches the
  images; :func:`square_crops` extends each box to a square, crops and resizes it.

Offline (``KIT_OFFLINE=1``) both loaders return a **synthetic street-number stand-in**:
digits rendered with the TrueType fonts bundled with matplotlib onto crops of the real
photographs in :mod:`helpers.datasets.photos`, with random colour, scale, rotation, blur,
noise and neighbouring digits cut at the crop borders. ``meta["source"]`` says so.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np

from helpers import cache, env

URL = "http://ufldl.stanford.edu/housenumbers/"
# Format 2 MD5s as published with the dataset (also used by torchvision).
MAT_MD5 = {"train": "e26dedcc434d2e4c54c9b2d4a06d8373",
           "test": "eb5a983be6a315427106f1b164d9cef3",
           "extra": "a93ce644f1a588dc4d68dda5feec44a7"}
# Format 1 archives (SHA-256 of the files served at URL).
TAR_SHA256 = {"train": "4b17bb33b6cd8f963493168f80143da956f28ec406cc12f8e5745a9f91a51898",
              "test": "57ac9ceb530e4aa85b55d991be8fc49c695b3d71c6f6a88afea86549efde7fb5"}
LUMA = np.array([0.299, 0.587, 0.114])
# Class frequencies of SVHN's train_32x32.mat (digits 0..9): the stand-in copies the skew.
SVHN_TRAIN_COUNTS = np.array([4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659])
STANDIN = ("offline stand-in: synthetic street numbers (digits in matplotlib's TrueType "
           "fonts on crops of scikit-image's photos), NOT real SVHN")
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
         "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf",
         "DejaVuSerif-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "cmr10.ttf",
         "cmss10.ttf", "cmtt10.ttf")


class SVHNFormatError(ValueError):
    """A file that does not have the layout of the SVHN release."""


# ============================================================================ format 2

def to_gray(x: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H, W, 1) uint8 luma, Y = 0.299 R + 0.587 G + 0.114 B."""
    y = np.asarray(x, dtype=np.float32) @ LUMA.astype(np.float32)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)[..., None]


def read_mat(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a format-2 ``*_32x32.mat``: images (N, 32, 32, 3) uint8 and digits (N,) 0-9.

    The file stores ``X`` as a MATLAB (32, 32, 3, N) array -- image index last, the
    "(W, H, C, N)" layout of the dataset's description; scipy returns its first axis as the
    image rows -- and ``y`` as (N, 1) with 10 meaning digit 0.
    """
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:
        raise SVHNFormatError(f"{path} is not a readable MATLAB file ({exc}); delete it "
                              "and run again to download it afresh.") from exc
    if "X" not in mat or "y" not in mat:
        raise SVHNFormatError(f"{path} lacks the 'X' and 'y' variables of SVHN format 2")
    x, y = mat["X"], np.asarray(mat["y"]).ravel()
    if x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != y.size:
        raise SVHNFormatError(f"{path}: X has shape {x.shape}, expected (32, 32, 3, N) "
                              f"with N = {y.size} labels")
    if y.size and (y.min() < 1 or y.max() > 10):
        raise SVHNFormatError(f"{path}: labels must be 1..10, found {y.min()}..{y.max()}")
    images = np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2))).astype(np.uint8)
    return images, (y % 10).astype(np.int64)


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0):
    """(train_idx, val_idx): ``fraction`` of every class goes to validation."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        val.append(idx[: int(round(fraction * idx.size))])
    val = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(labels.size), val)
    return rng.permutation(train), rng.permutation(val)


def _download_mat(split: str) -> Path:
    from helpers.download import download

    dest = cache.cache_dir() / "downloads" / "svhn" / f"{split}_32x32.mat"
    return download(URL + f"{split}_32x32.mat", dest, md5=MAT_MD5[split])


def load(*, colour: bool = False, val_fraction: float = 0.13, extra: bool = False,
         n_train: int | None = None, n_test: int | None = None, seed: int = 0,
         offline: bool | None = None) -> cache.CachedArrays:
    """Format-2 digits for notebook 06: uint8 ``x_train, y_train, x_val, y_val, x_test, y_test``.

    Images are (N, 32, 32, 1) gray, or (N, 32, 32, 3) with ``colour=True``. ``n_train`` /
    ``n_test`` keep a random subset (quick mode); the validation split is taken from the
    training set *before* that. ``.meta``: ``source``, ``mean`` / ``std`` of the training
    pixels (0-255 units, for normalisation), ``class_counts`` of the training labels.
    Offline the stand-in of :func:`synthetic_digits` is used (same layout).
    """
    offline = env.is_offline() if offline is None else offline
    params = {"version": 1, "colour": colour, "val_fraction": val_fraction, "extra": extra,
              "n_train": n_train, "n_test": n_test, "seed": seed,
              "source": "standin" if offline else "svhn-format2"}

    def build():
        if offline:
            nt = n_train or 40000
            nte = n_test or 8000
            n_all = int(np.ceil(nt / (1 - val_fraction))) + 10
            xtr, ytr = synthetic_digits(n_all, seed=seed + 1)
            xte, yte = synthetic_digits(nte, seed=seed + 2)
            source = STANDIN
        else:
            xtr, ytr = read_mat(_download_mat("train"))
            if extra:
                xe, ye = read_mat(_download_mat("extra"))
                xtr, ytr = np.concatenate([xtr, xe]), np.concatenate([ytr, ye])
            xte, yte = read_mat(_download_mat("test"))
            source = "SVHN format 2 (ufldl.stanford.edu/housenumbers), " + (
                "train+extra" if extra else "train") + " / test"
        tr, va = stratified_split(ytr, val_fraction, seed)
        rng = np.random.default_rng(seed + 10)
        if n_train is not None and n_train < tr.size:
            tr = np.sort(rng.choice(tr, n_train, replace=False))
            tr = rng.permutation(tr)
            nv = int(round(n_train * val_fraction / (1 - val_fraction)))
            va = va[:nv] if nv < va.size else va
        if n_test is not None and n_test < len(yte):
            keep = np.sort(rng.choice(len(yte), n_test, replace=False))
            xte, yte = xte[keep], yte[keep]
        conv = (lambda a: a) if colour else to_gray
        out = {"x_train": conv(xtr[tr]), "y_train": ytr[tr].astype(np.int64),
               "x_val": conv(xtr[va]), "y_val": ytr[va].astype(np.int64),
               "x_test": conv(xte), "y_test": yte.astype(np.int64)}
        xt = out["x_train"].astype(np.float64)
        meta = {"source": source, "mean": float(xt.mean()), "std": float(xt.std()),
                "class_counts": np.bincount(out["y_train"], minlength=10).tolist()}
        return out, meta

    return cache.cached_arrays("svhn2", params, build)


# ============================================================================ format 1

def _h5_scalars(h5, dataset) -> list[float]:
    """Values of one digitStruct field: inline (1, 1) numbers or (k, 1) object references."""
    import h5py

    data = dataset[()]
    if h5py.check_dtype(ref=dataset.dtype) is not None:
        return [float(np.asarray(h5[ref][()]).ravel()[0]) for ref in np.asarray(data).ravel()]
    return [float(v) for v in np.asarray(data).ravel()]


def read_digit_struct(source, limit: int | None = None) -> list[dict]:
    """Parse a format-1 ``digitStruct.mat`` (MATLAB v7.3 / HDF5) with h5py.

    ``source`` is a path or a binary file object. Returns ``[{"name": "1.png", "boxes":
    array (k, 5) of left, top, width, height, digit}]`` in file order (label 10 -> 0);
    ``limit`` stops after that many images (the test file has 13,068).
    Layout: ``/digitStruct/name`` and ``/digitStruct/bbox`` are (N, 1) arrays of object
    references; a name points at a uint16 character array, a bbox at a group whose fields
    hold a number directly (one digit) or a (k, 1) array of references (k digits).
    """
    import h5py

    try:
        h5 = h5py.File(source, "r")
    except OSError as exc:
        raise SVHNFormatError(f"{source} is not an HDF5 (MATLAB v7.3) digitStruct.mat "
                              f"({exc})") from exc
    out = []
    with h5:
        if "digitStruct" not in h5 or "name" not in h5["digitStruct"] or \
                "bbox" not in h5["digitStruct"]:
            raise SVHNFormatError(f"{source} has no /digitStruct/name and /digitStruct/bbox")
        names, bboxes = h5["digitStruct"]["name"], h5["digitStruct"]["bbox"]
        refs_n, refs_b = np.asarray(names[()]).ravel(), np.asarray(bboxes[()]).ravel()
        n = len(refs_n) if limit is None else min(limit, len(refs_n))
        for i in range(n):
            chars = np.asarray(h5[refs_n[i]][()]).ravel()
            name = "".join(chr(int(c)) for c in chars)
            grp = h5[refs_b[i]]
            fields = [_h5_scalars(h5, grp[k]) for k in ("left", "top", "width", "height",
                                                        "label")]
            if len({len(f) for f in fields}) != 1:
                raise SVHNFormatError(f"{name}: box fields have different lengths")
            boxes = np.array(fields, dtype=np.float64).T.reshape(-1, 5)
            boxes[:, 4] = boxes[:, 4] % 10
            out.append({"name": name, "boxes": boxes})
    return out


def read_digit_struct_json(path) -> list[dict]:
    """The same records from the JSON conversion (``[{filename, boxes: [{left, top, ...}]}]``)."""
    import json

    recs = json.loads(Path(path).read_text())
    return [{"name": r["filename"],
             "boxes": np.array([[b["left"], b["top"], b["width"], b["height"], b["label"] % 10]
                                for b in r["boxes"]], dtype=np.float64).reshape(-1, 5)}
            for r in recs]


def _pack_parents(images, boxes_per_image, backgrounds=None) -> dict:
    """Variable-size images as one flat uint8 buffer + shapes + offsets (cache layout)."""
    shapes = np.array([im.shape for im in images], dtype=np.int64).reshape(-1, 3)
    sizes = shapes.prod(axis=1)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    out = {"pixels": np.concatenate([im.ravel() for im in images]).astype(np.uint8),
           "shapes": shapes, "offsets": offsets,
           "boxes": np.concatenate([np.column_stack([np.full(len(b), i), b])
                                    for i, b in enumerate(boxes_per_image)]).astype(np.float64)}
    if backgrounds is not None:
        out["backgrounds"] = np.concatenate([b.ravel() for b in backgrounds]).astype(np.uint8)
    return out


def parent(arrays, i: int, key: str = "pixels") -> np.ndarray:
    """Parent image ``i`` (H, W, 3) uint8 from :func:`load_parents` (``key="backgrounds"``:
    the stand-in's digit-free background, known only for the stand-in)."""
    shape = tuple(int(s) for s in arrays["shapes"][i])
    off = int(arrays["offsets"][i])
    return np.asarray(arrays[key][off: off + int(np.prod(shape))]).reshape(shape)


def boxes_of(arrays, i: int) -> np.ndarray:
    """Boxes of parent ``i``: (k, 5) left, top, width, height, digit."""
    b = np.asarray(arrays["boxes"])
    return b[b[:, 0] == i, 1:]


def load_parents(*, split: str = "test", n_images: int = 200, seed: int = 0,
                 offline: bool | None = None) -> cache.CachedArrays:
    """Format-1 parent images and digit boxes for notebook 07 (first ``n_images`` of a split).

    Arrays: ``pixels`` (flat uint8), ``shapes`` (N, 3), ``offsets`` (N,), ``boxes`` (M, 6):
    image index, left, top, width, height, digit; offline also ``backgrounds`` (the same
    scene without digits, to score the infill). Use :func:`parent` / :func:`boxes_of`.
    Online this streams ``{split}.tar.gz`` (SHA-256-verified) without extracting it.
    """
    offline = env.is_offline() if offline is None else offline
    params = {"version": 1, "split": split, "n_images": n_images, "seed": seed,
              "source": "standin" if offline else "svhn-format1"}

    def build():
        if offline:
            imgs, bgs, boxes = synthetic_parents(n_images, seed=seed + 3)
            return _pack_parents(imgs, boxes, bgs), {"source": STANDIN}
        from PIL import Image

        from helpers.download import download, iter_tar

        tar = download(URL + f"{split}.tar.gz",
                       cache.cache_dir() / "downloads" / "svhn" / f"{split}.tar.gz",
                       sha256=TAR_SHA256[split])
        wanted = {f"{i}.png" for i in range(1, n_images + 1)}
        pngs, struct = {}, None
        for name, data in iter_tar(tar, (".png", ".mat")):
            base = name.rsplit("/", 1)[-1]
            if base == "digitStruct.mat":
                struct = data
            elif base in wanted:
                pngs[base] = data
        if struct is None:
            raise SVHNFormatError(f"{tar} has no digitStruct.mat; delete it and run again")
        records = read_digit_struct(io.BytesIO(struct), limit=n_images)
        imgs, boxes = [], []
        for rec in records:
            if rec["name"] not in pngs:
                raise SVHNFormatError(f"{rec['name']} is listed in digitStruct.mat but "
                                      f"missing from {tar}")
            im = Image.open(io.BytesIO(pngs[rec["name"]])).convert("RGB")
            imgs.append(np.asarray(im, dtype=np.uint8))
            boxes.append(rec["boxes"])
        return _pack_parents(imgs, boxes), {
            "source": f"SVHN format 1, {split}.tar.gz (ufldl.stanford.edu/housenumbers)",
            "names": [r["name"] for r in records]}

    return cache.cached_arrays("svhn1", params, build)


def square_boxes(boxes: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Extend (k, 4+) left, top, width, height boxes to squares on the same centre.

    The side is ``max(width, height) * (1 + margin)``, rounded to whole pixels; returns
    (k, 3) integer left, top, side (may reach outside the image).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, boxes.shape[-1])
    side = np.maximum(np.ceil(np.maximum(b[:, 2], b[:, 3]) * (1 + margin)), 2)
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    left, top = np.floor(cx - side / 2), np.floor(cy - side / 2)
    return np.column_stack([left, top, side]).astype(np.int64)


def crop_square(image: np.ndarray, left: int, top: int, side: int) -> np.ndarray:
    """The square ``image[top:top+side, left:left+side]``, edge pixels repeated outside."""
    h, w = image.shape[:2]
    rows = np.clip(np.arange(top, top + side), 0, h - 1)
    cols = np.clip(np.arange(left, left + side), 0, w - 1)
    return image[rows[:, None], cols[None, :]]


def resize(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an HxW(xC) uint8 image (PIL bilinear with antialiasing when shrinking)."""
    from PIL import Image

    hw = (size, size) if isinstance(size, int) else size
    squeeze = image.ndim == 3 and image.shape[-1] == 1
    img = Image.fromarray(image[..., 0] if squeeze else image)
    out = np.asarray(img.resize((hw[1], hw[0]), Image.BILINEAR, reducing_gap=None))
    return out[..., None] if squeeze else out


def square_crops(image: np.ndarray, boxes: np.ndarray, size: int = 32, margin: float = 0.0):
    """Crops for the classifier: each box extended to a square, cropped, resized to ``size``.

    Returns ``(crops (k, size, size, C) uint8, squares (k, 3) left, top, side)``.
    """
    squares = square_boxes(boxes, margin)
    crops = np.stack([resize(crop_square(image, *sq), size) for sq in squares]) \
        if len(squares) else np.zeros((0, size, size) + image.shape[2:], np.uint8)
    return crops, squares


# ============================================================================ stand-in

@functools.lru_cache(maxsize=4)
def _glyphs(height: int = 48) -> list[list[np.ndarray]]:
    """Alpha masks (float32 in [0, 1], cropped to the ink) of digits 0-9 in every font."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    out = []
    for fname in FONTS:
        path = font_dir / fname
        if not path.is_file():
            continue
        font = ImageFont.truetype(str(path), size=height)
        digits = []
        for d in range(10):
            canvas = Image.new("L", (height * 2, height * 2), 0)
            ImageDraw.Draw(canvas).text((height // 3, height // 4), str(d), fill=255, font=font)
            a = np.asarray(canvas, dtype=np.float32) / 255.0
            rows, cols = np.flatnonzero(a.max(1) > 0.05), np.flatnonzero(a.max(0) > 0.05)
            digits.append(a[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1])
        out.append(digits)
    if not out:
        raise RuntimeError(f"no TrueType fonts found in {font_dir}")
    return out


@functools.lru_cache(maxsize=1)
def _backgrounds() -> list[np.ndarray]:
    from helpers.datasets.photos import rgb_photos

    return [p for p in rgb_photos().values() if min(p.shape[:2]) >= 64]


def _scaled(mask: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image

    h, w = mask.shape
    width = max(1, int(round(w * height / h)))
    img = Image.fromarray((mask * 255).astype(np.uint8))
    return np.asarray(img.resize((width, max(1, height)), Image.BILINEAR),
                      dtype=np.float32) / 255.0


def _line_mask(digits, font, height, gap, canvas_hw, anchor_xy, anchor_index):
    """Render a row of digits; the ``anchor_index``-th digit's box centre at ``anchor_xy``.

    Returns (alpha (H, W) float32, boxes [(left, top, width, height)] in canvas pixels).
    """
    H, W = canvas_hw
    masks = [_scaled(font[d], height) for d in digits]
    widths = [m.shape[1] for m in masks]
    xs = np.concatenate([[0], np.cumsum(np.array(widths[:-1]) + gap)]).astype(float)
    x0 = anchor_xy[0] - (xs[anchor_index] + widths[anchor_index] / 2)
    y0 = int(round(anchor_xy[1] - height / 2))
    alpha = np.zeros((H, W), np.float32)
    boxes = []
    for m, x in zip(masks, xs):
        left = int(round(x0 + x))
        t, lft = max(y0, 0), max(left, 0)
        b, r = min(y0 + m.shape[0], H), min(left + m.shape[1], W)
        if b > t and r > lft:
            sub = m[t - y0: b - y0, lft - left: r - left]
            alpha[t:b, lft:r] = np.maximum(alpha[t:b, lft:r], sub)
        boxes.append((left, y0, m.shape[1], m.shape[0]))
    return alpha, boxes


def _background(rng, hw) -> np.ndarray:
    """A crop of a real photo, resized to ``hw``, often blended towards a plain plate colour."""
    photos = _backgrounds()
    photo = photos[rng.integers(len(photos))]
    ph, pw = photo.shape[:2]
    aspect = hw[1] / hw[0]
    ch = int(rng.uniform(0.1, 0.5) * min(ph, pw / aspect))
    ch = max(ch, 8)
    cw = max(int(ch * aspect), 8)
    top, left = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
    bg = resize(np.ascontiguousarray(photo[top: top + ch, left: left + cw]), hw)
    bg = bg.astype(np.float32)
    plate = rng.uniform(0, 255, 3).astype(np.float32)
    keep = rng.uniform(0.25, 1.0)
    return keep * bg + (1 - keep) * plate


def _ink(rng, bg_mean_luma: float) -> np.ndarray:
    """A digit colour with at least ~70 grey levels of luma contrast to the background."""
    for _ in range(20):
        c = rng.uniform(0, 255, 3)
        if abs(c @ LUMA - bg_mean_luma) >= 70:
            return c.astype(np.float32)
    return np.full(3, 0.0 if bg_mean_luma > 127 else 255.0, np.float32)


def _finish(img: np.ndarray, rng, blur_max: float, noise_max: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    sigma = rng.uniform(0, blur_max)
    if sigma > 0.15:
        img = gaussian_filter(img, sigma=(sigma, sigma, 0))
    noise = rng.uniform(0, noise_max)
    img = img + rng.normal(0, 1, img.shape) * noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def synthetic_digits(n: int, seed: int = 0, size: int = 32, counts=SVHN_TRAIN_COUNTS):
    """The offline stand-in for format 2: ``(images (n, size, size, 3) uint8, digits (n,))``.

    Each crop shows one centred digit (rendered at twice the size, then shrunk), often with
    neighbours of the same house number cut by the borders; labels follow SVHN's skewed
    class frequencies. Used by :func:`load` offline (notebook 06).
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    fonts = _glyphs()
    labels = rng.choice(10, size=n, p=np.asarray(counts) / np.sum(counts))
    big = 2 * size
    images = np.empty((n, size, size, 3), np.uint8)
    for i, d in enumerate(labels):
        font = fonts[rng.integers(len(fonts))]
        height = int(rng.uniform(0.5, 0.85) * big)
        left_n, right_n = rng.random() < 0.6, rng.random() < 0.6
        digits = ([rng.integers(10)] if left_n else []) + [d] + ([rng.integers(10)] if right_n
                                                                 else [])
        gap = int(rng.uniform(0.02, 0.2) * height)
        centre = (big / 2 + rng.normal(0, 0.04 * big), big / 2 + rng.normal(0, 0.04 * big))
        alpha, _ = _line_mask(digits, font, height, gap, (big, big), centre, int(left_n))
        angle = rng.uniform(-12, 12)
        if abs(angle) > 0.5:
            alpha = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).rotate(
                angle, Image.BILINEAR), dtype=np.float32) / 255.0
        bg = _background(rng, (big, big))
        ink = _ink(rng, float(bg.mean(axis=(0, 1)) @ LUMA))
        a = alpha[..., None] * rng.uniform(0.75, 1.0)
        img = bg * (1 - a) + ink * a
        small = resize(np.clip(img, 0, 255).astype(np.uint8), size).astype(np.float32)
        images[i] = _finish(small, rng, blur_max=1.0, noise_max=8.0)
    return images, labels.astype(np.int64)


def synthetic_parents(n: int, seed: int = 0, hw: tuple[int, int] = (64, 128)):
    """The offline stand-in for format 1: ``(images, backgrounds, boxes)`` lists.

    Each parent is a photo crop (``hw``) with a house number of 1-4 digits; ``boxes[i]`` is
    (k, 5) left, top, width, height, digit of each glyph's ink (like SVHN's boxes), and
    ``backgrounds[i]`` is the same scene without the digits. Used by :func:`load_parents`.
    """
    rng = np.random.default_rng(seed)
    fonts = _glyphs()
    H, W = hw
    images, backgrounds, boxes = [], [], []
    p = SVHN_TRAIN_COUNTS / SVHN_TRAIN_COUNTS.sum()
    for _ in range(n):
        font = fonts[rng.integers(len(fonts))]
        k = int(rng.integers(1, 5))
        digits = list(rng.choice(10, size=k, p=p))
        height = int(rng.uniform(0.3, 0.6) * H)
        gap = int(rng.uniform(0.05, 0.25) * height)
        for _ in range(3):  # shrink until the number fits the width
            widths = [_scaled(font[d], height).shape[1] for d in digits]
            total = sum(widths) + gap * (k - 1)
            if total <= W - 4:
                break
            height = max(6, int(height * (W - 4) / total))
            gap = int(gap * (W - 4) / total)
        x_left = rng.uniform(2, max(W - 2 - total, 3))
        y_mid = rng.uniform(height / 2 + 2, H - height / 2 - 2)
        first_w = widths[0]
        alpha, bx = _line_mask(digits, font, height, gap, hw, (x_left + first_w / 2, y_mid), 0)
        bg = _background(rng, hw)
        ink = _ink(rng, float(bg.mean(axis=(0, 1)) @ LUMA))
        img = bg * (1 - alpha[..., None]) + ink * alpha[..., None]
        # the same blur on both; sensor noise only on the photo with digits
        seed = int(rng.integers(2**31))
        images.append(_finish(img, np.random.default_rng(seed), blur_max=0.8, noise_max=4.0))
        backgrounds.append(_finish(bg, np.random.default_rng(seed), blur_max=0.8,
                                   noise_max=0.0))
        b = np.array([(*box, d) for box, d in zip(bx, digits)], dtype=np.float64)
        # keep boxes inside the image
        b[:, 0] = np.clip(b[:, 0], 0, W - 1)
        b[:, 1] = np.clip(b[:, 1], 0, H - 1)
        b[:, 2] = np.minimum(b[:, 2], W - b[:, 0])
        b[:, 3] = np.minimum(b[:, 3], H - b[:, 1])
        boxes.append(b)
    return images, backgrounds, boxes
