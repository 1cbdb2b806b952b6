"""Streamed, resumable, checksum-verified downloads and safe streamed tar reading.

Used by the dataset modules (Google Landmarks shards, HPatches, SVHN). A download goes to
``<dest>.part`` and resumes from there with an HTTP Range request after an interruption;
only a file whose checksum matches is renamed to ``dest``. Tar archives are read member
by member from the stream, never extracted wholesale, and unsafe members are refused.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    pass


def offline_hint(what: str) -> str:
    return (f"{what}. If this runtime has no internet, set KIT_OFFLINE=1 (or "
            "os.environ['KIT_OFFLINE'] = '1' before helpers.setup()) to use the offline "
            "stand-in data.")


def file_digest(path, algorithm: str = "md5") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest, *, md5: str | None = None, sha256: str | None = None,
             timeout: float = 60, desc: str | None = None, quiet: bool = False) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part``; verify the checksum.

    Returns ``dest``. An existing ``dest`` with the right checksum is not downloaded again.
    A checksum mismatch keeps nothing: the bad file is deleted and DownloadError raised.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    algo, expected = ("sha256", sha256) if sha256 else ("md5", md5) if md5 else (None, None)
    if dest.exists():
        if expected is None or file_digest(dest, algo) == expected:
            return dest
        dest.unlink()  # a complete file with a wrong checksum: download afresh
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "image-dl-kit"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            response = None
        else:
            raise DownloadError(offline_hint(f"Download of {url} failed: HTTP {exc.code}")) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(offline_hint(f"Download of {url} failed: {exc}")) from exc
    if response is not None:
        with response:
            resumed = have and getattr(response, "status", 200) == 206
            mode = "ab" if resumed else "wb"
            if have and not resumed:
                have = 0  # server ignored the Range header: start again
            length = response.headers.get("Content-Length")
            total = have + int(length) if length else None
            bar = None
            if not quiet:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, initial=have, unit="B", unit_scale=True,
                           desc=desc or dest.name, leave=False)
            try:
                with open(part, mode) as out:
                    while block := response.read(CHUNK):
                        out.write(block)
                        if bar is not None:
                            bar.update(len(block))
            except (OSError, urllib.error.URLError) as exc:
                raise DownloadError(
                    f"Download of {url} was interrupted ({exc}); run the cell again to "
                    f"resume from {part.stat().st_size if part.exists() else 0} bytes.") from exc
            finally:
                if bar is not None:
                    bar.close()
            got_bytes = part.stat().st_size
            if total is not None and got_bytes < total:  # connection closed early
                raise DownloadError(
                    f"Download of {url} was interrupted at {got_bytes} of {total} bytes; "
                    "run the cell again to resume from there.")
    if expected is not None:
        got = file_digest(part, algo)
        if got != expected:
            part.unlink()
            raise DownloadError(f"{url}: {algo} is {got}, expected {expected}. The partial "
                                "file was deleted; run again to download it afresh.")
    os.replace(part, dest)
    return dest


def safe_member_name(name: str) -> str | None:
    """The normalised relative path of a tar member, or None if it would escape the root."""
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")) or ":" in p.parts[0]:
        return None
    parts = [x for x in p.parts if x not in ("", ".")]
    return "/".join(parts) if parts else None


def iter_tar(source, suffixes: tuple[str, ...] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(relative_name, content)`` of regular files in a tar stream, one at a time.

    Reads in streaming mode (``r|*``: plain, gz, bz2, xz), so nothing is extracted to disk
    and only one member is in memory. Links, devices and members whose path is absolute or
    contains ``..`` are skipped. ``suffixes`` filters by file ending (case-insensitive).
    """
    opener = (tarfile.open(fileobj=source, mode="r|*") if hasattr(source, "read")
              else tarfile.open(str(source), mode="r|*"))
    with opener as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = safe_member_name(member.name)
            if name is None:
                continue
            if suffixes and not name.lower().endswith(tuple(s.lower() for s in suffixes)):
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            yield name, fh.read()
