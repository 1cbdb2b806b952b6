"""helpers.datasets.hpatches: stand-in archive, streamed reader, splits, cached loader."""

import io
import json
import shutil
import tarfile

import numpy as np
import pytest

from helpers import download
from helpers.datasets import hpatches as H

TINY = {"n_sequences": 4, "patches_per_sequence": 6, "seed": 0}


@pytest.fixture(scope="module")
def tiny_tar(tmp_path_factory):
    return H.make_standin(tmp_path_factory.mktemp("hp") / "tiny.tar", **TINY)


def test_standin_has_release_layout(tiny_tar):
    with tarfile.open(tiny_tar) as tar:
        names = sorted(m.name for m in tar.getmembers())
        png = tar.extractfile(f"hpatches-standin/{H.standin_names(4)[0]}/e3.png").read()
    assert len(names) == 4 * 16
    assert {n.split("/")[1][:2] for n in names} == {"i_", "v_"}
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)))
    assert img.shape == (6 * 65, 65) and img.dtype == np.uint8


def test_reader_gives_aligned_patches(tiny_tar):
    seqs = dict(H.read_release(tiny_tar))
    assert sorted(seqs) == sorted(H.standin_names(4))
    p = seqs[H.standin_names(4)[0]].astype(np.float32)
    assert p.shape == (16, 6, 32, 32)

    def corr(a, b):
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-9))

    # the same keypoint in an easy view matches its reference better than other keypoints
    # do, and the easy view is closer than the tough view
    same = np.mean([corr(p[0, i], p[1, i]) for i in range(6)])
    other = np.mean([corr(p[0, i], p[1, (i + 1) % 6]) for i in range(6)])
    tough = np.mean([corr(p[0, i], p[15, i]) for i in range(6)])
    assert same > other + 0.2
    assert same > tough
    # sequences filter and max_patches
    one = list(H.read_release(tiny_tar, [H.standin_names(4)[1]], max_patches=3))
    assert len(one) == 1 and one[0][1].shape == (16, 3, 32, 32)


def test_downsample_is_a_block_mean():
    x = np.arange(2 * 65 * 65, dtype=np.float64).reshape(2, 65, 65) % 251
    x = x.astype(np.uint8)
    y = H.downsample(x, 32)
    assert y.shape == (2, 32, 32)
    assert y[1, 3, 4] == np.rint(x[1, 6:8, 8:10].astype(float).mean())


def test_damaged_archives_fail_clearly(tmp_path, tiny_tar):
    broken = tmp_path / "broken.tar"
    with tarfile.open(tiny_tar) as src, tarfile.open(broken, "w") as dst:
        for m in src.getmembers():
            if m.name.endswith("/t5.png"):
                continue  # every sequence loses an image
            dst.addfile(m, src.extractfile(m))
    with pytest.raises(H.HPatchesError, match="lacks t5"):
        list(H.read_release(broken))
    corrupt = tmp_path / "corrupt.tar"
    with tarfile.open(corrupt, "w") as dst:
        info = tarfile.TarInfo("root/i_x/ref.png")
        info.size = 10
        dst.addfile(info, io.BytesIO(b"not a png!"))
    with pytest.raises(H.HPatchesError, match="not a readable PNG"):
        list(H.read_release(corrupt))


def test_standin_splits_follow_the_official_recipe():
    names = H.standin_names(12)
    s = H.standin_splits(names)
    assert set(s) == set(H.SPLIT_NAMES)
    for k in "abc":
        assert sorted(s[k]["train"] + s[k]["test"]) == sorted(names)
        assert not set(s[k]["train"]) & set(s[k]["test"])
        assert {n[:2] for n in s[k]["test"]} == {"i_", "v_"}
    assert s["a"]["test"] != s["b"]["test"] or s["b"]["test"] != s["c"]["test"]
    assert all(n.startswith("i_") for n in s["illum"]["test"])
    assert all(n.startswith("v_") for n in s["view"]["test"])
    assert len(s["illum"]["test"]) + len(s["view"]["test"]) == len(s["full"]["test"]) == 12


def test_official_splits_are_verified(tmp_path, monkeypatch):
    good = {"a": {"name": "a", "train": ["v_x"], "test": ["i_y"]},
            "full": {"name": "full", "test": ["i_y", "v_x"]}}

    def fake_download(url, dest, **kw):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(served))
        return dest

    monkeypatch.setattr(download, "download", fake_download)
    served = good
    monkeypatch.setattr(H, "SPLITS_SHA256", H._splits_digest(H.parse_splits(good)))
    assert H.official_splits(tmp_path)["a"] == {"train": ["v_x"], "test": ["i_y"]}
    served = {**good, "a": {"train": ["i_y"], "test": ["v_x"]}}  # a tampered split
    with pytest.raises(H.HPatchesError, match="KIT_OFFLINE=1"):
        H.official_splits(tmp_path)
    assert (tmp_path / "hpatches-splits.json.unverified").exists()


def test_load_offline_is_cached_and_labelled():
    ds = H.load("a", "test", offline=True, standin=TINY)
    n = ds["counts"]
    assert ds["clean"].shape == ds["noisy"].shape == (16 * n.sum(), 32, 32)
    assert ds["clean"].dtype == np.uint8
    np.testing.assert_array_equal(ds["offsets"], np.r_[0, np.cumsum(16 * n)[:-1]])
    assert "stand-in" in ds.meta["source"]
    assert sorted(ds.meta["sequences"]) == sorted(H.standin_splits(H.standin_names(4))["a"]["test"])
    # noise grows from the easy to the tough images
    err = np.abs(ds["noisy"].astype(float) - ds["clean"]).reshape(-1, 16, n[0], 32, 32)
    e, t = err[:, 1:6].mean(), err[:, 11:16].mean()
    assert 0.02 * 255 < e < t
    again = H.load("a", "test", offline=True, standin=TINY)
    assert again.hit
    np.testing.assert_array_equal(again["noisy"], ds["noisy"])
    with pytest.raises(ValueError, match="test-only"):
        H.load("view", "train", offline=True, standin=TINY)


def test_load_online_path_with_a_fake_network(tmp_path, monkeypatch, tiny_tar):
    """The real-data path: release + splits 'downloaded', checksum passed, same reader."""
    names = H.standin_names(4)
    splits = {"a": {"train": names[:2], "test": names[2:]}, "b": {"train": [], "test": names},
              "c": {"train": [], "test": names}, "illum": {"test": names[::2]},
              "view": {"test": names[1::2]}, "full": {"test": names}}
    calls = []

    def fake_download(url, dest, md5=None, **kw):
        calls.append((url, md5))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if url == H.RELEASE_URL:
            shutil.copy(tiny_tar, dest)
        else:
            dest.write_text(json.dumps(splits))
        return dest

    monkeypatch.setattr(download, "download", fake_download)
    monkeypatch.setattr(H, "SPLITS_SHA256", H._splits_digest(H.parse_splits(splits)))
    ds = H.load("a", "train", offline=False)
    assert (H.RELEASE_URL, H.RELEASE_MD5) in calls
    assert sorted(ds.meta["sequences"]) == sorted(names[:2])
    assert "HPatches release" in ds.meta["source"]
    calls.clear()
    assert H.load("a", "train", offline=False).hit
    assert H.RELEASE_URL not in [url for url, _ in calls]  # cached: no download, no re-hash


def test_failed_download_names_offline_flag(monkeypatch):
    def failing(url, dest, **kw):
        raise download.DownloadError(download.offline_hint(f"Download of {url} failed"))

    monkeypatch.setattr(download, "download", failing)
    with pytest.raises(download.DownloadError, match="KIT_OFFLINE=1"):
        H.load("a", "test", offline=False)
