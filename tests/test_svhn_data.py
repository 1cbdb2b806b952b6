"""SVHN loaders (helpers.datasets.svhn) on files written here in the real formats."""

import io

import h5py
import numpy as np
import pytest
import scipy.io

from helpers.datasets import svhn


def _write_format2(path, images_nhwc, labels_1_to_10):
    """A format-2 .mat as published: X is (W, H, C, N) in MATLAB terms, y is (N, 1)."""
    x = np.transpose(images_nhwc, (1, 2, 3, 0))  # (N, H, W, C) -> (H, W, C, N)
    scipy.io.savemat(str(path), {"X": x, "y": np.asarray(labels_1_to_10).reshape(-1, 1)})


def test_read_mat_layout_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    images[0, 0, 5, 2] = 255  # asymmetric marker: row 0, column 5, blue
    images[0, 0, 5, :2] = 0
    labels = np.array([10, 1, 2, 3, 9, 10, 5])
    _write_format2(tmp_path / "t.mat", images, labels)
    x, y = svhn.read_mat(tmp_path / "t.mat")
    assert x.shape == (7, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, images)
    assert tuple(x[0, 0, 5]) == (0, 0, 255)
    np.testing.assert_array_equal(y, [0, 1, 2, 3, 9, 0, 5])


def test_read_mat_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.mat"
    scipy.io.savemat(str(bad), {"X": np.zeros((32, 32, 3, 2), np.uint8),
                                "y": np.array([[0], [3]])})
    with pytest.raises(svhn.SVHNFormatError, match="1..10"):
        svhn.read_mat(bad)
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(svhn.SVHNFormatError, match="delete it"):
        svhn.read_mat(junk)


def test_gray_and_split():
    x = np.zeros((1, 2, 2, 3), np.uint8)
    x[0, 0, 0] = (255, 0, 0)
    x[0, 0, 1] = (0, 255, 0)
    x[0, 1, 0] = (0, 0, 255)
    x[0, 1, 1] = (100, 150, 200)
    g = svhn.to_gray(x)
    assert g.shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(g[0, :, :, 0], [[76, 150], [29, 141]])
    labels = np.repeat(np.arange(10), [100, 300, 200, 100, 100, 100, 100, 100, 100, 100])
    tr, va = svhn.stratified_split(labels, 0.13, seed=0)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(labels)
    np.testing.assert_array_equal(np.bincount(labels[va]), np.round(0.13 * np.bincount(labels)))


def test_load_reads_downloaded_mats(tmp_path, monkeypatch):
    """The online path, with the download replaced at the network boundary."""
    rng = np.random.default_rng(1)
    files = {}
    for split, n in (("train", 200), ("test", 50)):
        imgs = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labs = rng.integers(1, 11, n)
        _write_format2(tmp_path / f"{split}.mat", imgs, labs)
        files[split] = (imgs, labs % 10)
    monkeypatch.setattr(svhn, "_download_mat", lambda split: tmp_path / f"{split}.mat")
    d = svhn.load(offline=False, colour=True)
    assert d.meta["source"].startswith("SVHN format 2")
    assert len(d["y_train"]) + len(d["y_val"]) == 200 and len(d["y_test"]) == 50
    assert abs(len(d["y_val"]) - 26) <= 10
    np.testing.assert_array_equal(d["x_test"], files["test"][0])
    np.testing.assert_array_equal(d["y_test"], files["test"][1])
    # every training image is one of the file's images with its own label
    imgs, labs = files["train"]
    lookup = {im.tobytes(): lab for im, lab in zip(imgs, labs)}
    assert all(lookup[im.tobytes()] == lab for im, lab in zip(d["x_train"], d["y_train"]))
    gray = svhn.load(offline=False)
    assert gray["x_test"].shape == (50, 32, 32, 1)
    np.testing.assert_array_equal(gray["x_test"], svhn.to_gray(files["test"][0]))
    assert gray.meta["mean"] == pytest.approx(gray["x_train"].mean())


def _write_digit_struct(target, records):
    """A digitStruct.mat in the real v7.3 layout: /digitStruct/{name,bbox} are (N, 1) object
    references; names are uint16 character arrays; a one-digit box stores its numbers
    inline as (1, 1) doubles, a k-digit box stores (k, 1) references to (1, 1) doubles."""
    with h5py.File(target, "w") as f:
        refs = f.create_group("#refs#")
        g = f.create_group("digitStruct")
        name_refs, bbox_refs = [], []
        counter = [0]

        def new_name():
            counter[0] += 1
            return f"r{counter[0]}"

        for name, boxes in records:
            ds = refs.create_dataset(new_name(), data=np.array([[ord(c)] for c in name],
                                                              dtype=np.uint16))
            name_refs.append(ds.ref)
            grp = refs.create_group(new_name())
            for j, key in enumerate(("left", "top", "width", "height", "label")):
                vals = [b[j] for b in boxes]
                if len(vals) == 1:
                    grp.create_dataset(key, data=np.array([[vals[0]]], dtype=np.float64))
                else:
                    item_refs = [refs.create_dataset(new_name(), data=np.array(
                        [[v]], dtype=np.float64)).ref for v in vals]
                    grp.create_dataset(key, data=np.array(item_refs, dtype=h5py.ref_dtype)
                                       .reshape(-1, 1))
            bbox_refs.append(grp.ref)
        g.create_dataset("name", data=np.array(name_refs, dtype=h5py.ref_dtype).reshape(-1, 1))
        g.create_dataset("bbox", data=np.array(bbox_refs, dtype=h5py.ref_dtype).reshape(-1, 1))


RECORDS = [("1.png", [(246, 77, 81, 219, 1), (323, 81, 96, 219, 9)]),
           ("2.png", [(77, 29, 23, 32, 10)]),
           ("3.png", [(17, 5, 8, 15, 2), (25, 5, 9, 15, 5), (34, 6, 9, 15, 10)])]


def test_read_digit_struct_v73(tmp_path):
    path = tmp_path / "digitStruct.mat"
    _write_digit_struct(path, RECORDS)
    recs = svhn.read_digit_struct(path)
    assert [r["name"] for r in recs] == ["1.png", "2.png", "3.png"]
    np.testing.assert_array_equal(recs[0]["boxes"], [[246, 77, 81, 219, 1], [323, 81, 96, 219, 9]])
    np.testing.assert_array_equal(recs[1]["boxes"], [[77, 29, 23, 32, 0]])  # label 10 -> 0
    assert recs[2]["boxes"].shape == (3, 5) and recs[2]["boxes"][2, 4] == 0
    # from an in-memory file object (as read from the tar stream), with a limit
    recs2 = svhn.read_digit_struct(io.BytesIO(path.read_bytes()), limit=2)
    assert len(recs2) == 2 and recs2[1]["name"] == "2.png"
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 file, not HDF5")
    with pytest.raises(svhn.SVHNFormatError, match="HDF5"):
        svhn.read_digit_struct(tmp_path / "bad.mat")


def test_load_parents_from_tar(tmp_path, monkeypatch):
    """Format 1 end to end: a test.tar.gz with PNGs and a v7.3 digitStruct.mat."""
    import tarfile

    from PIL import Image

    rng = np.random.default_rng(2)
    images = {f"{i}.png": rng.integers(0, 256, (40 + 5 * i, 60 + i, 3), dtype=np.uint8)
              for i in (1, 2, 3)}
    _write_digit_struct(tmp_path / "digitStruct.mat",
                        [("1.png", [(5, 6, 10, 20, 3)]), ("2.png", [(1, 2, 8, 9, 10),
                                                                   (9, 2, 8, 9, 4)]),
                         ("3.png", [(0, 0, 5, 5, 7)])])
    tar_path = tmp_path / "test.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for name, img in images.items():
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            info = tarfile.TarInfo(f"test/{name}")
            info.size = buf.tell()
            buf.seek(0)
            tar.addfile(info, buf)
        tar.add(tmp_path / "digitStruct.mat", arcname="test/digitStruct.mat")
    import helpers.download

    monkeypatch.setattr(helpers.download, "download", lambda url, dest, **kw: tar_path)
    d = svhn.load_parents(split="test", n_images=2, offline=False)
    assert len(d["shapes"]) == 2
    np.testing.assert_array_equal(svhn.parent(d, 0), images["1.png"])
    np.testing.assert_array_equal(svhn.parent(d, 1), images["2.png"])
    np.testing.assert_array_equal(svhn.boxes_of(d, 1), [[1, 2, 8, 9, 0], [9, 2, 8, 9, 4]])


def test_square_crops():
    img = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    boxes = np.array([[10, 5, 4, 10, 1], [0, 0, 6, 2, 2]], dtype=float)
    sq = svhn.square_boxes(boxes)
    np.testing.assert_array_equal(sq, [[7, 5, 10], [0, -2, 6]])
    crops, squares = svhn.square_crops(img, boxes, size=32)
    assert crops.shape == (2, 32, 32, 3) and crops.dtype == np.uint8
    np.testing.assert_array_equal(svhn.crop_square(img, 7, 5, 10), img[5:15, 7:17])
    # outside the image the edge row is repeated
    np.testing.assert_array_equal(svhn.crop_square(img, 0, -2, 6)[0], img[0, 0:6])


def test_standin_digits_and_parents():
    x, y = svhn.synthetic_digits(300, seed=3)
    assert x.shape == (300, 32, 32, 3) and x.dtype == np.uint8
    counts = np.bincount(y, minlength=10)
    assert counts[1] > counts[9] and counts[1] > counts[0]  # SVHN's skew towards 1
    # a digit is drawn: the centre differs from the border more than noise would
    centre = x[:, 10:22, 12:20].astype(float).std(axis=(1, 2, 3))
    assert np.median(centre) > 15
    x2, y2 = svhn.synthetic_digits(300, seed=3)
    np.testing.assert_array_equal(x2, x)  # deterministic for a seed
    np.testing.assert_array_equal(y2, y)
    imgs, bgs, boxes = svhn.synthetic_parents(6, seed=1)
    for im, bg, bx in zip(imgs, bgs, boxes):
        assert im.shape == bg.shape == (64, 128, 3)
        assert bx.shape[1] == 5 and 1 <= len(bx) <= 4
        for left, top, w, h, _ in bx:
            inside = np.abs(im[int(top): int(top + h), int(left): int(left + w)].astype(int)
                            - bg[int(top): int(top + h), int(left): int(left + w)])
            assert inside.mean() > 10  # the digit's ink is inside its box
        outside = np.ones(im.shape[:2], bool)
        for left, top, w, h, _ in bx:
            outside[max(int(top) - 2, 0): int(top + h) + 2, max(int(left) - 2, 0):
                    int(left + w) + 2] = False
        assert np.abs(im[outside].astype(int) - bg[outside]).mean() < 6  # noise only


def test_offline_load_is_labelled_standin():
    d = svhn.load(n_train=120, n_test=40, offline=True)
    assert "stand-in" in d.meta["source"]
    assert d["x_train"].shape == (120, 32, 32, 1) and len(d["y_test"]) == 40
    p = svhn.load_parents(n_images=3, offline=True)
    assert "stand-in" in p.meta["source"] and "backgrounds" in p
    assert svhn.parent(p, 2, "backgrounds").shape == svhn.parent(p, 2).shape
