"""The shared (instructor) cache, with gdown faked at the network boundary."""

import shutil
import sys
import types

import numpy as np
import pytest

from helpers import cache, shared_cache


@pytest.fixture()
def fake_drive(tmp_path, monkeypatch):
    """A local folder playing the instructor's shared Drive folder, and a fake gdown."""
    drive = tmp_path / "drive"
    calls = {"download": 0}

    class Entry:
        def __init__(self, path, fid):
            self.path, self.id = path, fid

    def download_folder(url, skip_download, quiet, remaining_ok):
        assert skip_download
        files = sorted(p for p in drive.rglob("*") if p.is_file())
        return [Entry(str(p.relative_to(drive)), str(p)) for p in files]

    def download(id, output, quiet):
        calls["download"] += 1
        if "quota" in id:
            raise RuntimeError("Too many users have viewed or downloaded this file recently.")
        shutil.copy(id, output)
        return output

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(
        download_folder=download_folder, download=download))
    monkeypatch.delenv("KIT_OFFLINE", raising=False)
    return drive, calls


def _publish(drive, kit_cache, name, params, value):
    """The instructor builds an entry and shares their cache folder."""
    cache.cached_arrays(name, params, lambda: {"x": np.full((3, 4), value, np.uint8)})
    shutil.copytree(kit_cache / "arrays", drive / "arrays", dirs_exist_ok=True)
    shutil.rmtree(kit_cache / "arrays")


def test_missing_entry_is_fetched_and_verified(fake_drive, kit_cache):
    drive, calls = fake_drive
    _publish(drive, kit_cache, "shared", {"n": 3}, 5)
    shared_cache.use("https://drive.google.com/drive/folders/abc")
    out = cache.cached_arrays("shared", {"n": 3}, lambda: pytest.fail("must not build"))
    assert out.hit and int(out["x"].max()) == 5 and calls["download"] == 2
    # an entry the shared folder lacks is built locally
    built = cache.cached_arrays("shared", {"n": 4}, lambda: {"x": np.zeros(2)})
    assert not built.hit


def test_tampered_shared_entry_is_refused(fake_drive, kit_cache):
    drive, _ = fake_drive
    _publish(drive, kit_cache, "shared", {"n": 3}, 5)
    npy = next(drive.rglob("x.npy"))
    raw = bytearray(npy.read_bytes())
    raw[-1] ^= 1
    npy.write_bytes(bytes(raw))
    shared_cache.use("https://drive.google.com/drive/folders/abc")
    with pytest.raises(shared_cache.SharedCacheError, match="failed verification"):
        cache.cached_arrays("shared", {"n": 3}, lambda: {"x": np.zeros(2)})
    assert not cache.entry_dir("shared", {"n": 3}).exists()


def test_quota_error_is_explained(fake_drive, kit_cache):
    drive, _ = fake_drive
    _publish(drive, kit_cache, "shared", {"n": 3}, 5)
    for f in list(drive.rglob("*.npy")):
        f.rename(f.with_name("quota-" + f.name))
    shared_cache.use("https://drive.google.com/drive/folders/abc")
    with pytest.raises(shared_cache.SharedCacheError, match="Make a copy"):
        cache.cached_arrays("shared", {"n": 3}, lambda: {"x": np.zeros(2)})


def test_offline_mode_never_contacts_drive(fake_drive, kit_cache, monkeypatch):
    drive, calls = fake_drive
    _publish(drive, kit_cache, "shared", {"n": 3}, 5)
    shared_cache.use("https://drive.google.com/drive/folders/abc")
    monkeypatch.setenv("KIT_OFFLINE", "1")
    out = cache.cached_arrays("shared", {"n": 3}, lambda: {"x": np.zeros(2)})
    assert not out.hit and calls["download"] == 0
