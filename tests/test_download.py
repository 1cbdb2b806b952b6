"""Downloads against a local HTTP server (no internet): resume, checksums; safe tar reading."""

import hashlib
import io
import tarfile

import pytest
from fake_http import LocalHTTPServer

from helpers import download

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


@pytest.fixture()
def server():
    """Serves PAYLOAD at /file, and at /cut, which drops the connection a third of the way
    into its first response."""
    fake = LocalHTTPServer()
    fake.files["/file"] = fake.files["/cut"] = PAYLOAD
    fake.cut_once["/cut"] = len(PAYLOAD) // 3
    yield fake.url
    fake.close()


def test_download_verifies_md5(server, tmp_path):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    out = download.download(f"{server}/file", tmp_path / "f.bin", md5=md5, quiet=True)
    assert out.read_bytes() == PAYLOAD
    # a second call with the file present does not download again
    out.write_bytes(PAYLOAD)
    assert download.download("http://127.0.0.1:9/unreachable", out, md5=md5) == out


def test_wrong_checksum_keeps_nothing(server, tmp_path):
    with pytest.raises(download.DownloadError, match="expected"):
        download.download(f"{server}/file", tmp_path / "f.bin", md5="0" * 32, quiet=True)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_interrupted_download_resumes_with_range(server, tmp_path):
    dest = tmp_path / "f.bin"
    with pytest.raises(download.DownloadError, match="resume"):
        download.download(f"{server}/cut", dest, md5=hashlib.md5(PAYLOAD).hexdigest(),
                          quiet=True)
    part = tmp_path / "f.bin.part"
    have = part.stat().st_size
    assert 0 < have < len(PAYLOAD)
    out = download.download(f"{server}/cut", dest, md5=hashlib.md5(PAYLOAD).hexdigest(),
                            quiet=True)
    assert out.read_bytes() == PAYLOAD and not part.exists()


def test_unreachable_server_names_offline_mode(tmp_path):
    with pytest.raises(download.DownloadError, match="KIT_OFFLINE=1"):
        download.download("http://127.0.0.1:9/x", tmp_path / "x", timeout=2, quiet=True)


def _tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_iter_tar_streams_files_and_refuses_unsafe_members():
    buf = _tar_bytes([("a/1.jpg", b"one", "file"), ("../evil.jpg", b"x", "file"),
                      ("/abs.jpg", b"x", "file"), ("a/link.jpg", b"", "link"),
                      ("a/b/2.JPG", b"two", "file"), ("a/notes.txt", b"t", "file")])
    got = list(download.iter_tar(buf, suffixes=(".jpg",)))
    assert got == [("a/1.jpg", b"one"), ("a/b/2.JPG", b"two")]


def test_safe_member_name():
    assert download.safe_member_name("./x/y.jpg") == "x/y.jpg"
    assert download.safe_member_name("x/../../y") is None
    assert download.safe_member_name("/etc/passwd") is None
