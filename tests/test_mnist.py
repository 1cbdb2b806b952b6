"""helpers.datasets.mnist: the IDX reader on files written here, the sources, the stand-in."""

import gzip
import struct

import numpy as np
import pytest

from helpers.datasets import mnist


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file written by hand from LeCun's format description (not by write_idx)."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _fake_dataset(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_hand_written_images_and_labels(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    for name, arr in (("img", images), ("lab", labels)):
        blob = _idx_bytes(arr, 0x08)
        path = tmp_path / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(blob) if gz else blob)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / ("img" + (".gz" if gz else ""))),
                                  images)
    got = mnist.read_idx(tmp_path / ("lab" + (".gz" if gz else "")))
    assert got.dtype == np.uint8 and got.shape == (7,)
    np.testing.assert_array_equal(got, labels)


def test_read_idx_big_endian_types_and_write_roundtrip(tmp_path):
    ints = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 100000
    (tmp_path / "i32").write_bytes(_idx_bytes(ints, 0x0C))
    got = mnist.read_idx(tmp_path / "i32")
    np.testing.assert_array_equal(got, ints)
    assert got.dtype.byteorder in ("=", "<", "|") and got.dtype.kind == "i"
    floats = np.linspace(-1, 1, 10, dtype=np.float32).reshape(2, 5)
    for name in ("f.idx", "f.idx.gz"):
        mnist.write_idx(tmp_path / name, floats)
        np.testing.assert_array_equal(mnist.read_idx(tmp_path / name), floats)
    assert (tmp_path / "f.idx.gz").read_bytes()[:2] == b"\x1f\x8b"
    # write_idx produces exactly the hand-written layout
    mnist.write_idx(tmp_path / "w", ints)
    assert (tmp_path / "w").read_bytes() == _idx_bytes(ints, 0x0C)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    images = np.zeros((4, 28, 28), np.uint8)
    blob = _idx_bytes(images, 0x08)
    (tmp_path / "short").write_bytes(blob[:-10])
    with pytest.raises(mnist.IdxError, match="truncated"):
        mnist.read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(blob + b"\0")
    with pytest.raises(mnist.IdxError, match="truncated or corrupt"):
        mnist.read_idx(tmp_path / "long")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(mnist.IdxError, match="not an IDX"):
        mnist.read_idx(tmp_path / "png")
    (tmp_path / "badtype").write_bytes(b"\0\0\x42\x01" + struct.pack(">I", 1) + b"\0")
    with pytest.raises(mnist.IdxError, match="type code"):
        mnist.read_idx(tmp_path / "badtype")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(blob)[:40])
    with pytest.raises(mnist.IdxError, match="gzip"):
        mnist.read_idx(tmp_path / "bad.gz")
    with pytest.raises(FileNotFoundError):
        mnist.read_idx(tmp_path / "missing")


def _write_folder(folder, data, gz=True):
    folder.mkdir()
    for key, stem in mnist.IDX_FILES.items():
        mnist.write_idx(folder / (stem + (".gz" if gz else "")), data[key])


def test_load_from_idx_folder_caches_and_slices(tmp_path):
    data = _fake_dataset()
    _write_folder(tmp_path / "idx", data, gz=True)
    first = mnist.load("mnist", idx_dir=tmp_path / "idx", offline=False)
    assert not first.hit and first.meta["stand_in"] is False
    for key in data:
        np.testing.assert_array_equal(first[key], data[key])
        assert first[key].dtype == np.uint8
    again = mnist.load("mnist", idx_dir=tmp_path / "idx", n_train=5, n_test=2)
    assert again.hit
    np.testing.assert_array_equal(again["x_train"], data["x_train"][:5])
    np.testing.assert_array_equal(again["y_test"], data["y_test"][:2])
    assert "IDX" in again.meta["source"]


def test_load_idx_folder_reports_missing_and_mismatched_files(tmp_path):
    data = _fake_dataset()
    _write_folder(tmp_path / "idx", data, gz=False)
    (tmp_path / "idx" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist.load_idx_folder(tmp_path / "idx")
    mnist.write_idx(tmp_path / "idx" / "t10k-labels-idx1-ubyte", data["y_test"][:3])
    with pytest.raises(mnist.IdxError, match="do not match"):
        mnist.load_idx_folder(tmp_path / "idx")


def test_keras_source_through_a_fake_download(monkeypatch):
    import keras

    data = _fake_dataset(seed=3)
    calls = []

    def fake_load_data():
        calls.append(1)
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", fake_load_data)
    got = mnist.load("fashion_mnist", offline=False)
    np.testing.assert_array_equal(got["x_test"], data["x_test"])
    assert got.meta["class_names"][9] == "Ankle boot" and not got.meta["stand_in"]
    mnist.load("fashion_mnist", offline=False)
    assert len(calls) == 1  # the second call is served by the cache


def test_failed_download_names_offline_flag(monkeypatch):
    import keras

    from helpers.download import DownloadError

    def broken():
        raise OSError("no route to host")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", broken)
    with pytest.raises(DownloadError, match="KIT_OFFLINE=1"):
        mnist.load("mnist", offline=False)


def test_offline_standin_is_real_digits_in_mnist_layout():
    data = mnist.load("mnist", offline=True)
    assert data.meta["stand_in"] and "stand-in" in data.meta["source"]
    n = len(data["x_train"]) + len(data["x_test"])
    assert n == 1797 and abs(len(data["x_test"]) - 0.2 * n) < 1
    for split in ("train", "test"):
        x, y = data[f"x_{split}"], data[f"y_{split}"]
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28)
        assert set(np.unique(y)) == set(range(10))
        # 4-pixel black border as in MNIST, ink inside, full range used
        assert x[:, :4].max() == 0 and x[:, -4:].max() == 0 and x[:, :, :4].max() == 0
        assert x.max() == 255 and 0.05 < x.mean() / 255 < 0.35
    # the split is disjoint: no test image is also a training image
    train = {row.tobytes() for row in data["x_train"]}
    assert not any(row.tobytes() in train for row in data["x_test"])
    fashion = mnist.load("fashion_mnist", offline=True)
    assert "not Fashion-MNIST" in fashion.meta["source"]
    np.testing.assert_array_equal(fashion["x_train"], data["x_train"])


def test_flatten_and_bad_dataset_name():
    x = np.array([[[0, 255], [51, 102]]], np.uint8)
    flat = mnist.flatten(x)
    assert flat.dtype == np.float32 and flat.shape == (1, 4)
    np.testing.assert_allclose(flat, [[0, 1, 0.2, 0.4]], atol=1e-6)
    with pytest.raises(ValueError, match="fashion_mnist"):
        mnist.load("cifar10")
