"""Cached numpy arrays: content-keyed, atomic, verified, memory-mapped.

A cache entry is a folder ``<root>/arrays/<name>-<hash>/`` with one ``.npy`` per array and
a ``manifest.json`` (shapes, dtypes, SHA-256 of each file, the parameters that built them).
The hash covers the name, every parameter and the cache format, so changing a parameter
never loads stale data. Entries are built in a temporary folder and renamed into place
only when complete, so a killed writer leaves nothing that passes for valid. Every load
checks sizes and checksums; a corrupt entry is reported, moved aside and rebuilt.

Used by every notebook through the dataset modules (``helpers.datasets``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helpers import env

FORMAT_VERSION = 1
MMAP_THRESHOLD = 64 * 2**20  # arrays larger than this are memory-mapped, not read into RAM
_HEADER_BYTES = 128  # reserved .npy header for streamed arrays (shape known only at the end)


class CacheError(RuntimeError):
    """A cache problem the user has to act on (disk full, unreadable shared cache...)."""


class CachedArrays(dict):
    """A dict of arrays with ``.meta`` (JSON built alongside), ``.hit``, ``.path``, ``.seconds``."""

    meta: dict
    hit: bool
    path: Path
    seconds: float

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.values())


# ---------------------------------------------------------------------------- keys

def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"ndarray_sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
                "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cache parameter of type {type(value).__name__} cannot be hashed: {value!r}")


def param_hash(name: str, params: dict) -> str:
    blob = json.dumps({"name": name, "params": _jsonable(params), "format": FORMAT_VERSION},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cache_key(name: str, params: dict) -> str:
    """``<name>-<12 hex digits>``: the folder name of an entry."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad cache name {name!r}")
    return f"{name}-{param_hash(name, params)}"


def cache_dir() -> Path:
    """The cache root chosen by :func:`helpers.setup` (or KIT_CACHE_DIR, or data_cache/)."""
    root = env.default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    return root


def entry_dir(name: str, params: dict, kind: str = "arrays") -> Path:
    return cache_dir() / kind / cache_key(name, params)


# ---------------------------------------------------------------------------- checksums

def file_sha256(path: Path, chunk: int = 8 * 2**20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def verify_entry(path: Path) -> tuple[bool, str]:
    """(ok, reason): the manifest parses and every file has its recorded size and SHA-256."""
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        return False, "no manifest (incomplete entry)"
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError) as exc:
        return False, f"unreadable manifest ({exc})"
    for fname, info in files.items():
        fpath = path / fname
        if not fpath.is_file():
            return False, f"{fname} is missing"
        size = fpath.stat().st_size
        if size != info["bytes"]:
            return False, f"{fname} has {size} bytes, expected {info['bytes']} (truncated?)"
        if file_sha256(fpath) != info["sha256"]:
            return False, f"{fname} fails its checksum (corrupt)"
    return True, "ok"


# ---------------------------------------------------------------------------- writing

def _tmp_dir(final: Path) -> Path:
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True)
    return tmp


def _clean_stale_tmp(final: Path) -> None:
    """Remove temporary folders of this entry left by writers that were killed."""
    if not final.parent.is_dir():
        return
    for tmp in final.parent.glob(f".tmp-{final.name}-*"):
        pid = tmp.name.rsplit("-", 2)[-2]
        alive = pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid))
        if not alive:
            shutil.rmtree(tmp, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _disk_full_hint(exc: OSError, where: Path) -> CacheError:
    return CacheError(
        f"Could not write the cache at {where}: {exc}. Free some space (on Colab, empty "
        "Drive's bin or delete old entries under data_cache/arrays), or point KIT_CACHE_DIR "
        "at a disk with room. Nothing already cached was changed."
    )


def _commit(tmp: Path, final: Path, name: str, params: dict, meta: dict) -> None:
    """Write the manifest (checksums of every file in ``tmp``) and rename into place."""
    files = {}
    for f in sorted(tmp.iterdir()):
        if f.suffix == ".npy":
            arr = np.load(f, mmap_mode="r", allow_pickle=False)
            files[f.name] = {"bytes": f.stat().st_size, "sha256": file_sha256(f),
                             "shape": list(arr.shape), "dtype": str(arr.dtype)}
            del arr
    manifest = {"name": name, "params": _jsonable(params), "format": FORMAT_VERSION,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "files": files,
                "meta": _jsonable(meta)}
    with open(tmp / "manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(tmp)
    if final.exists():  # a corrupt entry being replaced: move it aside first
        trash = final.parent / f".trash-{final.name}-{uuid.uuid4().hex[:6]}"
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.rename(tmp, final)
    _fsync_dir(final.parent)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def _npy_header(shape: tuple, dtype: np.dtype) -> bytes:
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
         "shape": tuple(int(s) for s in shape)}
    body = repr(d).encode("latin1")
    prefix = b"\x93NUMPY\x01\x00"
    pad = _HEADER_BYTES - len(prefix) - 2 - len(body) - 1
    if pad < 0:
        raise ValueError(f"shape {shape} does not fit the reserved .npy header")
    body = body + b" " * pad + b"\n"
    return prefix + len(body).to_bytes(2, "little") + body


class StreamWriter:
    """Appends chunks of rows to ``.npy`` files without holding the whole array in RAM.

    ``writer.append(clean=chunk_uint8, labels=chunk_int)`` adds rows to each named array;
    ``writer.meta`` is a dict saved in the manifest (counts, skipped files...).
    """

    def __init__(self, folder: Path, total: int | None = None, desc: str | None = None):
        self.folder = folder
        self.meta: dict = {}
        self._files: dict = {}
        self._rows: dict[str, int] = {}
        self._info: dict = {}
        self._bar = None
        if desc is not None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="img", leave=False)

    def append(self, **chunks: np.ndarray) -> None:
        for key, chunk in chunks.items():
            chunk = np.ascontiguousarray(chunk)
            if key not in self._files:
                self._files[key] = open(self.folder / f"{key}.npy", "wb")
                self._files[key].write(b"\0" * _HEADER_BYTES)
                self._rows[key] = 0
                self._info[key] = (chunk.shape[1:], chunk.dtype)
            shape, dtype = self._info[key]
            if chunk.shape[1:] != shape or chunk.dtype != dtype:
                raise ValueError(f"{key}: chunk {chunk.shape[1:]} {chunk.dtype} does not match "
                                 f"earlier chunks {shape} {dtype}")
            self._files[key].write(chunk.tobytes())
            self._rows[key] += len(chunk)
        if self._bar is not None and chunks:
            self._bar.update(len(next(iter(chunks.values()))))

    def rows(self, key: str) -> int:
        return self._rows.get(key, 0)

    def close(self) -> None:
        for key, fh in self._files.items():
            shape, dtype = self._info[key]
            fh.seek(0)
            fh.write(_npy_header((self._rows[key], *shape), dtype))
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        self._files = {}
        if self._bar is not None:
            self._bar.close()

    def abort(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files = {}
        if self._bar is not None:
            self._bar.close()


# ---------------------------------------------------------------------------- reading

def _local_mirror(path: Path) -> Path:
    """On Colab with the cache on Drive, copy an entry to local disk before heavy reads."""
    if not (env.in_colab() and str(path).startswith(str(env.DRIVE_MOUNT))):
        return path
    local = env.COLAB_LOCAL_DIR / path.parent.name / path.name
    if local.is_dir() and verify_entry(local)[0]:
        return local
    shutil.rmtree(local, ignore_errors=True)
    tmp = local.parent / f".tmp-{local.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(path, tmp)
    os.rename(tmp, local)
    return local


def _load(path: Path, hit: bool, seconds: float) -> CachedArrays:
    path = _local_mirror(path)
    manifest = json.loads((path / "manifest.json").read_text())
    out = CachedArrays()
    for fname in manifest["files"]:
        fpath = path / fname
        mmap = "r" if fpath.stat().st_size > MMAP_THRESHOLD else None
        out[fname[:-4]] = np.load(fpath, mmap_mode=mmap, allow_pickle=False)
    out.meta = manifest.get("meta", {})
    out.hit, out.path, out.seconds = hit, path, seconds
    return out


def lookup(name: str, params: dict, *, report: bool = True) -> CachedArrays | None:
    """The verified entry for (name, params), or None on a miss or a corrupt entry."""
    start = time.perf_counter()
    final = entry_dir(name, params)
    if not final.exists():
        from helpers import shared_cache

        if not shared_cache.fetch_entry(final):
            return None
    ok, reason = verify_entry(final)
    if not ok:
        if report:
            print(f"[cache] {final.name}: {reason}; it will be rebuilt, not used.")
        trash = final.parent / f".trash-{final.name}-{uuid.uuid4().hex[:6]}"
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return None
    return _load(final, True, time.perf_counter() - start)


def _get_or_build(name: str, params: dict, write: Callable[[Path], dict],
                  quiet: bool) -> CachedArrays:
    """The verified entry on a hit; else ``write(tmp_folder) -> meta``, commit and load."""
    found = lookup(name, params)
    if found is not None:
        if not quiet:
            print(f"[cache] hit {found.path.name} ({found.nbytes / 2**20:.1f} MiB, "
                  f"{found.seconds:.2f} s)")
        return found
    start = time.perf_counter()
    final = entry_dir(name, params)
    final.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_tmp(final)
    tmp = _tmp_dir(final)
    try:
        meta = write(tmp)
        _commit(tmp, final, name, params, meta)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _disk_full_hint(exc, final) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    out = _load(final, False, time.perf_counter() - start)
    if not quiet:
        print(f"[cache] built {final.name} ({out.nbytes / 2**20:.1f} MiB, {out.seconds:.1f} s)")
    return out


def cached_arrays(name: str, params: dict, build: Callable[[], dict], *,
                  quiet: bool = False) -> CachedArrays:
    """Load the arrays for (name, params) from the cache, or build, store and load them.

    ``build()`` returns ``{array_name: ndarray}`` or ``({...}, meta_dict)``.
    Arrays over 64 MiB come back memory-mapped and read-only.
    """
    def write(tmp: Path) -> dict:
        result = build()
        arrays, meta = result if isinstance(result, tuple) else (result, {})
        for key, arr in arrays.items():
            _save_npy(tmp / f"{key}.npy", np.asarray(arr))
        return meta

    return _get_or_build(name, params, write, quiet)


def stream_arrays(name: str, params: dict, fill: Callable[[StreamWriter], None], *,
                  total: int | None = None, desc: str | None = None,
                  quiet: bool = False) -> CachedArrays:
    """Like :func:`cached_arrays`, for datasets built chunk by chunk.

    ``fill(writer)`` calls ``writer.append(name=chunk, ...)`` as often as it likes and may
    fill ``writer.meta``; at most one chunk is in RAM at a time. A progress bar shows
    ``total`` rows when given.
    """
    def write(tmp: Path) -> dict:
        writer = StreamWriter(tmp, total=total, desc=desc or name)
        try:
            fill(writer)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        return writer.meta

    return _get_or_build(name, params, write, quiet)


def disk_usage(entry: CachedArrays) -> int:
    """Bytes on disk of a cached entry (all files in its folder)."""
    return sum(f.stat().st_size for f in entry.path.iterdir() if f.is_file())
