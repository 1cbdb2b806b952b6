"""helpers.datasets.landmarks: splits, streamed building, offline stand-in, shard downloads.

The download code runs against a local HTTP server on 127.0.0.1 (with Range support)
that stands in for the dataset's S3 bucket; nothing here touches the network.
"""

import hashlib
import io
import tarfile

import numpy as np
import pytest
from fake_http import LocalHTTPServer
from PIL import Image

from helpers import noise
from helpers.datasets import landmarks
from helpers.download import DownloadError


def jpeg(seed, h=80, w=100) -> bytes:
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 220, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.clip(base + 30 * np.sin(xx / 7 + seed)[..., None] + 20 * np.cos(yy / 9)[..., None],
                  0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def write_folder(root, n_good, with_bad=True):
    for k in range(n_good):
        path = root / f"{k % 3}" / f"{k:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg(k))
    if with_bad:
        # names that sort first in their folders, so a build always meets them
        (root / "0" / "0000_truncated.jpg").write_bytes(jpeg(999)[:300])
        (root / "1" / "0000_garbage.jpg").write_bytes(b"<html>error</html>")
        (root / "2" / "0000_small.jpg").write_bytes(jpeg(5, 30, 40))


# ---------------------------------------------------------------------------- building

def test_folder_build_counts_splits_and_reproducibility(tmp_path):
    write_folder(tmp_path / "src", 30)
    data = landmarks.load("report64", n_train=20, n_test=5, source_dir=tmp_path / "src",
                          offline=False)
    assert data["train"].shape == (18, 64, 64, 3)  # 10 % of 20 go to validation
    assert data["val"].shape == (2, 64, 64, 3)
    assert data["test"].shape == (5, 64, 64, 3)
    assert all(a.dtype == np.uint8 for a in data.values())
    counts = data.meta["decode_counts"]
    assert counts["ok"] == 25
    assert counts["truncated"] == counts["unreadable"] == counts["too_small"] == 1
    assert data.meta["source"].startswith("images decoded from the folder")
    # every stored image is one of the decoded source images, none twice
    stored = np.concatenate([data["train"], data["val"], data["test"]])
    assert len({a.tobytes() for a in stored}) == 25
    again = landmarks.load("report64", n_train=20, n_test=5, source_dir=tmp_path / "src",
                           offline=False)
    assert again.hit
    other_seed = landmarks.load("report64", n_train=20, n_test=5, seed=1,
                                source_dir=tmp_path / "src", offline=False)
    assert not other_seed.hit
    assert not np.array_equal(other_seed["test"], data["test"])
    # the same images overall, split differently
    assert {a.tobytes() for a in np.concatenate(list(other_seed.values()))} == \
        {a.tobytes() for a in stored}


def test_bad_files_are_skipped_with_exact_counts(tmp_path):
    write_folder(tmp_path / "src", 12)
    data = landmarks.load("report64", n_train=10, n_test=2, source_dir=tmp_path / "src",
                          offline=False)  # needs all 12 good files: every bad one is seen
    assert data.meta["decode_counts"] == {"ok": 12, "grayscale": 0, "cmyk": 0, "palette": 0,
                                          "alpha": 0, "other_mode": 0, "unreadable": 1,
                                          "truncated": 1, "too_small": 1}


def test_too_few_images_is_a_clear_error_and_caches_nothing(tmp_path, kit_cache):
    write_folder(tmp_path / "src", 6)
    with pytest.raises(RuntimeError, match="Only 6 usable images"):
        landmarks.load("report64", n_train=8, n_test=2, source_dir=tmp_path / "src",
                       offline=False)
    assert not any((kit_cache / "arrays").glob("landmarks64-*"))


def test_split_roles_are_exact_and_seeded():
    roles = landmarks.split_roles(100, 7, 9, seed=3)
    assert (roles == 2).sum() == 7 and (roles == 1).sum() == 9 and (roles == 0).sum() == 84
    assert np.array_equal(roles, landmarks.split_roles(100, 7, 9, seed=3))
    assert not np.array_equal(roles, landmarks.split_roles(100, 7, 9, seed=4))


def test_streamed_build_holds_one_chunk_per_split():
    class Recorder:
        def __init__(self):
            self.meta, self.sizes = {}, []

        def append(self, **chunks):
            self.sizes += [len(v) for v in chunks.values()]

    items = ((f"{k}.jpg", jpeg(k)) for k in range(40))
    rec = Recorder()
    landmarks.build_from_stream(rec, items, size=64, n_train=30, n_test=6, val_fraction=0.2,
                                seed=0, chunk=4)
    assert max(rec.sizes) <= 4 and sum(rec.sizes) == 36


def test_presets_and_quick_mode(monkeypatch):
    assert landmarks.preset_counts("report64", quick=False) == {
        "size": 64, "val_fraction": 0.1, "n_train": 11000, "n_test": 375}
    assert landmarks.preset_counts("report128", quick=False) == {
        "size": 128, "val_fraction": 0.2, "n_train": 4000, "n_test": 375}
    quick = landmarks.preset_counts("report64", quick=True)
    assert quick["n_train"] < 11000 and quick["size"] == 64
    with pytest.raises(ValueError, match="preset"):
        landmarks.preset_counts("report32")


def test_offline_standin_uses_the_folder_path(kit_cache):
    data = landmarks.load("report64", n_train=60, n_test=10, offline=True)
    assert data.meta["source"].startswith("offline stand-in")
    assert data.meta["stand_in"] is True
    assert data["train"].shape == (54, 64, 64, 3) and data["test"].shape == (10, 64, 64, 3)
    counts = data.meta["decode_counts"]
    assert sum(counts[k] for k in ("unreadable", "truncated")) >= 1  # damaged files were seen
    assert counts["ok"] > 40
    # real photo content: not flat, not noise
    assert 20 < data["train"].std() < 100
    # the intermediate JPEG folder is removed once the arrays are cached
    assert not any((kit_cache / "landmarks_standin").glob("*/COMPLETE"))
    again = landmarks.load("report64", n_train=60, n_test=10, offline=True)
    assert again.hit and np.array_equal(again["test"], data["test"])


# ---------------------------------------------------------------------------- noisy test sets

def test_noisy_test_is_fixed_seed_and_cached():
    clean = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    first = landmarks.noisy_test_cached("t", clean)
    assert not first.hit
    expected = noise.blur_salt_pepper(clean, 1.0, 35, rng=np.random.default_rng(1234))
    assert np.array_equal(first["noisy"], expected)
    second = landmarks.noisy_test_cached("t", clean)
    assert second.hit and np.array_equal(second["noisy"], first["noisy"])
    other = landmarks.noisy_test("t", clean, seed=1)
    assert not np.array_equal(other, first["noisy"])
    gauss = landmarks.noisy_test("t", clean, noise={"kind": "gaussian", "sigma": 0.1})
    assert np.array_equal(gauss, noise.gaussian(clean, 0.1, rng=np.random.default_rng(1234)))
    with pytest.raises(ValueError, match="unknown noise"):
        landmarks.noisy_test("t", clean, noise="speckle")
    with pytest.raises(ValueError, match="uint8"):
        landmarks.noisy_test("t", clean.astype(np.float32))


# ---------------------------------------------------------------------------- downloads

class FakeBucket(LocalHTTPServer):
    """The local server standing in for the dataset's bucket."""

    def add_shard(self, index, blob, md5=None):
        name = f"images_{index:03d}.tar"
        self.files[f"/train/{name}"] = blob
        digest = md5 or hashlib.md5(blob).hexdigest()
        self.files[f"/md5sum/train/md5.{name[:-4]}.txt"] = f"{digest}  {name}\n".encode()


@pytest.fixture
def bucket():
    fake = FakeBucket()
    yield fake
    fake.close()


def shard_tar(first, n, evil=True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        members = [(f"{k % 16:x}/{k % 7}/{k % 5}/{k:016x}.jpg", jpeg(k)) for k in
                   range(first, first + n)]
        if evil:
            members.insert(1, ("../../escape.jpg", jpeg(500)))
            members.insert(2, ("/abs/path.jpg", jpeg(501)))
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_shard_download_verifies_md5_and_refuses_a_wrong_one(bucket, tmp_path):
    blob = shard_tar(0, 5)
    bucket.add_shard(0, blob)
    path = landmarks.download_shard(0, tmp_path, base_url=bucket.url, quiet=True)
    assert path.read_bytes() == blob
    bucket.add_shard(1, shard_tar(10, 5), md5="0" * 32)
    with pytest.raises(DownloadError, match="expected 0000"):
        landmarks.download_shard(1, tmp_path, base_url=bucket.url, quiet=True)
    assert not (tmp_path / "images_001.tar").exists()
    assert not (tmp_path / "images_001.tar.part").exists()
    with pytest.raises(DownloadError, match="KIT_OFFLINE=1"):  # missing: says what to do
        landmarks.download_shard(7, tmp_path, base_url=bucket.url, quiet=True)
    bucket.files["/md5sum/train/md5.images_002.txt"] = b"<html>Access denied</html>"
    bucket.files["/train/images_002.tar"] = blob
    with pytest.raises(DownloadError, match="checksum file"):
        landmarks.download_shard(2, tmp_path, base_url=bucket.url, quiet=True)
    assert not (tmp_path / "md5.images_002.txt").exists()  # not kept: fetched again next time
    assert not (tmp_path / "images_002.tar").exists()


def test_interrupted_shard_download_resumes(bucket, tmp_path):
    blob = shard_tar(0, 8)
    bucket.add_shard(0, blob)
    bucket.cut_once["/train/images_000.tar"] = 5000
    with pytest.raises(DownloadError, match="interrupted|resume"):
        landmarks.download_shard(0, tmp_path, base_url=bucket.url, quiet=True)
    part = tmp_path / "images_000.tar.part"
    assert part.stat().st_size == 5000
    path = landmarks.download_shard(0, tmp_path, base_url=bucket.url, quiet=True)
    assert path.read_bytes() == blob
    assert ("/train/images_000.tar", "bytes=5000-") in bucket.requests


def test_load_from_shards_streams_safely_and_stops_early(bucket, kit_cache):
    bucket.add_shard(0, shard_tar(0, 10))
    bucket.add_shard(1, shard_tar(100, 10))
    bucket.add_shard(2, shard_tar(200, 10))
    data = landmarks.load("report64", n_train=12, n_test=3, offline=False,
                          base_url=bucket.url)
    assert data.meta["source"].startswith("Google Landmarks v2")
    assert data.meta["decode_counts"]["ok"] == 15
    assert sum(len(a) for a in data.values()) == 15
    fetched = {p for p, _ in bucket.requests}
    assert "/train/images_001.tar" in fetched
    assert "/train/images_002.tar" not in fetched  # two shards were enough
    # members with absolute paths or ".." are never read
    names = [n for n, _ in landmarks.iter_shards([0], kit_cache / "downloads" / "gldv2",
                                                 base_url=bucket.url)]
    assert len(names) == 10 and all(n.startswith("images_000/") and ".." not in n
                                    and "abs" not in n for n in names)
    small = landmarks.load("report64", n_train=8, n_test=2, shards=1, offline=False,
                           base_url=bucket.url)
    assert sum(len(a) for a in small.values()) == 10
    with pytest.raises(RuntimeError, match="usable images"):
        landmarks.load("report64", n_train=12, n_test=3, shards=1, offline=False,
                       base_url=bucket.url)
