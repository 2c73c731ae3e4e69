"""Download the public datasets for real users: :func:`fetch_dataset` (pooch + hashes).

Every dataset comes from a public GitHub repository pinned to a commit (the mapping is derived
from ``shared/data/SOURCES.json`` by :func:`registry_from_sources`). Small datasets are fetched
file by file from ``raw.githubusercontent.com`` with a pinned SHA-256; the many-file ones (CED,
Twitter15/16) as the commit's zip archive, then a few representative files are checked against
pinned SHA-256 hashes (GitHub archives are not byte-stable, their members are).

The hashes are those of the files in the project's shared copy. That copy is a deterministic
~80% split of some datasets: a file the split rewrote (``mcid_twitter/cascades.txt``) or a copy
marked "truncated" (``twitter_gender``) is not byte-identical to upstream, so it is downloaded
without a pinned hash (``verify=False`` below); its local hash is still recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from collections import Counter
from pathlib import Path

__all__ = ["fetch_dataset", "FETCH_REGISTRY", "registry_from_sources", "sha256_file"]

#: name -> source. ``mode="files"``: ``files`` maps the local path (inside the dataset folder) to
#: ``(upstream path, SHA-256 of the shared copy, pinned?)``. ``mode="archive"``: the zip
#: of ``repo@commit``; ``subdir`` becomes the dataset folder; ``check`` pins a few members;
#: ``extra`` maps more local paths to archive members outside ``subdir``.
FETCH_REGISTRY: dict[str, dict] = {
    "ced": {
        "repo": "thunlp/Chinese_Rumor_Dataset",
        "commit": "c1178d8cfd4c245c296889a51fc252b17c9037c5",
        "mode": "archive",
        "subdir": "CED_Dataset",
        "check": {
            "README.md":
                "43d89f9259c040053b1058b89df4152a52fa8d525ee1b3d127be0b3f59dbc784",
            "non-rumor-repost/2601_85jBAr_1700757973.json":
                "e908991f3501219d7e2bf65c606a2476191b3c59693ba651d947d4aa06d66fec",
            "original-microblog/0_yBmepBtUB_2279086572.json":
                "dd225cd7d5f97f376f48e5a75b4c3b74695a9030107e27868f4d5a86910bf5a2",
            "rumor-repost/0_yBmepBtUB_2279086572.json":
                "cf627ccb061944fd8dbbb6cdd829a76625857479bd2531c01e6ffdb3a9fd1f82",
        },
    },
    "clue_emotion2020": {
        "repo": "CLUEbenchmark/CLUEmotionAnalysis2020",
        "commit": "ff1bc945fc3a5854e0013de5a2f222dd1da61516",
        "mode": "files",
        "files": {
            "valid.txt": (
                "CLUEdataset/emotion/valid.txt",
                "a644591424f4c9798c9f61f3bfde18faa7da0f91ac02ce3f4406c9b6ecde85c2",
                True,
            ),
        },
    },
    "mcid_twitter": {
        "repo": "lixinyi22/Information-Diffusion",
        "commit": "9c66c55556d1fb7201a916fdfad934688140baba",
        "mode": "files",
        "files": {
            "cascades.txt": (
                "Dataset/Twitter/origin/cascades.txt",
                "dea7db629f0af0e777be44fb2f4f50a6d00f45991c6814d5ee7e4f99147667eb",
                False,
            ),
            "edges.txt": (
                "Dataset/Twitter/IF/edges.txt",
                "8e99bff5daaa18066f573ce9a7168e7cedc06cea6b3b1bc24d43f8b8e3fc44ea",
                True,
            ),
            "social_graph.txt": (
                "Dataset/Twitter/origin/social_graph.txt",
                "4342ea64937748d3244db351ffaa19fee41a2b3c575631fb5a96076e78e2ba47",
                True,
            ),
        },
    },
    "nlpcc2016_stance": {
        "repo": "JDwangmo/weiboStanceDetection",
        "commit": "3a5196d31c4748334330e16a819e85041a04e17d",
        "mode": "files",
        "files": {
            "evasampledata4-TaskAA.txt": (
                "version_1/train_data/evasampledata4-TaskAA.txt",
                "b47070fc0f3f0cc38771c206bfe63e502f74390ec7ba26c5c394a7dea8e7176b",
                True,
            ),
        },
    },
    "rumoureval2017": {
        "repo": "CloneNOX/MSA-BiGCN",
        "commit": "f202004b8d20e01843b8a76da78a2d2803318597",
        "mode": "files",
        "files": {
            "rumorCategory.json": (
                "datasets/semeval2017-task8/rumorCategory.json",
                "078dc4bd60247b3339126d7b5f37c8aac0fe7e6b7328bb6733343e40a80167eb",
                True,
            ),
            "stanceCategory.json": (
                "datasets/semeval2017-task8/stanceCategory.json",
                "f0c65b6b227fffbc94e910fe11a0acd8792ccb71285331829095a75588becd37",
                True,
            ),
            "traindev/post_id.txt": (
                "datasets/semeval2017-task8/traindev/post_id.txt",
                "ae782d0629c56e3ad94b05eb74876b4f1b17338079917d3ccbb4554b1090249d",
                True,
            ),
            "traindev/post_label.txt": (
                "datasets/semeval2017-task8/traindev/post_label.txt",
                "a1b0a7f8885b65b6ba42ef34725bd8c32440a58702a6c99084d89f3eb43ac457",
                True,
            ),
            "traindev/posts.json": (
                "datasets/semeval2017-task8/traindev/posts.json",
                "fa11f3e76b7df5f1d974e8f653f9fae3d1cec16702ae4d2dbc206bb2ec6e5857",
                True,
            ),
            "traindev/structures.json": (
                "datasets/semeval2017-task8/traindev/structures.json",
                "0696257052539f04bbe28bcc9b1df07bbe98a9041fedde4109d103d0a43e44c4",
                True,
            ),
            "traindev/thread_id.txt": (
                "datasets/semeval2017-task8/traindev/thread_id.txt",
                "cd32e438764b8e2f724eb62f18700d57c7bac05b13a8463b86062e9faf3d6ee6",
                True,
            ),
            "traindev/thread_label.txt": (
                "datasets/semeval2017-task8/traindev/thread_label.txt",
                "9ae668731c86ce236694d2986e997c6593d93a98e779bb75c04f0882c4d67fbd",
                True,
            ),
        },
    },
    "tweeteval": {
        "repo": "cardiffnlp/tweeteval",
        "commit": "4fbd22cd78421f05b1ecdb4fc5725bc7a7bd8f66",
        "mode": "files",
        "files": {
            "emotion/mapping.txt": (
                "datasets/emotion/mapping.txt",
                "656dea85d149716af96206ca19bec0d94e9dc6de3f5079f5c7c2a241ec76cadb",
                True,
            ),
            "emotion/train_labels.txt": (
                "datasets/emotion/train_labels.txt",
                "987e767d8679e18abdf7de37a6d2bcd0a40a296ddd704e8d515cf0e3033c8d9c",
                True,
            ),
            "emotion/train_text.txt": (
                "datasets/emotion/train_text.txt",
                "2c62f67aeb3eac1aea0e5a9c3d0f4bc337992581f3f858061786a1fb4d79d95e",
                True,
            ),
            "emotion/val_labels.txt": (
                "datasets/emotion/val_labels.txt",
                "313730630160b7e0a6b4235b800c76683f4aeeb72d094eb69646630cd5cfe338",
                True,
            ),
            "emotion/val_text.txt": (
                "datasets/emotion/val_text.txt",
                "e2e30c86b8cbb97944d6543aedc06eace3bb275cb2f381aba787b838b4f23ca5",
                True,
            ),
            "stance_climate/train_labels.txt": (
                "datasets/stance/climate/train_labels.txt",
                "d6274f55bc95f5a7f2ae591b886c1414a7664aaf4e0c609f4ba6cf377929af18",
                True,
            ),
            "stance_climate/train_text.txt": (
                "datasets/stance/climate/train_text.txt",
                "4803211832d318026323a8e5014cff1b95e1c8c3854378101e5d1a8c82582eb7",
                True,
            ),
            "stance_climate/val_labels.txt": (
                "datasets/stance/climate/val_labels.txt",
                "0cb133ab9b137292f075210db45f7e293dc52798a4e21e59037bfcfe66c97aa6",
                True,
            ),
            "stance_climate/val_text.txt": (
                "datasets/stance/climate/val_text.txt",
                "fc5714703add266801ee2fd98296ea20ec0879e89cdb9f906d9812d9f640f2ba",
                True,
            ),
            "stance_feminist/train_labels.txt": (
                "datasets/stance/feminist/train_labels.txt",
                "abd4f196d801423bb0daba8c0ecf5b3efba1f10e8f410c3dfa360b50c8b9c685",
                True,
            ),
            "stance_feminist/train_text.txt": (
                "datasets/stance/feminist/train_text.txt",
                "c176e6663973c8e78bfa92ba1e8874a70cc5358567d71584a90943bc6525eaab",
                True,
            ),
            "stance_feminist/val_labels.txt": (
                "datasets/stance/feminist/val_labels.txt",
                "399e0d468d0e4ead7a445f69efdf35876c835acf4cefc00a16f451a5d42e5c13",
                True,
            ),
            "stance_feminist/val_text.txt": (
                "datasets/stance/feminist/val_text.txt",
                "3518b2ddcf696626a7243d7cea720a975718c7a52a5a086931be87897c1de58b",
                True,
            ),
        },
    },
    "twitter15": {
        "repo": "gszswork/Twitter15_16_dataset",
        "commit": "6a33ebd91d4cafeb5a42eabc5727226fec7bb0e5",
        "mode": "archive",
        "subdir": "twitter15",
        "extra": {"README.txt": "README.txt"},
        "check": {
            "README.txt":
                "c1c7992c1b8972c0f1c857c3b86b31e018572bb9c09e3153712c4fbd89c57dde",
            "label.txt":
                "a28cc6f0dc3e3e55a65ebd08f93aa663f1646dc1492fea3b00fba76af01e3f4d",
            "tree/265953285247209472.txt":
                "10aa02fd047f823ff2f5470a121d81e5042ba8486d7d35870b3eb26884ae2d2f",
        },
    },
    # held out of the shared copy: same repository and layout as twitter15, no pinned files
    "twitter16": {
        "repo": "gszswork/Twitter15_16_dataset",
        "commit": "6a33ebd91d4cafeb5a42eabc5727226fec7bb0e5",
        "mode": "archive",
        "subdir": "twitter16",
        "extra": {"README.txt": "README.txt"},
        "check": {
        },
    },
    "twitter_gender": {
        "repo": "Huzaifa-Sajjad/Movie-Reviews",
        "commit": None,
        "mode": "files",
        "files": {
            "gender-classifier-DFE-791531.csv": (
                "gender-classifier-DFE-791531.csv",
                "80a65fab6d3b935f4fffdc4fde87e6db47324bb212670dce0b6d8c6e2ce3c670",
                False,
            ),
        },
    },
}


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file (read in 1 MiB blocks).

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> _ = p.write_bytes(b"abc")
        >>> sha256_file(p)[:16]
        'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_SOURCE = re.compile(r"^github:([^@:]+)(?:@([0-9a-fA-F]{7,40}))?:(.+?)(?:\s+\((.*)\))?$")
#: Datasets with more files than this are fetched as one archive.
ARCHIVE_THRESHOLD = 50


def registry_from_sources(sources_json: str | os.PathLike, data_dir: str | os.PathLike,
                          n_check: int = 4) -> dict[str, dict]:
    """Derive fetch entries from ``SOURCES.json`` and the local files (hashes).

    ``SOURCES.json`` maps ``shared/data/<dataset>/<path>`` to
    ``github:<owner>/<repo>@<commit>:<path>[ (note)]``; a note (``80% split``,
    ``truncated copy``) marks a file that differs from upstream, so its hash is not pinned.

    Args:
        sources_json: the ``SOURCES.json`` file.
        data_dir: the folder holding the datasets it describes (for the hashes).
        n_check: how many representative files an archive entry pins (top-level files such as
            README and label.txt first, then the first file of each sub-folder, sorted).

    Returns:
        Entries shaped like :data:`FETCH_REGISTRY`, one per dataset in ``SOURCES.json``.
    """
    data_dir = Path(data_dir)
    with open(sources_json, encoding="utf-8") as fh:
        sources = json.load(fh)
    groups: dict[str, list[tuple[str, str, str | None, str, str | None]]] = {}
    for key, value in sorted(sources.items()):
        parts = key.split("/")
        # "shared/data/<dataset>/<rest>"; tolerate keys without the "shared/data/" prefix
        if parts[:2] == ["shared", "data"]:
            parts = parts[2:]
        dataset, rel = parts[0], "/".join(parts[1:])
        m = _SOURCE.match(value)
        if not m:
            raise ValueError(f"{sources_json}: cannot parse source {value!r} for {key!r}")
        repo, commit, upath, note = m.groups()
        groups.setdefault(dataset, []).append((rel, repo, commit, upath, note))
    out: dict[str, dict] = {}
    for dataset, items in groups.items():
        repos = {(r, c) for _, r, c, _, _ in items}
        if len(repos) != 1:
            raise ValueError(f"{dataset}: files from several repositories {sorted(repos)}")
        repo, commit = next(iter(repos))
        if len(items) > ARCHIVE_THRESHOLD:
            # the upstream folder that holds the dataset folder's files
            prefixes = Counter(u[: len(u) - len(rel)].rstrip("/") for rel, _, _, u, _ in items
                               if u.endswith("/" + rel))
            if not prefixes:
                raise ValueError(f"{dataset}: files do not share one upstream folder")
            subdir = prefixes.most_common(1)[0][0]
            extra = {rel: u for rel, _, _, u, _ in items if u != f"{subdir}/{rel}"}
            rels = sorted(rel for rel, _, _, _, note in items if note is None)
            picks: list[str] = [r for r in rels if "/" not in r][: max(n_check - 1, 1)]
            seen_dirs: set[str] = set()
            for r in rels:
                d = r.rsplit("/", 1)[0] if "/" in r else ""
                if d and d not in seen_dirs and len(picks) < n_check:
                    seen_dirs.add(d)
                    picks.append(r)
            out[dataset] = {
                "repo": repo, "commit": commit, "mode": "archive",
                "subdir": subdir,
                "check": {r: sha256_file(data_dir / dataset / r) for r in picks},
            }
            if extra:
                out[dataset]["extra"] = extra
        else:
            out[dataset] = {
                "repo": repo, "commit": commit, "mode": "files",
                "files": {
                    rel: (upath, sha256_file(data_dir / dataset / rel), note is None)
                    for rel, _, _, upath, note in items
                },
            }
    return out


def _ref(entry: dict) -> str:
    return entry.get("commit") or "HEAD"


def file_url(entry: dict, upstream_path: str, base_url: str | None = None) -> str:
    """URL of one upstream file (``raw.githubusercontent.com`` or a mirror laid out alike)."""
    base = (base_url or "https://raw.githubusercontent.com").rstrip("/")
    return f"{base}/{entry['repo']}/{_ref(entry)}/{upstream_path}"


def archive_url(entry: dict, base_url: str | None = None) -> str:
    """URL of the zip archive of ``repo@commit`` (GitHub, or a mirror laid out alike)."""
    base = (base_url or "https://github.com").rstrip("/")
    return f"{base}/{entry['repo']}/archive/{_ref(entry)}.zip"


def _check(folder: Path, check: dict[str, str]) -> list[str]:
    """Names of the pinned files that are missing or differ."""
    bad = []
    for rel, digest in check.items():
        p = folder / rel
        if not p.is_file() or sha256_file(p) != digest:
            bad.append(rel)
    return bad


def fetch_dataset(name: str, dest: str | os.PathLike | None = None, *,
                  base_url: str | None = None, progress: bool = True) -> Path:
    """Download one dataset into ``dest/<name>`` (laid out like ``shared/data``).

    Args:
        name: a key of :data:`FETCH_REGISTRY` (``ced``, ``twitter15``, ``twitter16``,
            ``mcid_twitter``, ``rumoureval2017``, ``nlpcc2016_stance``, ``clue_emotion2020``,
            ``tweeteval``, ``twitter_gender``).
        dest: the data folder to fill (default: pooch's user cache folder for ``s3kit``).
            Pass it to :func:`s3kit.datasets.load_dataset` as ``data_dir`` afterwards.
        base_url: a mirror laid out like GitHub (``<base>/<owner>/<repo>/<commit>/<path>`` and
            ``<base>/<owner>/<repo>/archive/<commit>.zip``); default: ``$S3KIT_FETCH_MIRROR``,
            else GitHub itself.
        progress: show download progress bars.

    Returns:
        The dataset folder ``dest/<name>``.

    Raises:
        ValueError: unknown name, or a downloaded file whose SHA-256 does not match.

    Examples:
        >>> sorted(FETCH_REGISTRY)[:3]
        ['ced', 'clue_emotion2020', 'mcid_twitter']
    """
    import pooch  # light, but only needed here

    if name not in FETCH_REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(FETCH_REGISTRY)}")
    entry = FETCH_REGISTRY[name]
    base_url = base_url or os.environ.get("S3KIT_FETCH_MIRROR") or None
    dest = Path(dest) if dest is not None else Path(pooch.os_cache("s3kit"))
    target = dest / name
    target.mkdir(parents=True, exist_ok=True)

    if entry["mode"] == "files":
        for rel, (upstream, digest, verify) in entry["files"].items():
            local = target / rel
            pooch.retrieve(
                url=file_url(entry, upstream, base_url),
                known_hash=f"sha256:{digest}" if verify else None,
                fname=local.name, path=local.parent, progressbar=progress,
            )
        return target

    check = entry.get("check", {})
    if check and not _check(target, check) and any(target.iterdir()):
        return target  # already there and intact
    downloads = dest / ".downloads"
    zpath = Path(pooch.retrieve(url=archive_url(entry, base_url), known_hash=None,
                                fname=f"{name}-{_ref(entry)}.zip", path=downloads,
                                progressbar=progress))
    prefix = entry["subdir"].strip("/") + "/"
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
        top = names[0].split("/", 1)[0] + "/" if names else ""
        start = top + prefix
        members = {n[len(start):]: n for n in names
                   if n.startswith(start) and not n.endswith("/")}
        if not members:
            raise ValueError(f"{zpath}: no {prefix} folder inside the archive")
        available = set(names)
        for rel, upstream in entry.get("extra", {}).items():
            if top + upstream in available:  # e.g. the repository's README next to the data
                members[rel] = top + upstream
        for rel, n in members.items():
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(n) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    zpath.unlink(missing_ok=True)
    bad = _check(target, check)
    if bad:
        raise ValueError(f"{name}: SHA-256 mismatch (or missing) for {bad} after extracting "
                         f"{archive_url(entry, base_url)}")
    return target
