"""Fuzz every dataset loader with hypothesis: only typed errors that say where, never a hang.

Each case copies a small, valid folder of the loader's format (``tests/fixtures/datasets/mini``),
damages one file (byte-level: truncation, random bytes, random text; structure-level: a JSON
value replaced or deleted, one delimited field or line replaced) and loads the folder. The loader
must either return a dataset or raise :class:`~s3kit.errors.DataFormatError` that names a file
of the folder and the record and/or field, never the guard's "unexpected ..." safety net, never
a bare KeyError/IndexError/UnicodeError, and within a few seconds.

CI runs ``S3KIT_FUZZ_EXAMPLES`` (default 40) cases per loader; the dedicated run is::

    S3KIT_FUZZ_EXAMPLES=1000 python -m pytest -m fuzz tests/test_fuzz_loaders.py -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from _helpers import time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3kit.datasets import (
    load_ced,
    load_clue_emotion,
    load_mcid,
    load_nlpcc_stance,
    load_rumoureval,
    load_tweeteval,
    load_twitter_gender,
    load_twitter_trees,
)
from s3kit.datasets.base import SocialDataset
from s3kit.errors import DataFormatError

MINI = Path(__file__).parent / "fixtures" / "datasets" / "mini"
CI_EXAMPLES = int(os.environ.get("S3KIT_FUZZ_EXAMPLES", "40"))
FUZZ_EXAMPLES = int(os.environ.get("S3KIT_FUZZ_EXAMPLES", "1000"))
#: reproducible by default; S3KIT_FUZZ_RANDOM=1 explores new cases on every run
DERANDOMIZE = not os.environ.get("S3KIT_FUZZ_RANDOM")
TIME_LIMIT_S = 10  # per case; the mini folders load in milliseconds

LOADERS = {
    "ced": lambda p: load_ced(p, progress=False),
    "clue_emotion2020": load_clue_emotion,
    "mcid_twitter": lambda p: load_mcid(p, progress=False),
    "nlpcc2016_stance": load_nlpcc_stance,
    "rumoureval2017": load_rumoureval,
    "tweeteval": load_tweeteval,
    "twitter_gender": load_twitter_gender,
    "twitter16": lambda p: load_twitter_trees(p, progress=False),
}




def _files(name: str) -> list[Path]:
    root = MINI / name
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- mutations
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=12))
json_values = st.recursive(json_scalars,
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=6), inner,
                                                                   max_size=3)),
                           max_leaves=6)
nasty_text = st.lists(st.one_of(
    st.text(alphabet=st.sampled_from(list("abc019 \t\n\r,;:'\"[]{}()->_/\\#@\u2028\x00é月\ufeff")),
            max_size=8),
    st.sampled_from(["'ROOT'", "ROOT", "null", "NaN", "-1", "1e999", "2013-13-45 25:61:00",
                     "99月99日 99:99", "9" * 30])), max_size=5).map("".join)


def _json_paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _json_paths(v, (*prefix, i))


def _set(root, path, value, delete=False):
    if not path:
        return value
    node = root
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return root


@st.composite
def mutation(draw, raw: bytes):
    """A damaged version of ``raw`` (bytes)."""
    kind = draw(st.sampled_from(["truncate", "bytes", "text", "json", "field", "line"]))
    n = len(raw)
    if kind == "truncate":
        return raw[: draw(st.integers(0, max(0, n - 1)))]
    if kind == "bytes":
        at = draw(st.integers(0, n))
        cut = draw(st.integers(0, 8))
        return raw[:at] + draw(st.binary(min_size=1, max_size=16)) + raw[at + cut:]
    if kind == "text":
        at = draw(st.integers(0, n))
        cut = draw(st.integers(0, 8))
        return raw[:at] + draw(nasty_text).encode("utf-8") + raw[at + cut:]
    if kind == "json":
        try:
            doc = json.loads(raw.decode("utf-8-sig"))
        except ValueError:
            kind = "field"
        else:
            paths = list(_json_paths(doc))
            path = draw(st.sampled_from(paths))
            delete = bool(path) and draw(st.booleans())
            doc = _set(doc, path, draw(json_values), delete=delete)
            return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8")
    lines = raw.split(b"\n")
    i = draw(st.integers(0, max(0, len(lines) - 1)))
    if kind == "line":
        lines[i] = draw(nasty_text).encode("utf-8")
    else:  # one delimited field of one line
        line = lines[i]
        for sep in (b"\t", b"->", b",", b" ", b":"):
            if sep in line:
                parts = line.split(sep)
                j = draw(st.integers(0, len(parts) - 1))
                parts[j] = draw(nasty_text).encode("utf-8")
                lines[i] = sep.join(parts)
                break
        else:
            lines[i] = draw(nasty_text).encode("utf-8")
    return b"\n".join(lines)


@st.composite
def damaged_folder(draw, name: str):
    rel = draw(st.sampled_from(_files(name)))
    raw = (MINI / name / rel).read_bytes()
    return rel, draw(mutation(raw))


# ---------------------------------------------------------------------------- the check
def check_loader(name: str, rel: Path, data: bytes) -> str:
    """Load a damaged copy; return "ok" or "error"; fail on anything untyped or unplaced."""
    with tempfile.TemporaryDirectory(prefix="s3kit_fuzz_") as tmp:
        folder = Path(tmp) / name
        shutil.copytree(MINI / name, folder)
        (folder / rel).write_bytes(data)
        try:
            with time_limit(TIME_LIMIT_S, "loader"):
                ds = LOADERS[name](folder)
        except DataFormatError as err:
            where = Path(err.path).resolve()
            assert where == folder.resolve() or folder.resolve() in where.parents, err
            assert not err.reason.startswith("unexpected "), (
                f"{name}: the loader's safety net caught an unchecked error on {rel}: {err}")
            assert err.record is not None or err.field is not None, (
                f"{name}: error names neither record nor field: {err}")
            return "error"
        assert isinstance(ds, SocialDataset)
        return "ok"


def _fuzz(name: str, examples: int) -> dict[str, int]:
    """Run the cases; return how many loaded ("ok") and how many were refused ("error")."""
    outcomes = {"ok": 0, "error": 0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    @given(case=damaged_folder(name))
    def run(case):
        outcomes[check_loader(name, *case)] += 1

    run()
    # hypothesis replays a failing/shrunk case on top of the budget: at least `examples` ran
    assert sum(outcomes.values()) >= min(examples, 10), outcomes
    # the damage reaches the parser: some damaged folders are refused (were none refused, the
    # loader would be accepting anything, or the mutations missing the files it reads)
    assert outcomes["error"] > 0, (name, outcomes)
    return outcomes


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_loader_fuzz_ci(name):
    """A few dozen damaged folders per loader (CI)."""
    _fuzz(name, CI_EXAMPLES)


@pytest.mark.fuzz
@pytest.mark.parametrize("name", sorted(LOADERS))
def test_loader_fuzz_long(name):
    """The dedicated run: >= 1,000 damaged folders per loader."""
    _fuzz(name, FUZZ_EXAMPLES)


def test_fixture_folders_load_cleanly():
    """The undamaged folders load (else every fuzz case would be an error for a dull reason)."""
    for name, load in LOADERS.items():
        assert isinstance(load(MINI / name), SocialDataset), name


#: Files that still form a valid folder when cut in half (measured; each a judgement call):
#: a cut cascade line keeps its complete (user, time) pairs, a cut id/label/mapping file or
#: tree keeps whole lines, the gender CSV's cut row is a shorter last record.
TRUNCATION_STAYS_VALID = {
    ("mcid_twitter", "cascades.txt"),
    ("rumoureval2017", "test/thread_id.txt"),
    ("rumoureval2017", "test/thread_label.txt"),
    ("tweeteval", "emotion/mapping.txt"),
    ("twitter16", "tree/615689290706595840.txt"),
    ("twitter_gender", "gender-classifier.csv"),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_invalid_utf8_and_truncation_name_the_place(name):
    """Targeted cases: a non-UTF-8 byte is always a placed DataFormatError; a file cut in half
    is one too, except the few measured cuts that leave a valid file."""
    for rel in _files(name):
        raw = (MINI / name / rel).read_bytes()
        assert check_loader(name, rel, b"\xff\xfe\xfa" + raw) == "error", (name, rel)
        want = "ok" if (name, rel.as_posix()) in TRUNCATION_STAYS_VALID else "error"
        assert check_loader(name, rel, raw[: len(raw) // 2]) == want, (name, rel)
