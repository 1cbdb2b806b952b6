"""The array cache: hit, miss, parameter change, corruption, killed writers, full disks."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from helpers import cache


def _builder(calls, value=1, shape=(4, 8, 8, 3)):
    def build():
        calls.append(value)
        return {"x": np.full(shape, value, np.uint8), "y": np.arange(shape[0])}, {"v": value}
    return build


def test_miss_then_hit_returns_same_arrays_without_rebuilding():
    calls = []
    first = cache.cached_arrays("demo", {"n": 4}, _builder(calls))
    second = cache.cached_arrays("demo", {"n": 4}, _builder(calls))
    assert calls == [1]
    assert not first.hit and second.hit
    np.testing.assert_array_equal(second["x"], np.full((4, 8, 8, 3), 1, np.uint8))
    assert second["x"].dtype == np.uint8 and second.meta == {"v": 1}


def test_changed_parameter_builds_a_new_entry():
    calls = []
    a = cache.cached_arrays("demo", {"n": 4, "sigma": 0.1}, _builder(calls, 1))
    b = cache.cached_arrays("demo", {"n": 4, "sigma": 0.2}, _builder(calls, 2))
    assert calls == [1, 2]
    assert a.path != b.path
    assert int(b["x"][0, 0, 0, 0]) == 2
    # the first entry is still there and still valid
    assert cache.cached_arrays("demo", {"n": 4, "sigma": 0.1}, _builder(calls, 9))["x"].max() == 1
    assert calls == [1, 2]


def test_key_is_stable_and_order_independent():
    k1 = cache.cache_key("d", {"a": 1, "b": [1, 2], "c": {"x": 0.5, "y": "z"}})
    k2 = cache.cache_key("d", {"c": {"y": "z", "x": 0.5}, "b": (1, 2), "a": 1})
    assert k1 == k2 and k1.startswith("d-") and len(k1) == 2 + 12
    assert cache.cache_key("d", {"a": 2}) != cache.cache_key("d", {"a": 1})
    assert cache.cache_key("e", {"a": 1}) != cache.cache_key("d", {"a": 1})


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete_manifest", "garble_manifest"])
def test_corrupt_entry_is_reported_rebuilt_and_never_used(damage, capsys):
    calls = []
    entry = cache.cached_arrays("demo", {}, _builder(calls, 7))
    path = entry.path / "x.npy"
    del entry
    if damage == "flip":
        raw = bytearray(path.read_bytes())
        raw[-5] ^= 0xFF
        path.write_bytes(bytes(raw))
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:-10])
    elif damage == "delete_manifest":
        (path.parent / "manifest.json").unlink()
    else:
        (path.parent / "manifest.json").write_text("{not json")
    again = cache.cached_arrays("demo", {}, _builder(calls, 7))
    assert calls == [7, 7], "the damaged entry must be rebuilt"
    assert not again.hit
    np.testing.assert_array_equal(again["x"], np.full((4, 8, 8, 3), 7, np.uint8))
    assert cache.verify_entry(again.path) == (True, "ok")
    if damage in ("flip", "truncate"):
        assert "rebuilt, not used" in capsys.readouterr().out


def test_stream_writer_appends_chunks_into_valid_npy_files():
    def fill(w):
        for i in range(5):
            w.append(img=np.full((3, 6, 6, 3), i, np.uint8), label=np.full(3, i, np.int64))
        w.meta["skipped"] = 2
    out = cache.stream_arrays("streamed", {"v": 1}, fill)
    assert out["img"].shape == (15, 6, 6, 3) and out["label"].shape == (15,)
    np.testing.assert_array_equal(out["img"][:, 0, 0, 0], np.repeat(np.arange(5), 3))
    assert out.meta == {"skipped": 2}
    # the files are ordinary .npy files
    raw = np.load(out.path / "img.npy", allow_pickle=False)
    assert raw.shape == (15, 6, 6, 3)
    again = cache.stream_arrays("streamed", {"v": 1}, lambda w: pytest.fail("rebuilt"))
    assert again.hit


def test_stream_writer_rejects_inconsistent_chunks_and_leaves_nothing():
    def fill(w):
        w.append(img=np.zeros((2, 4, 4), np.uint8))
        w.append(img=np.zeros((2, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="does not match"):
        cache.stream_arrays("bad", {}, fill)
    folder = cache.entry_dir("bad", {}).parent
    assert not any(p.name.startswith(("bad-", ".tmp-bad")) for p in folder.iterdir())


def test_large_arrays_are_memory_mapped_read_only(monkeypatch):
    monkeypatch.setattr(cache, "MMAP_THRESHOLD", 100)
    out = cache.cached_arrays("big", {}, lambda: {"x": np.ones((50, 50), np.uint8)})
    assert isinstance(out["x"], np.memmap)
    with pytest.raises(ValueError):
        out["x"][0, 0] = 3


def test_object_arrays_are_refused_no_pickle():
    with pytest.raises(ValueError):
        cache.cached_arrays("obj", {}, lambda: {"x": np.array([{"a": 1}], dtype=object)})
    assert not cache.entry_dir("obj", {}).exists()


def test_full_disk_gives_clear_error_and_keeps_existing_entries(monkeypatch):
    calls = []
    good = cache.cached_arrays("keep", {"n": 1}, _builder(calls))
    good_files = {p.name: p.read_bytes() for p in good.path.iterdir()}

    def no_space(path, array):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cache, "_save_npy", no_space)
    with pytest.raises(cache.CacheError, match="KIT_CACHE_DIR"):
        cache.cached_arrays("keep", {"n": 2}, _builder(calls))
    assert {p.name: p.read_bytes() for p in good.path.iterdir()} == good_files
    assert not cache.entry_dir("keep", {"n": 2}).exists()
    assert not list(good.path.parent.glob(".tmp-*"))


def test_writer_killed_mid_write_leaves_no_valid_entry(kit_cache):
    """SIGKILL a process in the middle of a streamed build; the next run rebuilds."""
    script = textwrap.dedent("""
        import os, signal, sys, numpy as np
        sys.path.insert(0, sys.argv[1])
        from helpers import cache
        def fill(w):
            for i in range(100):
                w.append(x=np.full((10, 32, 32, 3), i % 250, np.uint8))
                if i == 20:
                    print("written", flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)
        cache.stream_arrays("killed", {"n": 1000}, fill)
    """)
    env = {**os.environ, "KIT_CACHE_DIR": str(kit_cache)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", script, root], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL and "written" in proc.stdout
    folder = cache.entry_dir("killed", {"n": 1000})
    assert not folder.exists(), "a killed writer must not leave a final entry"
    leftovers = list(folder.parent.glob(".tmp-*"))
    assert leftovers, "the temporary folder is what a killed writer leaves"
    assert cache.lookup("killed", {"n": 1000}) is None

    def fill(w):
        for i in range(100):
            w.append(x=np.full((10, 32, 32, 3), i % 250, np.uint8))
    out = cache.stream_arrays("killed", {"n": 1000}, fill)
    assert out["x"].shape == (1000, 32, 32, 3) and not out.hit
    assert not list(folder.parent.glob(".tmp-*")), "stale temporary folders are cleaned"


def test_manifest_records_checksums_and_params():
    out = cache.cached_arrays("m", {"seed": 3, "size": (8, 8)}, lambda: {"a": np.eye(3)})
    manifest = json.loads((out.path / "manifest.json").read_text())
    assert manifest["params"] == {"seed": 3, "size": [8, 8]}
    info = manifest["files"]["a.npy"]
    assert info["sha256"] == cache.file_sha256(out.path / "a.npy")
    assert info["shape"] == [3, 3] and info["dtype"] == "float64"


def test_hit_is_fast_relative_to_build():
    def slow():
        time.sleep(0.5)
        return {"x": np.zeros((100, 64, 64, 3), np.uint8)}
    built = cache.cached_arrays("speed", {}, slow)
    hit = cache.cached_arrays("speed", {}, slow)
    assert hit.hit and hit.seconds < built.seconds


def test_colab_copies_drive_entries_to_local_disk_before_reading(monkeypatch, tmp_path):
    """On Colab with the cache on Drive, reads come from a verified local copy."""
    from helpers import env

    drive = tmp_path / "drive"
    monkeypatch.setenv("KIT_CACHE_DIR", str(drive / "MyDrive" / "kit" / "data_cache"))
    monkeypatch.setattr(env, "DRIVE_MOUNT", drive)
    monkeypatch.setattr(env, "COLAB_LOCAL_DIR", tmp_path / "local")
    monkeypatch.setattr(env, "in_colab", lambda: True)
    out = cache.cached_arrays("colab", {}, lambda: {"x": np.arange(6)})
    assert str(out.path).startswith(str(tmp_path / "local"))
    assert (drive / "MyDrive" / "kit" / "data_cache" / "arrays" / out.path.name).is_dir()
    np.testing.assert_array_equal(out["x"], np.arange(6))
    # a damaged local copy is replaced from Drive, not used
    (out.path / "x.npy").write_bytes(b"garbage")
    again = cache.cached_arrays("colab", {}, lambda: pytest.fail("Drive copy is valid"))
    np.testing.assert_array_equal(again["x"], np.arange(6))
