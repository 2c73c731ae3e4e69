"""Fetchers, offline: the registry is derived from SOURCES.json + local files, and downloads
come from a mirror of the local files served on 127.0.0.1 (http.server)."""

from __future__ import annotations

import functools
import http.server
import shutil
import zipfile
from pathlib import Path

import pytest
from _helpers import serve_http

from s3kit.datasets import fetch_dataset, load_dataset
from s3kit.datasets.fetch import FETCH_REGISTRY, registry_from_sources, sha256_file
from s3kit.testing.pytest_policy import data_root


def shared_root() -> Path:
    return data_root("SOURCES.json")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base_url)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    with serve_http(functools.partial(_Quiet, directory=str(folder))) as url:
        yield folder, url


def put_files(mirror_dir: Path, root: Path, name: str):
    """Lay out the local copy of a 'files' dataset like raw.githubusercontent.com."""
    entry = FETCH_REGISTRY[name]
    for rel, (upstream, _, _) in entry["files"].items():
        dst = mirror_dir / entry["repo"] / (entry["commit"] or "HEAD") / upstream
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name / rel, dst)


def test_registry_is_derived_from_sources_and_local_hashes():
    root = shared_root()
    derived = registry_from_sources(root / "SOURCES.json", root)
    for name, entry in derived.items():
        assert FETCH_REGISTRY[name] == entry, name
    # pinned hashes are those of the local files
    for name, entry in FETCH_REGISTRY.items():
        for rel, digest in entry.get("check", {}).items():
            if (root / name).is_dir():
                assert sha256_file(root / name / rel) == digest
    # small: a few pinned files per archive dataset
    assert all(len(e.get("check", {})) <= 4 for e in FETCH_REGISTRY.values())


@pytest.mark.parametrize("name", ["tweeteval", "rumoureval2017", "mcid_twitter",
                                  "nlpcc2016_stance", "clue_emotion2020", "twitter_gender"])
def test_fetch_files_from_local_mirror(name, mirror, tmp_path):
    root = data_root("SOURCES.json", name)
    mdir, url = mirror
    put_files(mdir, root, name)
    out = fetch_dataset(name, dest=tmp_path / "data", base_url=url, progress=False)
    assert out == tmp_path / "data" / name
    for rel in FETCH_REGISTRY[name]["files"]:
        assert sha256_file(out / rel) == sha256_file(root / name / rel)
    fetched = load_dataset(name, tmp_path / "data", progress=False).summary()
    assert fetched == load_dataset(name, root, progress=False).summary()


def test_fetch_rejects_a_tampered_file(mirror, tmp_path):
    root = shared_root()
    mdir, url = mirror
    put_files(mdir, root, "tweeteval")
    entry = FETCH_REGISTRY["tweeteval"]
    upstream = entry["files"]["emotion/val_labels.txt"][0]
    target = mdir / entry["repo"] / entry["commit"] / upstream
    target.write_bytes(target.read_bytes() + b"0\n")
    with pytest.raises(ValueError, match="(?i)hash"):
        fetch_dataset("tweeteval", dest=tmp_path / "data", base_url=url, progress=False)


def make_archive(mirror_dir: Path, root: Path, name: str, tamper: str | None = None) -> Path:
    """Zip the local copy like GitHub's archive of repo@commit (stored, no compression)."""
    entry = FETCH_REGISTRY[name]
    repo_name = entry["repo"].split("/")[1]
    top = f"{repo_name}-{entry['commit']}"
    zpath = mirror_dir / entry["repo"] / "archive" / f"{entry['commit']}.zip"
    zpath.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted((root / name).rglob("*")):
            if f.is_file():
                rel = f.relative_to(root / name).as_posix()
                arc = entry.get("extra", {}).get(rel) or f"{entry['subdir']}/{rel}"
                data = f.read_bytes() + (b"x" if rel == tamper else b"")
                zf.writestr(f"{top}/{arc}", data)
    return zpath


def test_fetch_archive_from_local_mirror(mirror, tmp_path):
    name = "twitter15"
    root = data_root("SOURCES.json", name)
    mdir, url = mirror
    make_archive(mdir, root, name)
    out = fetch_dataset(name, dest=tmp_path / "data", base_url=url, progress=False)
    local = sorted(p.relative_to(root / name) for p in (root / name).rglob("*") if p.is_file())
    got = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert got == local
    for rel in local[:50]:
        assert sha256_file(out / rel) == sha256_file(root / name / rel)
    assert not (tmp_path / "data" / ".downloads" / f"{name}-{FETCH_REGISTRY[name]['commit']}"
                ".zip").exists()
    # second call: already there and intact, no download (the mirror is gone)
    shutil.rmtree(mdir)
    assert fetch_dataset(name, dest=tmp_path / "data", base_url=url, progress=False) == out


def test_fetch_archive_detects_a_changed_member(mirror, tmp_path):
    root = data_root("SOURCES.json", "twitter15")
    mdir, url = mirror
    make_archive(mdir, root, "twitter15", tamper="label.txt")
    with pytest.raises(ValueError, match="label.txt"):
        fetch_dataset("twitter15", dest=tmp_path / "data", base_url=url, progress=False)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset"):
        fetch_dataset("no_such")
