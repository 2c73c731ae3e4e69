"""Fuzz the tidy loader, the validator and every converter: typed, placed errors only.

Each case damages one file of a small valid input (the mutations of ``test_fuzz_loaders``:
truncation, random bytes, nasty text, one field or line replaced) and runs the loader or
converter. It must succeed or raise :class:`~s3kit.errors.DataFormatError` naming a file of
the input and a record and/or field, within a few seconds; the validator must never raise for
a damaged tidy folder (it lists problems) and must report a problem whenever the loader fails.

CI runs ``S3KIT_FUZZ_EXAMPLES`` (default 40) cases per target; the dedicated run is::

    S3KIT_FUZZ_EXAMPLES=1000 python -m pytest -m fuzz tests/test_fuzz_own_data.py \
        -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from _helpers import time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_loaders import mutation

from s3kit.datasets import load_tidy
from s3kit.datasets.base import SocialDataset
from s3kit.datasets.convert import (
    convert_edgelist,
    convert_graph,
    convert_interactions,
    convert_table,
)
from s3kit.datasets.validate import validate_folder
from s3kit.errors import DataFormatError

CI_EXAMPLES = int(os.environ.get("S3KIT_FUZZ_EXAMPLES", "40"))
FUZZ_EXAMPLES = int(os.environ.get("S3KIT_FUZZ_EXAMPLES", "1000"))
DERANDOMIZE = not os.environ.get("S3KIT_FUZZ_RANDOM")
TIME_LIMIT_S = 10

TIDY = {
    "users.csv": b"user_id,gender,age,joined\nann,female,15,2024-01-02\nbob,male,16,\n",
    "follows.csv": b"follower,followee\nbob,ann\nann,bob\n",
    "posts.csv": (b'post_id,user_id,time,text,parent_id,event_id,kind,likes\n'
                  b'p1,ann,2024-05-01T08:00:00+08:00,"hello, \xe5\x90\x8c\xe5\xad\xa6\nall",,'
                  b'e1,original,3\n'
                  b'p2,bob,1714521700,RT,p1,e1,repost,0.5\n'),
    "events.csv": b"event_id,root_post_id,label,topic\ne1,p1,,school\n",
    "labels.csv": b"text,label,split,task\nso calm,calm,train,emotion\n",
    "dataset.json": json.dumps({"name": "class", "timezone": "Asia/Shanghai", "tables": {
        "users": {"dtypes": {"age": "Int64", "joined": "datetime64[ns, UTC]"}}}}).encode(),
}
EDGES = b"# SNAP edge list\n# FromNodeId\tToNodeId\n1\t2\n2\t3\n3\t1\t0.5\n"
ACTIVITY = b"1 2 1341100972 RT\n3 2 1341101000 RE\n4 1 1341101100 MT\n5 3 1341101200 RT\n"
GRAPHML = (b'<?xml version="1.0" encoding="utf-8"?>\n'
           b'<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
           b'<key id="d0" for="node" attr.name="age" attr.type="long"/>\n'
           b'<graph edgedefault="directed">\n'
           b'<node id="a"><data key="d0">15</data></node>\n<node id="b"/>\n'
           b'<edge source="a" target="b"/>\n</graph>\n</graphml>\n')
TABLE = (b"author,posted,body,id,reply_to\nann,2024-05-01 10:00,hello,m1,\n"
         b"bob,1714558000,hi,m2,m1\n")

CONVERTERS = {
    "edgelist": ("g.txt", EDGES, lambda src, out: convert_edgelist(src, out, chunk_rows=2)),
    "interactions": ("activity.txt", ACTIVITY,
                     lambda src, out: convert_interactions(src, out, window_hours=1)),
    "graph": ("class.graphml", GRAPHML, lambda src, out: convert_graph(src, out)),
    "table": ("export.csv", TABLE,
              lambda src, out: convert_table(src, out, user_col="author", time_col="posted",
                                             text_col="body", post_col="id",
                                             parent_col="reply_to")),
}


def assert_placed(err: DataFormatError, inside: Path) -> None:
    where = Path(err.path).resolve()
    assert where == inside.resolve() or inside.resolve() in where.parents, err
    assert not err.reason.startswith("unexpected "), err
    assert err.record is not None or err.field is not None, f"no record/field: {err}"


def check_tidy(rel: str, data: bytes) -> str:
    with tempfile.TemporaryDirectory(prefix="s3kit_fuzz_tidy_") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        for name, raw in TIDY.items():
            (folder / name).write_bytes(raw)
        (folder / rel).write_bytes(data)
        with time_limit(TIME_LIMIT_S, "validator"):
            problems = validate_folder(folder)
        for p in problems:
            assert p.reason and (p.record is not None or p.field is not None
                                 or "more rows" in p.reason), p
        try:
            with time_limit(TIME_LIMIT_S, "tidy loader"):
                ds = load_tidy(folder)
        except DataFormatError as err:
            assert_placed(err, folder)
            assert problems, f"the loader failed ({err}) but the validator saw nothing"
            return "error"
        assert isinstance(ds, SocialDataset)
        return "ok"


def check_converter(name: str, data: bytes) -> str:
    filename, _, convert = CONVERTERS[name]
    with tempfile.TemporaryDirectory(prefix="s3kit_fuzz_conv_") as tmp:
        src = Path(tmp) / filename
        src.write_bytes(data)
        try:
            with time_limit(TIME_LIMIT_S, name):
                folder = convert(src, Path(tmp) / "out")
        except DataFormatError as err:
            assert_placed(err, src.parent)
            return "error"
        with time_limit(TIME_LIMIT_S, "loading the converted folder"):
            assert isinstance(load_tidy(folder), SocialDataset)
            assert validate_folder(folder) == [], name
        return "ok"


@st.composite
def damaged_tidy(draw):
    rel = draw(st.sampled_from(sorted(TIDY)))
    return rel, draw(mutation(TIDY[rel]))


def _fuzz_tidy(examples: int):
    @settings(max_examples=examples, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    @given(case=damaged_tidy())
    def run(case):
        check_tidy(*case)

    run()


def _fuzz_converter(name: str, examples: int):
    @settings(max_examples=examples, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    @given(data=mutation(CONVERTERS[name][1]))
    def run(data):
        check_converter(name, data)

    run()


def test_inputs_are_valid():
    assert check_tidy("users.csv", TIDY["users.csv"]) == "ok"
    for name, (_, raw, _) in CONVERTERS.items():
        assert check_converter(name, raw) == "ok", name
    assert nx.read_graphml  # networkx is the graph reader


def test_tidy_fuzz_ci():
    _fuzz_tidy(CI_EXAMPLES)


@pytest.mark.parametrize("name", sorted(CONVERTERS))
def test_converter_fuzz_ci(name):
    _fuzz_converter(name, CI_EXAMPLES)


@pytest.mark.fuzz
def test_tidy_fuzz_long():
    """The dedicated run: >= 1,000 damaged tidy folders."""
    _fuzz_tidy(FUZZ_EXAMPLES)


@pytest.mark.fuzz
@pytest.mark.parametrize("name", sorted(CONVERTERS))
def test_converter_fuzz_long(name):
    """The dedicated run: >= 1,000 damaged inputs per converter."""
    _fuzz_converter(name, FUZZ_EXAMPLES)


@pytest.mark.parametrize("rel", sorted(TIDY))
def test_invalid_utf8_and_truncation(rel):
    raw = TIDY[rel]
    for bad in (raw[: len(raw) // 2], b"\xff\xfe\xfa" + raw, raw.replace(b"\n", b"\r", 1)):
        check_tidy(rel, bad)


def test_damaged_parquet_table_names_the_file(tmp_path):
    SocialDataset("x", follows=pd.DataFrame({"follower": ["a"], "followee": ["b"]})).to_dir(
        tmp_path)
    path = tmp_path / "follows.parquet"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataFormatError) as err:
        load_tidy(tmp_path)
    assert Path(err.value.path) == path and err.value.field == "follows"
    assert any(Path(p.file) == path for p in validate_folder(tmp_path))
