"""Google Landmarks v2 photos as square uint8 arrays, and their stored noisy test sets.

    from helpers.datasets import landmarks
    data = landmarks.load("report64")          # train / val / test, uint8 NHWC
    noisy = landmarks.noisy_test("report64", data["test"])   # fixed-seed noisy copy

Used by notebook 01 (which builds and explains it) and notebooks 02 and 03 (which train on
it). Presets follow the report's experiments:

============  ==========  ========================  =================
preset        image size  train (incl. validation)  test
============  ==========  ========================  =================
report64      64 x 64     11,000 (10 % validation)  375
report128     128 x 128   4,000 (20 % validation)   375
============  ==========  ========================  =================

Quick mode (``KIT_QUICK=1``) shrinks the counts, nothing else.

Sources, all decoded by the same code (:mod:`helpers.images`) from ``(name, bytes)``:

* online: the CVDF release of Google Landmarks Dataset v2 (Weyand et al., CVPR 2020),
  ``https://s3.amazonaws.com/google-landmark/train/images_XXX.tar`` (500 shards of about
  500 MB, ~8,000 JPEGs each). Each shard is checked against the md5 file published next to
  it (``md5sum/train/md5.images_XXX.txt``), downloaded resumably, then read member by member
  from the tar stream (never extracted). Shards are taken in order until enough images
  decode; ``shards=k`` fixes the subset to the first k shards instead (the report used
  about 1 GB, i.e. two shards);
* ``source_dir=...``: any folder tree of JPEG/PNG files (sorted path order);
* offline (``KIT_OFFLINE=1``): the **offline stand-in**, crops of the real photographs
  bundled with scikit-image, written as JPEG files into a folder tree laid out like a
  GLDv2 shard (``a/b/c/abc....jpg``) and decoded by the same folder code. It also holds a
  few deliberately damaged or unusual files (1 in 50) to show the bad-image handling.

The images are split reproducibly (a seeded permutation of positions decides train,
validation and test), centre-cropped, area-resampled and written to the cache one chunk
at a time: building never holds more than one chunk of decoded images in RAM.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from helpers import cache, env, images, noise

VERSION = 2  # 2: stand-in crops are no longer mirrored (mirrored text looked wrong)
BASE_URL = "https://s3.amazonaws.com/google-landmark"
N_SHARDS = 500
CHUNK = 256  # decoded images per role held in RAM before they are written
DAMAGED_EVERY = 50  # offline stand-in: one file in 50 is damaged or unusual on purpose
GRAY_SHARE = 0.15  # offline stand-in: share of crops cut from grayscale photographs

PRESETS = {
    "report64": {"size": 64, "n_train": 11000, "n_test": 375, "val_fraction": 0.1,
                 "quick_train": 600, "quick_test": 96},
    "report128": {"size": 128, "n_train": 4000, "n_test": 375, "val_fraction": 0.2,
                  "quick_train": 240, "quick_test": 48},
}

# Named noise settings for the stored test sets (notebooks 01 to 03).
NOISES = {
    "report": ("blur_salt_pepper", {"sigma": 1.0, "intensity": 35}),
    "report-across-channels": ("blur_salt_pepper", {"sigma": 1.0, "intensity": 35,
                                                    "across_channels": True}),
    "salt-pepper": ("salt_and_pepper", {"intensity": 35}),
    "blur": ("gaussian_blur", {"sigma": 1.0}),
    "gaussian-25": ("gaussian", {"sigma": 25 / 255}),
}


# ---------------------------------------------------------------------------- shards

def shard_url(index: int) -> str:
    return f"{BASE_URL}/train/images_{index:03d}.tar"


def md5_url(index: int) -> str:
    return f"{BASE_URL}/md5sum/train/md5.images_{index:03d}.txt"


def parse_md5_file(text: str, filename: str) -> str:
    """The md5 for ``filename`` in an ``md5sum``-style text (``<32 hex>  <name>``)."""
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) >= 2 and Path(parts[-1].lstrip("*")).name == filename \
                and re.fullmatch(r"[0-9a-fA-F]{32}", parts[0]):
            return parts[0].lower()
    raise ValueError(f"no md5 for {filename} in the checksum file:\n{text[:200]}")


def download_shard(index: int, folder, *, base_url: str | None = None,
                   quiet: bool = False) -> Path:
    """Download train shard ``index`` into ``folder`` (resumable), verified by its md5.

    The md5 comes from the file the dataset publishes next to the shard. Returns the path.
    A mismatch deletes the download and raises :class:`helpers.download.DownloadError`.
    """
    from helpers import download

    if not 0 <= index < N_SHARDS:
        raise ValueError(f"shard index must be in 0..{N_SHARDS - 1}, not {index}")
    base = (base_url or BASE_URL).rstrip("/")
    folder = Path(folder)
    name = f"images_{index:03d}.tar"
    md5_path = download.download(f"{base}/md5sum/train/md5.images_{index:03d}.txt",
                                 folder / f"md5.images_{index:03d}.txt", quiet=True)
    try:
        expected = parse_md5_file(md5_path.read_text(errors="replace"), name)
    except ValueError as exc:
        md5_path.unlink()  # a bad checksum file (an error page?): fetch it again next time
        raise download.DownloadError(download.offline_hint(
            f"The checksum file for {name} from {base} is not usable ({exc})")) from exc
    return download.download(f"{base}/train/{name}", folder / name, md5=expected,
                             desc=name, quiet=quiet)


def iter_shards(shards, folder, *, base_url: str | None = None,
                keep: bool = True) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of every image in the given shard indices, shard after shard.

    Each shard is downloaded (or found complete) just before it is read, so a build that
    needs only the first shard never downloads the second.
    """
    from helpers import download

    for index in shards:
        path = download_shard(index, folder, base_url=base_url)
        for name, data in download.iter_tar(path, (".jpg", ".jpeg", ".png")):
            yield f"images_{index:03d}/{name}", data
        if not keep:
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- offline stand-in

def _standin_photos() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(colour photos, grayscale photos) bundled with scikit-image."""
    from helpers.datasets import photos

    # colorwheel is a rendered test chart, not a photograph
    found = sorted(photos.bundled_photos().items())
    colour = [img for name, img in found if img.ndim == 3 and name != "colorwheel"]
    gray = [img for name, img in found if img.ndim == 2]
    return colour, gray


def _damaged_file(kind: int, rng: np.random.Generator, photo: np.ndarray, size: int):
    """(suffix, bytes) of an unusual file: the kinds a real crawl contains."""
    from PIL import Image

    rgb = photo if photo.ndim == 3 else np.repeat(photo[..., None], 3, axis=-1)
    side = max(size + 8, 96)
    crop = Image.fromarray(np.ascontiguousarray(rgb[:side, :side, :3]))
    buf = io.BytesIO()
    kind = kind % 6
    if kind == 0:  # truncated JPEG (download cut short)
        crop.save(buf, "JPEG", quality=90)
        return ".jpg", buf.getvalue()[: len(buf.getvalue()) // 2]
    if kind == 1:  # not an image at all (an HTML error page saved as .jpg)
        return ".jpg", b"<html><body>404 Not Found</body></html>\n" * 4
    if kind == 2:  # CMYK JPEG (print workflows)
        crop.convert("CMYK").save(buf, "JPEG", quality=90)
        return ".jpg", buf.getvalue()
    if kind == 3:  # palette PNG (GIF-like, 256 colours)
        crop.convert("P").save(buf, "PNG")
        return ".png", buf.getvalue()
    if kind == 4:  # RGBA PNG with a transparent border
        rgba = np.dstack([np.asarray(crop), np.full(crop.size[::-1], 255, np.uint8)])
        rgba[:8, :, 3] = 0
        Image.fromarray(rgba).save(buf, "PNG")
        return ".png", buf.getvalue()
    small = crop.resize((max(8, size // 2), max(8, size // 2)), Image.Resampling.BOX)
    small.save(buf, "JPEG", quality=90)  # a thumbnail smaller than the target size
    return ".jpg", buf.getvalue()


def write_standin_folder(folder, n_files: int, size: int, seed: int = 0) -> Path:
    """Write ``n_files`` offline stand-in files into ``folder`` (GLDv2-like layout).

    File k is a random crop (aspect 3:4 to 4:3, shorter side 0.75 to 3 times ``size``,
    JPEG quality 80-95) of one of scikit-image's bundled photographs: a
    colour one, or with probability ``GRAY_SHARE`` a grayscale one saved as grayscale JPEG.
    Every ``DAMAGED_EVERY``-th file is damaged or unusual
    instead (truncated, not an image, CMYK, palette, RGBA, too small), in rotation.
    One image at a time is in memory.
    """
    from PIL import Image

    folder = Path(folder)
    colour, gray = _standin_photos()
    for k in range(n_files):
        rng = np.random.default_rng([seed, k])
        pool = gray if rng.random() < GRAY_SHARE else colour
        photo = pool[int(rng.integers(len(pool)))]
        ident = hashlib.sha1(f"standin-{seed}-{k}".encode()).hexdigest()[:16]
        sub = folder / ident[0] / ident[1] / ident[2]
        sub.mkdir(parents=True, exist_ok=True)
        if k % DAMAGED_EVERY == DAMAGED_EVERY - 1:
            suffix, blob = _damaged_file(k // DAMAGED_EVERY, rng, photo, size)
            (sub / f"{ident}{suffix}").write_bytes(blob)
            continue
        h, w = photo.shape[:2]
        short = min(int(rng.uniform(0.75, 3.0) * size), h, w)
        aspect = rng.uniform(0.75, 4 / 3)
        ch, cw = (short, min(w, int(short * aspect))) if aspect >= 1 else \
            (min(h, int(short / aspect)), short)
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = photo[top:top + ch, left:left + cw]
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(crop)).save(buf, "JPEG",
                                                         quality=int(rng.integers(80, 96)))
        (sub / f"{ident}.jpg").write_bytes(buf.getvalue())
    (folder / "COMPLETE").write_text(f"{n_files}\n")
    return folder


def _standin_files_needed(total: int) -> int:
    # up to ~11 % of crops are below the target size and 2 % are damaged: keep a margin
    return int(np.ceil(total / 0.82)) + 50


# ---------------------------------------------------------------------------- building

def split_roles(total: int, n_test: int, n_val: int, seed: int) -> np.ndarray:
    """Role of the k-th usable image: 0 train, 1 validation, 2 test (a seeded permutation)."""
    if n_test + n_val > total:
        raise ValueError("more test and validation images than images")
    roles = np.zeros(total, np.int8)
    order = np.random.default_rng(seed).permutation(total)
    roles[order[:n_test]] = 2
    roles[order[n_test:n_test + n_val]] = 1
    return roles


def build_from_stream(writer, items, *, size: int, n_train: int, n_test: int,
                      val_fraction: float, seed: int, chunk: int = CHUNK) -> images.DecodeCounts:
    """Decode ``items`` and append train/val/test chunks to a cache ``writer``.

    Stops as soon as ``n_train + n_test`` images are kept; raises ``RuntimeError`` if the
    stream runs out first. The counts of kept, converted and skipped files go to
    ``writer.meta["decode_counts"]``. At most ``chunk`` images per split are in RAM.
    """
    n_val = int(round(n_train * val_fraction))
    total = n_train + n_test
    roles = split_roles(total, n_test, n_val, seed)
    keys = ("train", "val", "test")
    empty = np.zeros((0, size, size, 3), np.uint8)
    writer.append(**{key: empty for key in keys})  # fixes the arrays even if one stays empty
    buffers: list[list[np.ndarray]] = [[], [], []]
    counts = images.DecodeCounts()
    kept = 0
    for _name, image in images.decode_stream(items, size, counts):
        role = int(roles[kept])
        buffers[role].append(image)
        kept += 1
        if len(buffers[role]) >= chunk:
            writer.append(**{keys[role]: np.stack(buffers[role])})
            buffers[role].clear()
        if kept == total:
            break
    for role, buf in enumerate(buffers):
        if buf:
            writer.append(**{keys[role]: np.stack(buf)})
            buf.clear()
    writer.meta["decode_counts"] = counts.as_dict()
    writer.meta["decode_summary"] = counts.summary()
    if kept < total:
        raise RuntimeError(f"Only {kept} usable images were found ({counts.summary()}); "
                           f"{total} are needed. Ask for fewer images (n_train=, n_test=) "
                           "or more shards (shards=None takes as many as needed).")
    return counts


def preset_counts(preset: str, n_train: int | None = None, n_test: int | None = None,
                  quick: bool | None = None) -> dict:
    """``{"size", "n_train", "n_test", "val_fraction"}`` of a preset (quick mode shrinks)."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, not {preset!r}")
    spec = PRESETS[preset]
    quick = env.is_quick() if quick is None else quick
    return {"size": spec["size"], "val_fraction": spec["val_fraction"],
            "n_train": int(n_train if n_train is not None else
                           spec["quick_train" if quick else "n_train"]),
            "n_test": int(n_test if n_test is not None else
                          spec["quick_test" if quick else "n_test"])}


def load(preset: str = "report64", *, n_train: int | None = None, n_test: int | None = None,
         shards: int | None = None, source_dir=None, offline: bool | None = None,
         seed: int = 0, keep_shards: bool = True, base_url: str | None = None
         ) -> cache.CachedArrays:
    """``train``, ``val``, ``test``: uint8 ``(N, size, size, 3)`` arrays of a preset.

    ``n_train`` counts train plus validation images (the report's convention); the
    preset's ``val_fraction`` of them go to ``val``. ``shards=k`` uses only the first k
    GLDv2 shards; ``source_dir`` reads a local folder tree instead of downloading;
    offline (``KIT_OFFLINE=1``) builds the stand-in. ``.meta["source"]`` says which,
    ``.meta["decode_counts"]`` how many files were kept, converted and skipped.
    """
    spec = preset_counts(preset, n_train, n_test)
    size, total = spec["size"], spec["n_train"] + spec["n_test"]
    offline = env.is_offline() if offline is None else offline
    params = {**spec, "seed": seed, "version": VERSION}
    if source_dir is not None:
        folder = Path(source_dir).expanduser().resolve()
        if not folder.is_dir():
            raise FileNotFoundError(f"source_dir {folder} is not a folder")
        listing = sorted(str(p.relative_to(folder)) + f":{p.stat().st_size}"
                         for p in folder.rglob("*") if p.is_file())
        params.update(source=f"folder:{folder}",
                      listing=hashlib.sha256("\n".join(listing).encode()).hexdigest())
        source = f"images decoded from the folder {folder}"

        def items():
            return images.iter_folder(folder)
        cleanup: Callable[[], None] = lambda: None
    elif offline:
        n_files = _standin_files_needed(total)
        params.update(source="offline-standin", n_files=n_files)
        folder = cache.cache_dir() / "landmarks_standin" / cache.cache_key(
            "files", {"n_files": n_files, "size": size, "seed": seed, "version": VERSION})
        source = ("offline stand-in: crops of scikit-image's bundled photographs written "
                  f"as {n_files} JPEG/PNG files in a GLDv2-like folder tree, decoded like "
                  "the real shards (not Google Landmarks)")

        def items():
            if not (folder / "COMPLETE").is_file():
                shutil.rmtree(folder, ignore_errors=True)
                write_standin_folder(folder, n_files, size, seed)
            return images.iter_folder(folder)

        def cleanup():
            shutil.rmtree(folder, ignore_errors=True)
    else:
        params.update(source="gldv2-cvdf-train", shards=shards)
        where = cache.cache_dir() / "downloads" / "gldv2"
        indices = range(shards) if shards is not None else range(N_SHARDS)
        source = (f"Google Landmarks v2 (CVDF release), train shards from {BASE_URL}/train/"
                  + (f", first {shards} shard(s)" if shards else ""))

        def items():
            return iter_shards(indices, where, base_url=base_url, keep=keep_shards)
        cleanup = lambda: None

    def fill(writer):
        writer.meta["source"] = source
        writer.meta["stand_in"] = bool(offline and source_dir is None)
        writer.meta["preset"] = preset
        build_from_stream(writer, items(), size=size, n_train=spec["n_train"],
                          n_test=spec["n_test"], val_fraction=spec["val_fraction"], seed=seed)

    name = f"landmarks{size}" + ("-standin" if offline and source_dir is None else "")
    out = cache.stream_arrays(name, params, fill, total=total, desc=f"{name} ({total} images)")
    if not out.hit:
        cleanup()  # the stand-in's JPEG files are only an intermediate
    return out


# ---------------------------------------------------------------------------- noise

def make_noise(noise_spec="report") -> Callable:
    """``f(x, rng) -> noisy x`` for a named setting in :data:`NOISES` or a dict.

    A dict names a function of :mod:`helpers.noise` and its arguments, e.g.
    ``{"kind": "gaussian", "sigma": 0.1}``. Notebooks use the same function for the stored
    test noise (fixed seed) and for fresh training noise (a new draw per batch).
    """
    if isinstance(noise_spec, str):
        if noise_spec not in NOISES:
            raise ValueError(f"unknown noise {noise_spec!r}; use one of {sorted(NOISES)} "
                             "or a dict like {'kind': 'gaussian', 'sigma': 0.1}")
        kind, kwargs = NOISES[noise_spec]
    else:
        kwargs = dict(noise_spec)
        kind = kwargs.pop("kind")
    func = getattr(noise, kind, None)
    if func is None or kind.startswith("_") or kind == "as_generator":
        raise ValueError(f"helpers.noise has no noise model {kind!r}")
    if kind == "gaussian_blur":  # deterministic: no rng
        return lambda x, rng=None: func(x, **kwargs)
    return lambda x, rng=None: func(x, rng=rng, **kwargs)


def noisy_test_cached(name: str, clean_test, noise="report", seed: int = 1234,
                      chunk: int = 1024) -> cache.CachedArrays:
    """Like :func:`noisy_test`, returning the cache entry (``["noisy"]``, ``.hit``, ...)."""
    clean_test = np.asarray(clean_test)
    if clean_test.dtype != np.uint8 or clean_test.ndim != 4:
        raise ValueError(f"clean_test must be uint8 NHWC images, got {clean_test.dtype} "
                         f"{clean_test.shape}")
    apply = make_noise(noise)
    spec = noise if isinstance(noise, str) else dict(noise)
    params = {"clean": clean_test, "noise": spec, "seed": seed, "chunk": chunk,
              "version": VERSION}

    def fill(writer):
        rng = np.random.default_rng(seed)
        for start in range(0, len(clean_test), chunk):
            writer.append(noisy=apply(np.asarray(clean_test[start:start + chunk]), rng))
        writer.meta["noise"] = spec
        writer.meta["seed"] = seed

    return cache.stream_arrays(f"{name}-noisy", params, fill, total=len(clean_test),
                               desc=f"noising {name}")


def noisy_test(name: str, clean_test, noise="report", seed: int = 1234) -> np.ndarray:
    """A cached uint8 noisy copy of ``clean_test``, drawn once with a fixed seed.

    Scores on it are comparable between runs, models and notebooks. ``noise`` is a name in
    :data:`NOISES` (default ``"report"``: blur sigma 1 then salt and pepper 1/35) or a dict
    (see :func:`make_noise`). Used by notebooks 01, 02 and 03.
    """
    return noisy_test_cached(name, clean_test, noise, seed)["noisy"]
