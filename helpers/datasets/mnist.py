"""MNIST and Fashion-MNIST (notebook 04), through one parameter, plus an IDX file reader.

    from helpers.datasets import mnist
    data = mnist.load("mnist")                   # or "fashion_mnist"
    x_train = mnist.flatten(data["x_train"])     # (N, 784) float32 in [0, 1]

Sources, in this order:

* ``idx_dir=...``: the four official IDX files (``train-images-idx3-ubyte[.gz]``, ...)
  from a local folder, read by :func:`read_idx`;
* online: ``keras.datasets`` downloads the dataset (checksummed by Keras);
* offline (``KIT_OFFLINE=1``): scikit-learn's bundled 8x8 handwritten digits (1,797 real
  digits, UCI "Optical Recognition of Handwritten Digits"), upsampled to a 20x20 box and
  padded to 28x28 as MNIST is. It is a stand-in and ``meta["source"]`` says so.

Everything goes through the kit's cache as uint8 images ``(N, 28, 28)`` and uint8 labels.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from helpers import cache, env

VERSION = 1
DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
STANDIN_TEST_FRACTION = 0.2

# IDX type codes (LeCun's format description): code -> big-endian numpy dtype.
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IdxError(ValueError):
    """An IDX file that is truncated, has a bad header, or is not IDX at all."""


# ---------------------------------------------------------------------------- IDX files

def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise IdxError(f"{path}: corrupt or truncated gzip data ({exc}); "
                           "delete the file and download it again.") from exc
    return raw


def read_idx(path) -> np.ndarray:
    """An IDX file (raw or gzip-compressed) as a numpy array in native byte order.

    Checks the magic number, the type code, and that the data size matches the header;
    raises :class:`IdxError` saying what is wrong otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise IdxError(f"{path}: not an IDX file (the first two bytes must be zero).")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise IdxError(f"{path}: unknown IDX type code 0x{code:02x}.")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise IdxError(f"{path}: truncated IDX header.")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(data) - 4 - 4 * ndim
    if body != expected:
        raise IdxError(f"{path}: header says shape {shape} ({expected} bytes of data) but the "
                       f"file holds {body}; it is truncated or corrupt. Download it again.")
    arr = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, array, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("=").str: k for k, v in _IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=").str
    if key not in codes or array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"cannot write {array.dtype} array of shape {array.shape} as IDX")
    header = bytes([0, 0, codes[key], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    blob = header + array.astype(_IDX_DTYPES[codes[key]]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        blob = gzip.compress(blob)
    path.write_bytes(blob)
    return path


def find_idx(folder, stem: str) -> Path:
    """The IDX file `stem` (or `stem.gz`) in `folder`; FileNotFoundError saying what is needed."""
    folder = Path(folder)
    for name in (stem, f"{stem}.gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder} has no {stem} (or {stem}.gz); the folder must hold "
                            f"the four IDX files: {', '.join(IDX_FILES.values())}.")


def load_idx_folder(folder) -> dict[str, np.ndarray]:
    """The four IDX files of MNIST or Fashion-MNIST in ``folder`` as uint8 arrays."""
    folder = Path(folder)
    out = {key: read_idx(find_idx(folder, stem)) for key, stem in IDX_FILES.items()}
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise IdxError(f"{folder}: {split} images {x.shape} and labels {y.shape} "
                           "do not match")
        out[f"x_{split}"], out[f"y_{split}"] = x.astype(np.uint8), y.astype(np.uint8)
    return out


# ---------------------------------------------------------------------------- sources

def _from_keras(dataset: str) -> dict[str, np.ndarray]:
    import keras

    from helpers.download import DownloadError, offline_hint

    module = getattr(keras.datasets, dataset)
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as exc:
        raise DownloadError(offline_hint(f"Could not download {dataset} through "
                                         f"keras.datasets ({exc})")) from exc
    return {"x_train": x_train.astype(np.uint8), "y_train": y_train.astype(np.uint8),
            "x_test": x_test.astype(np.uint8), "y_test": y_test.astype(np.uint8)}


def standin_digits(seed: int = 0) -> dict[str, np.ndarray]:
    """scikit-learn's 1,797 real 8x8 digits as 28x28 uint8 MNIST-like images, split 80/20.

    Each 8x8 image (values 0..16) is resized bilinearly to 20x20 and padded with 4 black
    pixels on each side, the way MNIST centres its digits in a 20x20 box.
    """
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = digits.images.astype(np.float32) / 16.0
    big = np.stack([resize(im, (20, 20), order=1, anti_aliasing=False) for im in small])
    images = np.zeros((len(big), 28, 28), np.uint8)
    images[:, 4:24, 4:24] = np.rint(np.clip(big, 0, 1) * 255).astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(len(images) * STANDIN_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return {"x_train": images[train], "y_train": labels[train],
            "x_test": images[test], "y_test": labels[test]}


def load(dataset: str = "mnist", *, n_train: int | None = None, n_test: int | None = None,
         idx_dir=None, offline: bool | None = None) -> cache.CachedArrays:
    """``x_train, y_train, x_test, y_test`` (uint8 28x28 images, uint8 labels) of a dataset.

    ``dataset`` is ``"mnist"`` or ``"fashion_mnist"``. ``n_train`` / ``n_test`` keep the
    first images (the sets come shuffled). ``idx_dir`` reads the official IDX files from a
    folder instead of downloading. Offline there is one stand-in for both datasets:
    scikit-learn's digits (``meta["stand_in"]`` is True and ``meta["source"]`` says so).
    Used by notebook 04.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    offline = env.is_offline() if offline is None else offline
    if idx_dir is not None:
        folder = Path(idx_dir).expanduser().resolve()
        sizes = {k: find_idx(folder, s).stat().st_size for k, s in IDX_FILES.items()}
        params = {"dataset": dataset, "source": f"idx:{folder}", "sizes": sizes,
                  "version": VERSION}
        source = f"{dataset} read from the IDX files in {folder}"

        def build():
            return load_idx_folder(folder)
        stand_in = False
    elif offline:
        params = {"dataset": "sklearn_digits_28", "source": "sklearn", "seed": 0,
                  "version": VERSION}
        source = ("offline stand-in: scikit-learn's 8x8 handwritten digits (1,797 real "
                  "digits), upsampled to 28x28; not " + dataset.replace("_", "-").upper()
                  .replace("FASHION-MNIST", "Fashion-MNIST"))

        def build():
            return standin_digits(seed=0)
        stand_in = True
    else:
        params = {"dataset": dataset, "source": "keras.datasets", "version": VERSION}
        source = f"{dataset} from keras.datasets"

        def build():
            return _from_keras(dataset)
        stand_in = False
    arrays = cache.cached_arrays(f"{dataset}-images" if not stand_in else "digits28-standin",
                                 params, build)
    out = cache.CachedArrays()
    for split, n in (("train", n_train), ("test", n_test)):
        for key in (f"x_{split}", f"y_{split}"):
            out[key] = arrays[key][:n] if n is not None else arrays[key]
    names = CLASS_NAMES["mnist" if stand_in else dataset]
    out.meta = {**arrays.meta, "dataset": dataset, "source": source, "stand_in": stand_in,
                "class_names": names}
    out.hit, out.path, out.seconds = arrays.hit, arrays.path, arrays.seconds
    return out


def flatten(images) -> np.ndarray:
    """uint8 images ``(N, 28, 28)`` as float32 vectors ``(N, 784)`` in [0, 1]."""
    images = np.asarray(images)
    flat = images.reshape(len(images), -1).astype(np.float32)
    return flat / 255.0 if images.dtype == np.uint8 else flat
