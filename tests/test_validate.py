"""``s3kit data validate``: every planted error found with its file, line/row and field.

The folder is never modified; exit code 0 when clean, 1 with problems.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from s3kit.cli import main
from s3kit.datasets.validate import Problem, validate_file, validate_folder

CLEAN = {
    "users.csv": "user_id,age\nann,31\nbob,27\ncy,19\n",
    "follows.csv": "follower,followee\nbob,ann\ncy,ann\n",
    "posts.csv": ('post_id,user_id,time,text,parent_id,event_id,kind\n'
                  'p1,ann,2024-05-01T08:00:00+08:00,"two\nlines",,e1,original\n'
                  'p2,bob,1714521700,RT,p1,e1,repost\n'),
    "events.csv": "event_id,root_post_id,label\ne1,p1,\n",
    "labels.csv": "text,label,task\nso calm,calm,emotion\n",
    "dataset.json": json.dumps({"tables": {"users": {"dtypes": {"age": "Int64"}}}}),
}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def found(problems: list[Problem]) -> set[tuple[str, object, object]]:
    return {(Path(p.file).name, p.record, p.field) for p in problems}


def test_clean_folder_has_no_problems_and_exit_0(tmp_path, capsys):
    folder = write(tmp_path / "ok", CLEAN)
    assert validate_folder(folder) == []
    assert main(["data", "validate", str(folder)]) == 0
    assert "no problems" in capsys.readouterr().err


def test_every_planted_error_is_found_in_place(tmp_path, capsys):
    bad = dict(CLEAN)
    bad["users.csv"] = "user_id,age\nann,31\n,27\nbob,twenty\nann,40\ncy,1\n"  # 3, 4, 5
    bad["follows.csv"] = "follower,followee\nbob,ann\ncy,zed\n"  # 3: unknown users
    bad["posts.csv"] = ('post_id,user_id,time,text,parent_id,event_id,kind\n'
                        'p1,ann,2024-05-01T08:00:00+08:00,"two\nlines",,e1,original\n'
                        'p2,bob,yesterday,RT,p1,e1,repost\n'  # line 4 (row 2): time
                        'p2,bob,1714521700,RT,p9,e1,repost\n')  # line 5: dup id, parent
    bad["events.csv"] = "event_id,root_post_id,label\ne1,p7,\n"  # line 2: root post
    bad["labels.csv"] = "label,task\ncalm,emotion\n"  # no text column
    folder = write(tmp_path / "bad", bad)
    before = digest(folder)
    problems = validate_folder(folder)
    assert digest(folder) == before  # never modifies the folder
    want = {("users.csv", 3, "user_id"), ("users.csv", 4, "age"), ("users.csv", 5, "user_id"),
            ("follows.csv", 3, "followee"), ("posts.csv", 4, "time"),
            ("posts.csv", 5, "post_id"), ("posts.csv", 5, "parent_id"),
            ("events.csv", 2, "root_post_id"), ("labels.csv", None, "text")}
    assert want <= found(problems), [str(p) for p in problems]
    assert ("follows.csv", 3, "follower") not in found(problems)  # cy is a known user
    by_place = {(Path(p.file).name, p.record, p.field): p.reason for p in problems}
    assert "twenty" in by_place[("users.csv", 4, "age")]
    assert "ISO-8601" in by_place[("posts.csv", 4, "time")]
    assert "missing column" in by_place[("labels.csv", None, "text")]
    assert main(["data", "validate", str(folder)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(problems)
    assert any(line.endswith("posts.csv:4: field 'time': 'yesterday' is not an ISO-8601 time "
                             "(2024-05-01T08:00:00+08:00) or epoch seconds") for line in out)


def test_parquet_tables_report_rows(tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    pd.DataFrame({"follower": ["a", None, "c"], "followee": ["b", "a", ""]}).to_parquet(
        folder / "follows.parquet")
    assert found(validate_folder(folder)) == {("follows.parquet", "row 2", "follower"),
                                             ("follows.parquet", "row 3", "followee")}


def test_many_problems_are_capped_and_counted(tmp_path):
    rows = "".join(f"u{i},\n" for i in range(50))
    folder = write(tmp_path / "many", {"follows.csv": "follower,followee\n" + rows})
    problems = validate_folder(folder, chunk_rows=7, max_per_field=3)
    assert [p.record for p in problems[:3]] == [2, 9, 16]  # one per block, first of each
    assert "more rows with this problem" in problems[-1].reason


def test_bad_metadata_and_unknown_folders(tmp_path):
    folder = write(tmp_path / "tz", {"follows.csv": "follower,followee\na,b\n",
                                     "dataset.json": '{"timezone": "Mars/Olympus"}'})
    assert found(validate_folder(folder)) == {("dataset.json", None, "timezone")}
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("hello")
    [problem] = validate_folder(other)
    assert "not a folder in a supported format" in problem.reason
    with pytest.raises(FileNotFoundError):
        validate_folder(tmp_path / "absent")


def test_public_format_folder_is_checked_by_its_loader(tmp_path):
    mcid = tmp_path / "mcid_twitter"
    mcid.mkdir()
    (mcid / "cascades.txt").write_text("c1 1,100 2,200\nc2 3,x\n")
    (mcid / "edges.txt").write_text("1,2\n")
    assert found(validate_folder(mcid)) == {("cascades.txt", 2, "time")}
    root = os.environ.get("S3KIT_DATA_DIR")
    if root and (Path(root) / "tweeteval").is_dir():
        assert validate_folder(Path(root) / "tweeteval") == []


def test_raw_edge_list_and_interactions_stream(tmp_path, capsys):
    edges = tmp_path / "g.txt"
    edges.write_bytes(b"# SNAP\n1 2\n\n3\n4 5 0.1\n\xff 6\n")
    assert found(validate_file(edges, "edgelist")) == {("g.txt", 4, "edge"), ("g.txt", 6, "line")}
    act = tmp_path / "a.txt"
    act.write_text("1 2 1341100972 RT\n1 2 soon MT\n1 2 1341100972 LIKE\n1 2 3\n")
    assert found(validate_file(act, "interactions")) == {
        ("a.txt", 2, "timestamp"), ("a.txt", 3, "interaction"), ("a.txt", 4, "line")}
    assert main(["data", "validate", str(act), "--from", "interactions"]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_a_data_folder_checks_each_dataset(tmp_path):
    write(tmp_path / "ok", CLEAN)
    write(tmp_path / "bad", {"follows.csv": "follower,followee\na,\n"})
    assert found(validate_folder(tmp_path)) == {("follows.csv", 2, "followee")}
