"""HPatches / N-HPatches patches for notebook 05, real or as an offline stand-in.

HPatches (Balntas et al., "HPatches: A benchmark and evaluation of handcrafted and learned
local descriptors", CVPR 2017) has 116 sequences: 57 with illumination changes (``i_``) and
59 with viewpoint changes (``v_``). Each sequence folder holds 16 PNG images, ``ref.png``
and five targets per level ``e1..e5`` (easy), ``h1..h5`` (hard), ``t1..t5`` (tough); every
PNG is a vertical stack of 65x65 patches, one per keypoint, in the same keypoint order.
N-HPatches (the coursework's variant) downsamples the patches to 32x32 and adds noise.

- Real data: the official release (``hpatches-release.tar.gz``, 4.2 GB, MD5 pinned) is
  downloaded with :func:`helpers.download.download`, read member by member with
  :func:`helpers.download.iter_tar` (never extracted), downsampled to 32x32 and cached as
  uint8 arrays. The official splits come from the benchmark's ``splits.json``, verified.
- Offline default (``KIT_OFFLINE=1``): :func:`make_standin` writes an HPatches-style
  archive in the SAME layout from the real photographs bundled with scikit-image
  (Harris keypoints, reference patches, five views per level with increasing affine jitter
  and photometric change). The same reader then loads it.

Noise: the kit adds its own N-HPatches-style Gaussian noise, stronger from easy to tough
(:data:`NOISE_SIGMA`); the ``clean`` array keeps the noise-free patches as targets.

Arrays of :func:`load`: ``clean`` and ``noisy`` (N, 32, 32) uint8, ``offsets`` and
``counts`` (one per sequence). Patch ``i`` of image ``t`` (index in :data:`IMAGES`) of
sequence ``s`` is row ``offsets[s] + t * counts[s] + i``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

LEVELS = ("e", "h", "t")
IMAGES = ("ref",) + tuple(f"{lv}{j}" for lv in LEVELS for j in range(1, 6))
SPLIT_NAMES = ("a", "b", "c", "illum", "view", "full")

RELEASE_URL = "http://icvl.ee.ic.ac.uk/vbalnt/hpatches/hpatches-release.tar.gz"
RELEASE_MD5 = "0ab830d37fceb2b4c86cb1cc6cc79a61"
SPLITS_URL = "http://icvl.ee.ic.ac.uk/vbalnt/hpatches/splits.json"
# SHA-256 of the canonical form of the official splits (see _splits_digest): robust to
# whitespace or key order in the served file, but not to any change in the split itself.
SPLITS_SHA256 = "37049bddc5050a745c1450fee2088239838775a640e43aa1aaaedd00ca32ba63"

# The kit's N-HPatches-style noise: Gaussian, sigma in [0, 1] units, by image level.
NOISE_SIGMA = {"ref": 0.04, "e": 0.06, "h": 0.10, "t": 0.14}
# Stand-in geometry and photometry per level: rotation (degrees), log-scale, anisotropy,
# shift (fraction of the patch), contrast change (std of a log gain), all standard deviations.
JITTER = {"e": (4.0, 0.04, 0.03, 0.02, 0.05),
          "h": (10.0, 0.10, 0.07, 0.05, 0.12),
          "t": (18.0, 0.18, 0.12, 0.09, 0.20)}
PATCH_PX = 65  # side of a patch in the release's PNG stacks
VERSION = 1


class HPatchesError(RuntimeError):
    """A damaged or unexpected HPatches archive; the message says what to do."""


# ------------------------------------------------------------------------------ splits

def parse_splits(source) -> dict[str, dict[str, list[str]]]:
    """``{split: {"train": [...], "test": [...]}}`` from a ``splits.json`` path or dict."""
    raw = json.loads(Path(source).read_text()) if not isinstance(source, dict) else source
    out = {}
    for name, entry in raw.items():
        if "test" not in entry:
            raise HPatchesError(f"split {name!r} has no 'test' list; is this splits.json?")
        out[name] = {"train": list(entry.get("train", [])), "test": list(entry["test"])}
    return out


def _splits_digest(splits: dict) -> str:
    canon = {k: {"test": sorted(v["test"]), "train": sorted(v.get("train", []))}
             for k, v in splits.items()}
    return hashlib.sha256(json.dumps(canon, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def official_splits(folder=None) -> dict:
    """The benchmark's splits (a, b, c, illum, view, full), downloaded once and verified."""
    from helpers import cache, download

    folder = Path(folder) if folder is not None else cache.cache_dir() / "downloads"
    path = download.download(SPLITS_URL, folder / "hpatches-splits.json", quiet=True)
    splits = parse_splits(path)
    if _splits_digest(splits) != SPLITS_SHA256:
        bad = path.with_name(path.name + ".unverified")
        os.replace(path, bad)
        raise HPatchesError(f"{SPLITS_URL} does not hold the published HPatches splits (its "
                            f"content hash differs); it was moved to {bad}. Run again later, "
                            "or set KIT_OFFLINE=1 to use the offline stand-in.")
    return splits


def standin_splits(names, seed: int = 0) -> dict:
    """Splits for a stand-in with the official recipe's shape.

    a, b, c: three seeded train/test partitions, about 40/116 of the sequences (both kinds)
    in test; illum / view: all ``i_`` / ``v_`` sequences; full: all sequences.
    """
    names = sorted(names)
    illum = [n for n in names if n.startswith("i_")]
    view = [n for n in names if n.startswith("v_")]
    out = {}
    for k, name in enumerate("abc"):
        rng = np.random.default_rng([seed, k])
        test = []
        for group in (illum, view):
            n_test = max(1, int(round(len(group) * 40 / 116))) if len(group) > 1 else 0
            test += [group[i] for i in sorted(rng.permutation(len(group))[:n_test])]
        out[name] = {"train": [n for n in names if n not in test], "test": sorted(test)}
    out["illum"] = {"train": [], "test": illum}
    out["view"] = {"train": [], "test": view}
    out["full"] = {"train": [], "test": names}
    return out


# ------------------------------------------------------------------------------ reading

def _decode_stack(name: str, data: bytes) -> np.ndarray:
    from PIL import Image

    try:
        img = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    except Exception as exc:
        raise HPatchesError(f"{name} is not a readable PNG ({exc}); the archive is damaged: "
                            "delete it and run again to download it afresh.") from exc
    side = img.shape[1]
    if img.shape[0] % side:
        raise HPatchesError(f"{name}: {img.shape[0]}x{side} is not a stack of square patches")
    return img.reshape(-1, side, side)


def downsample(patches: np.ndarray, size: int) -> np.ndarray:
    """(n, p, p) uint8 patches to (n, size, size): crop to a multiple, then block mean."""
    side = patches.shape[-1]
    k = side // size
    if k < 1:
        raise ValueError(f"patches of {side} px cannot be downsampled to {size} px")
    if k == 1 and side == size:
        return patches
    x = patches[:, :size * k, :size * k].astype(np.float32)
    x = x.reshape(len(x), size, k, size, k).mean(axis=(2, 4))
    return np.rint(x).astype(np.uint8)


def read_release(source, sequences=None, *, max_patches: int | None = None,
                 size: int = 32) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(sequence, patches)`` with patches (16, n, size, size) uint8 in IMAGES order.

    ``source`` is an HPatches-layout tar archive (``<root>/<seq>/<image>.png``, any
    compression), read as a stream. ``sequences`` keeps only those names; ``max_patches``
    keeps the first n keypoints of each sequence.
    """
    from helpers.download import iter_tar

    wanted = set(sequences) if sequences is not None else None
    done: set[str] = set()
    current, images = None, {}

    def flush():
        missing = [t for t in IMAGES if t not in images]
        if missing:
            raise HPatchesError(f"sequence {current} lacks {', '.join(missing)} in {source}: "
                                "the archive is incomplete; delete it and run again.")
        counts = {len(images[t]) for t in IMAGES}
        if len(counts) != 1:
            raise HPatchesError(f"sequence {current}: images hold different patch counts "
                                f"{sorted(counts)}; the archive is damaged.")
        done.add(current)
        return current, np.stack([images[t] for t in IMAGES])

    for name, data in iter_tar(source, (".png",)):
        parts = name.split("/")
        if len(parts) < 2:
            continue
        seq, image = parts[-2], parts[-1][:-4]
        if image not in IMAGES or not seq.startswith(("i_", "v_")):
            continue
        if wanted is not None and seq not in wanted:
            continue
        if seq != current:
            if current is not None:
                yield flush()
            if seq in done:
                raise HPatchesError(f"sequence {seq} appears twice in {source}; the archive "
                                    "is not in HPatches layout.")
            current, images = seq, {}
        stack = _decode_stack(name, data)
        if max_patches is not None:
            stack = stack[:max_patches]
        images[image] = downsample(stack, size)
    if current is not None:
        yield flush()
    if wanted is not None and wanted - done:
        raise HPatchesError(f"{source} lacks the sequences {sorted(wanted - done)[:5]}...; the "
                            "archive is incomplete or the split does not belong to it.")


def add_noise(patches: np.ndarray, sequence: str, seed: int = 0) -> np.ndarray:
    """The kit's N-HPatches noise on (16, n, s, s) uint8 patches; seeded per sequence."""
    from helpers import noise

    out = np.empty_like(patches)
    for t, image in enumerate(IMAGES):
        sigma = NOISE_SIGMA[image if image == "ref" else image[0]]
        rng = np.random.default_rng([seed, zlib.crc32(sequence.encode()), t])
        out[t] = noise.gaussian(patches[t][..., None], sigma, rng=rng)[..., 0]
    return out


# ------------------------------------------------------------------------------ stand-in

def _rotation_scale(theta, log_s, aniso):
    c, s = np.cos(theta), np.sin(theta)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    scale = np.exp(log_s)[:, None, None] * np.stack(
        [np.stack([np.exp(aniso), 0 * aniso], -1), np.stack([0 * aniso, np.exp(-aniso)], -1)], -2)
    return rot @ scale


def _sample(img: np.ndarray, centres: np.ndarray, frames: np.ndarray, radius: float,
            px: int) -> np.ndarray:
    """Bilinear patches (n, px, px) of ``img`` at ``centres`` (n, 2) with frames (n, 2, 2)."""
    from scipy import ndimage

    u = np.linspace(-1.0, 1.0, px, dtype=np.float64) * radius
    grid = np.stack(np.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2)  # (px*px, 2) row, col
    coords = centres[:, None, :] + grid @ np.swapaxes(frames, 1, 2)
    vals = ndimage.map_coordinates(img, [coords[..., 0].ravel(), coords[..., 1].ravel()],
                                   order=1, mode="nearest")
    return vals.reshape(len(centres), px, px)


def _keypoints(img: np.ndarray, n: int, margin: int, rng) -> np.ndarray:
    from skimage.feature import corner_harris, corner_peaks

    pts = corner_peaks(corner_harris(img, sigma=1.5), min_distance=5, threshold_rel=0.001,
                       exclude_border=margin)
    if len(pts) < n:  # flat photos: add random locations
        extra = rng.uniform(margin, np.array(img.shape) - margin, size=(n - len(pts), 2))
        pts = np.concatenate([pts.astype(np.float64), extra])
    return pts[np.sort(rng.permutation(len(pts))[:n])].astype(np.float64)


def _standin_sequence(img: np.ndarray, kind: str, n: int, rng) -> dict[str, np.ndarray]:
    """The 16 patch stacks of one stand-in sequence, uint8 (n, 65, 65) each."""
    img = img.astype(np.float64) / 255.0
    radius = 20.0
    margin = int(radius * 2.2)
    centres = _keypoints(img, n, margin, rng)
    eye = np.broadcast_to(np.eye(2), (n, 2, 2))
    out = {"ref": _sample(img, centres, eye, radius, PATCH_PX)}
    for level in LEVELS:
        rot, sc, an, sh, con = JITTER[level]
        for j in range(1, 6):
            # the image's own change: a residual viewpoint distortion (v_) or an
            # illumination change (i_), growing along the sequence
            if kind == "v":
                shear, stretch = rng.normal(0, 0.04 * j), rng.normal(0, 0.04 * j)
                view = np.array([[np.exp(stretch), shear], [0.0, np.exp(-stretch)]])
                gain, gamma, bias = np.exp(rng.normal(0, 0.05)), 1.0, 0.0
            else:
                view = np.eye(2)
                gain = np.exp(rng.normal(0, 0.15 * j))
                gamma = np.exp(rng.normal(0, 0.12 * j))
                bias = rng.normal(0, 0.03 * j)
            jit = _rotation_scale(np.deg2rad(rng.normal(0, rot, n)), rng.normal(0, sc, n),
                                  rng.normal(0, an, n))
            shift = rng.normal(0, sh * 2 * radius, (n, 2))
            patch = _sample(img, centres + shift, jit @ view, radius, PATCH_PX)
            contrast = np.exp(rng.normal(0, con, (n, 1, 1)))
            mean = patch.mean(axis=(1, 2), keepdims=True)
            patch = gain * np.clip(patch, 0, 1) ** gamma + bias
            patch = mean + contrast * (patch - mean)
            out[f"{level}{j}"] = patch
    return {k: np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8) for k, v in out.items()}


def standin_names(n_sequences: int) -> list[str]:
    """Sequence names of a stand-in: alternating ``i_<photo><k>`` / ``v_<photo><k>``."""
    from helpers.datasets import photos

    names = sorted(photos.gray_photos())
    return [f"{'iv'[k % 2]}_{names[(k // 2) % len(names)]}{k}" for k in range(n_sequences)]


def make_standin(dest, n_sequences: int = 24, patches_per_sequence: int = 100,
                 seed: int = 0) -> Path:
    """Write an HPatches-layout tar (``hpatches-standin/<seq>/<image>.png``) from real photos.

    Keypoints: Harris corners of scikit-image's bundled photographs. Reference patches are
    cut around them; each target image shifts, rotates and scales every patch frame by a
    jitter that grows from easy to tough (:data:`JITTER`), plus a per-image viewpoint
    distortion (``v_``) or illumination change (``i_``). Written atomically.
    """
    from PIL import Image

    from helpers.datasets import photos

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    gray = photos.gray_photos()
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w") as tar:
            for k, name in enumerate(standin_names(n_sequences)):
                photo = gray[name[2:].rstrip("0123456789")]
                rng = np.random.default_rng([seed, k])
                stacks = _standin_sequence(photo, name[0], patches_per_sequence, rng)
                for image in IMAGES:
                    buf = io.BytesIO()
                    stack = Image.fromarray(stacks[image].reshape(-1, PATCH_PX))
                    stack.save(buf, "PNG", compress_level=1)
                    info = tarfile.TarInfo(f"hpatches-standin/{name}/{image}.png")
                    info.size = buf.tell()
                    buf.seek(0)
                    tar.addfile(info, buf)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


# ------------------------------------------------------------------------------ loading

def standin_config(quick: bool | None = None) -> dict:
    """Sizes of the offline stand-in: smaller under KIT_QUICK=1."""
    from helpers import env

    quick = env.is_quick() if quick is None else quick
    return ({"n_sequences": 10, "patches_per_sequence": 40, "seed": 0} if quick
            else {"n_sequences": 24, "patches_per_sequence": 100, "seed": 0})


def _archive(offline: bool, standin: dict) -> Path:
    """The archive to read: the stand-in (written on first use) or the verified release."""
    from helpers import cache, download

    folder = cache.cache_dir() / "downloads"
    if offline:
        key = hashlib.sha256(json.dumps({**standin, "v": VERSION}, sort_keys=True)
                             .encode()).hexdigest()[:10]
        path = folder / f"hpatches-standin-{key}.tar"
        if not path.exists():
            make_standin(path, **standin)
        return path
    return download.download(RELEASE_URL, folder / "hpatches-release.tar.gz", md5=RELEASE_MD5,
                             desc="HPatches release (4.2 GB)")


def load(split: str = "a", subset: str = "test", *, offline: bool | None = None,
         max_patches: int | None = None, size: int = 32, noise_seed: int = 0,
         standin: dict | None = None):
    """The patches of one split (``a``, ``b``, ``c``, ``illum``, ``view``, ``full``) and
    subset (``train`` / ``test``) as a cached :class:`helpers.cache.CachedArrays`.

    Arrays ``clean``, ``noisy`` (N, size, size) uint8, ``offsets``, ``counts``;
    ``.meta``: ``sequences`` (in row order), ``source``, ``images``. Offline (or
    ``offline=True``) reads the stand-in archive, else the official release (downloaded
    and verified only when the cache lacks the arrays). Used by notebook 05.
    """
    from helpers import cache, env

    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {SPLIT_NAMES}, not {split!r}")
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', not {subset!r}")
    offline = env.is_offline() if offline is None else offline
    if offline:
        standin = standin or standin_config()
        splits = standin_splits(standin_names(standin["n_sequences"]), standin["seed"])
        description = (f"offline stand-in: HPatches-style patches from scikit-image photos "
                       f"({standin['n_sequences']} sequences x "
                       f"{standin['patches_per_sequence']} keypoints), not the real HPatches")
    else:
        splits = official_splits()
        description = "HPatches release (Balntas et al. 2017), official splits"
    names = sorted(splits[split][subset])
    if not names:
        raise ValueError(f"split {split!r} has no {subset} sequences (illum, view and full "
                         "are test-only; train on a, b or c)")
    params = {"source": "standin" if offline else RELEASE_MD5, "split": split,
              "subset": subset, "sequences": names, "max_patches": max_patches, "size": size,
              "noise": NOISE_SIGMA, "noise_seed": noise_seed, "version": VERSION}
    if offline:
        params["standin"] = standin

    def fill(writer):
        path = _archive(offline, standin)
        found, counts = [], []
        for seq, patches in read_release(path, names, max_patches=max_patches, size=size):
            found.append(seq)
            counts.append(patches.shape[1])
            writer.append(clean=patches.reshape(-1, size, size),
                          noisy=add_noise(patches, seq, noise_seed).reshape(-1, size, size))
        counts = np.array(counts, dtype=np.int64)
        writer.append(counts=counts, offsets=np.concatenate([[0], np.cumsum(16 * counts)[:-1]]))
        writer.meta.update(sequences=found, source=description, split=split, subset=subset,
                           images=list(IMAGES))

    return cache.stream_arrays(f"hpatches-{'standin' if offline else 'release'}-{split}-{subset}",
                               params, fill, desc=f"HPatches {split}/{subset}")
