"""An instructor's prepared cache, shared on Google Drive and fetched by students with gdown.

The instructor runs the notebooks once (their cache lives in ``MyDrive/image-dl-kit/
data_cache``), shares that folder as "anyone with the link can view", and gives students
the link. A student sets it once, before or after ``helpers.setup()``::

    helpers.shared_cache.use("https://drive.google.com/drive/folders/<id>")
    # or: os.environ["KIT_SHARED_CACHE"] = "<link>"

On a cache miss the kit looks for the same entry (same name and parameter hash) in the
shared folder, downloads its files with gdown, and verifies every checksum before use.
Only entries that are missing locally are fetched. Used by :mod:`helpers.cache`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

QUOTA_HELP = (
    "Google Drive refused the download: too many users have viewed or downloaded this "
    "file recently (Drive's per-file quota, reset after about 24 hours). Workarounds: "
    "(1) open the shared link in a browser, choose 'Make a copy' (or 'Add shortcut to "
    "Drive') for the folder, mount your Drive and set KIT_CACHE_DIR to that copy; "
    "(2) ask the instructor to share a fresh copy of the folder; (3) build the data "
    "yourself by unsetting KIT_SHARED_CACHE (slower, same results)."
)


class SharedCacheError(RuntimeError):
    pass


def use(url: str | None) -> None:
    """Set (or with None, clear) the shared cache folder link for this runtime."""
    if url:
        os.environ["KIT_SHARED_CACHE"] = url
    else:
        os.environ.pop("KIT_SHARED_CACHE", None)


def configured() -> str | None:
    return os.environ.get("KIT_SHARED_CACHE") or None


def _listing(url: str):
    """[(relative path, file id)] of the shared folder, without downloading anything."""
    import gdown

    try:
        files = gdown.download_folder(url=url, skip_download=True, quiet=True,
                                      remaining_ok=True)
    except Exception as exc:
        raise _explain(exc, url) from exc
    if not files:
        return []
    return [(Path(f.path).as_posix(), f.id) for f in files]


def _explain(exc: Exception, url: str) -> SharedCacheError:
    text = str(exc)
    if "too many users" in text.lower() or "quota" in text.lower():
        return SharedCacheError(QUOTA_HELP)
    return SharedCacheError(
        f"Could not read the shared cache {url}: {text}. Check that the folder is shared "
        "as 'anyone with the link' and that this runtime is online (KIT_OFFLINE=1 skips "
        "the shared cache)."
    )


def fetch_entry(final: Path) -> bool:
    """Fetch ``<kind>/<key>/`` from the shared folder into ``final``; True if it worked.

    Returns False when no shared cache is set, when offline, or when the shared folder
    has no such entry. Every fetched file is checked against the entry's manifest.
    """
    url = configured()
    from helpers import env

    if not url or env.is_offline():
        return False
    import gdown

    prefix = f"{final.parent.name}/{final.name}/"
    wanted = [(p, fid) for p, fid in _listing(url) if prefix in f"/{p}" or p.startswith(prefix)]
    if not wanted:
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".shared-", dir=final.parent))
    try:
        for rel, fid in wanted:
            dest = tmp / rel.split(prefix, 1)[1]
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                got = gdown.download(id=fid, output=str(dest), quiet=True)
            except Exception as exc:
                raise _explain(exc, url) from exc
            if not got or not dest.is_file():
                raise SharedCacheError(f"gdown returned nothing for {rel} of {url}")
        from helpers.cache import verify_entry

        ok, reason = verify_entry(tmp)
        if not ok:
            raise SharedCacheError(f"shared entry {final.name} failed verification: {reason}; "
                                   "it was not used. Ask the instructor to re-share it.")
        os.rename(tmp, final)
        print(f"[cache] fetched {final.name} from the shared cache")
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
