"""Converters to the tidy format, on files the tests write: what maps to what, and the errors."""

from __future__ import annotations

import gzip
import json

import networkx as nx
import pandas as pd
import pytest

from s3kit.cli import main
from s3kit.datasets import load_dataset, load_tidy
from s3kit.datasets.convert import (
    convert_edgelist,
    convert_graph,
    convert_interactions,
    convert_table,
    dataset_from_frame,
    read_interactions,
)
from s3kit.datasets.validate import validate_folder
from s3kit.errors import DataFormatError


def edges(ds) -> list[tuple[str, str]]:
    return list(zip(ds.follows["follower"], ds.follows["followee"], strict=True))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_edgelist_snap_style_in_blocks(tmp_path, fmt):
    src = tmp_path / "g.txt"
    src.write_text("# Directed graph: g.txt\n# FromNodeId\tToNodeId\n1\t2\n2\t3\n\n% konect\n"
                   "3\t1\t0.5\n")
    folder = convert_edgelist(src, tmp_path / "out", format=fmt, chunk_rows=2)
    ds = load_dataset(str(folder))
    assert edges(ds) == [("1", "2"), ("2", "3"), ("3", "1")]
    assert sorted(ds.users["user_id"]) == ["1", "2", "3"] and ds.posts.empty
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["tables"]["follows"]["rows"] == 3 and "no posts" in meta["notes"][0]
    assert validate_folder(folder) == []


def test_edgelist_gzip_comma_reverse_undirected(tmp_path):
    src = tmp_path / "g.csv.gz"
    with gzip.open(src, "wt") as fh:
        fh.write("a,b\nb , c\n")
    assert edges(load_tidy(convert_edgelist(src, tmp_path / "r", reverse=True))) == [
        ("b", "a"), ("c", "b")]
    assert sorted(edges(load_tidy(convert_edgelist(src, tmp_path / "u", undirected=True)))) == [
        ("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]


def test_edgelist_error_names_the_line_and_leaves_nothing(tmp_path):
    src = tmp_path / "g.txt"
    src.write_text("1 2\n3 4\nlonely\n5 6\n")
    with pytest.raises(DataFormatError) as err:
        convert_edgelist(src, tmp_path / "out", chunk_rows=1)
    assert (err.value.record, err.value.field) == (3, "edge")
    assert not any((tmp_path / "out").glob("*follows*"))


def write_activity(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_interactions_map_retweets_replies_mentions(tmp_path):
    src = write_activity(tmp_path / "day1.txt", [
        "10 20 1341100972 MT",   # 10 mentions 20: an original post, no parent
        "30 20 1341101000 RT",   # 30 retweets 20: 20's post is not in the file -> implicit
        "40 30 1341101100 RT",   # 40 retweets 30's retweet
        "50 20 1341101200 RE",   # 50 replies to 20 (the same implicit post)
    ])
    ds = read_interactions(src)
    p = ds.posts.set_index("post_id")
    assert p["kind"].tolist() == ["original", "original", "repost", "repost", "reply"]
    assert p["implicit"].tolist() == [False, True, False, False, False]
    implicit = p.index[p["implicit"]][0]
    assert p.loc[implicit, "user_id"] == "20"
    rt30 = p.index[(p["user_id"] == "30")][0]
    assert p.loc[rt30, "parent_id"] == implicit
    assert p.loc[p["user_id"] == "40", "parent_id"].tolist() == [rt30]
    assert p.loc[p["user_id"] == "50", "parent_id"].tolist() == [implicit]
    assert p["text"].isna().all() and set(p["event_id"]) == {"day1"}
    assert str(p["time"].iloc[0]) == "2012-07-01 00:02:52+00:00"
    assert sorted(ds.users["user_id"]) == ["10", "20", "30", "40", "50"]
    assert ds.events["root_post_id"].tolist() == [p.index[0]]


def test_interactions_events_per_file_or_window(tmp_path):
    a = write_activity(tmp_path / "a.txt", ["1 2 0 RT", "3 2 7200 RT", "4 2 90000 RT"])
    b = write_activity(tmp_path / "b.txt", ["5 6 100 RE"])
    assert sorted(read_interactions([a, b]).events["event_id"]) == ["a", "b"]
    ds = read_interactions(a, window_hours=24)
    assert sorted(ds.events["event_id"]) == ["a:w0", "a:w1"]
    # each window has its own implicit original of user 2
    assert ds.posts.groupby("event_id")["implicit"].sum().tolist() == [1, 1]


def test_interactions_errors_and_cli(tmp_path, capsys):
    bad = write_activity(tmp_path / "bad.txt", ["1 2 0 RT", "1 2 0 FAV"])
    with pytest.raises(DataFormatError) as err:
        read_interactions(bad)
    assert (err.value.record, err.value.field) == (2, "interaction")
    good = write_activity(tmp_path / "good.txt", ["1 2 0 retweet", "3 1 60 reply"])
    graph = tmp_path / "follows.txt"
    graph.write_text("1 2\n3 1\n9 1\n")
    out = tmp_path / "folder"
    assert main(["data", "convert", "--from", "interactions", str(good), "--follows",
                 str(graph), "--format", "csv", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    ds = load_tidy(out)
    assert "9" in set(ds.users["user_id"]) and len(ds.follows) == 3
    assert validate_folder(out) == []
    assert convert_interactions(good, tmp_path / "p").joinpath("posts.parquet").is_file()


def test_graph_files_graphml_gexf_edgelist(tmp_path):
    g = nx.Graph()
    g.add_node("ann", gender="female", age=15)
    g.add_node("bob", gender="male", age=16)
    g.add_edge("ann", "bob")
    nx.write_graphml(g, tmp_path / "class.graphml")
    ds = load_tidy(convert_graph(tmp_path / "class.graphml", tmp_path / "gml"))
    assert sorted(edges(ds)) == [("ann", "bob"), ("bob", "ann")]  # undirected: both ways
    assert ds.users.set_index("user_id")["gender"].to_dict() == {"ann": "female",
                                                                  "bob": "male"}
    assert ds.users["age"].tolist() == [15, 16]
    d = nx.DiGraph([(1, 2), (2, 3)])
    nx.write_gexf(d, tmp_path / "d.gexf")
    assert edges(load_tidy(convert_graph(tmp_path / "d.gexf", tmp_path / "gexf"))) == [
        ("1", "2"), ("2", "3")]
    nx.write_edgelist(d, tmp_path / "d.edgelist", data=False)
    assert main(["data", "convert", "--from", "graph", str(tmp_path / "d.edgelist"),
                 "--reverse", "--out", str(tmp_path / "el")]) == 0
    assert edges(load_tidy(tmp_path / "el")) == [("2", "1"), ("3", "2")]


def test_graph_file_errors_are_placed(tmp_path):
    bad = tmp_path / "bad.graphml"
    bad.write_text('<?xml version="1.0"?>\n<graphml>\n<graph>\n<node id="a">\n</graphml>\n')
    with pytest.raises(DataFormatError) as err:
        convert_graph(bad, tmp_path / "out")
    assert err.value.field == "xml" and err.value.record == 5


def test_table_from_csv_with_column_flags(tmp_path):
    src = tmp_path / "export.csv"
    src.write_text("author,posted,body,id,reply_to\n"
                   "ann,2024-05-01 10:00,hello class,m1,\n"
                   "bob,2024-05-01 10:05,hi!,m2,m1\n")
    out = tmp_path / "class"
    assert main(["data", "convert", "--from", "table", str(src), "--user-col", "author",
                 "--time-col", "posted", "--text-col", "body", "--post-col", "id",
                 "--parent-col", "reply_to", "--timezone", "Europe/Paris",
                 "--out", str(out)]) == 0
    ds = load_tidy(out)
    assert ds.posts["post_id"].tolist() == ["m1", "m2"]
    assert ds.posts["parent_id"].tolist()[1] == "m1"
    assert str(ds.posts["time"][0]) == "2024-05-01 08:00:00+00:00"
    assert ds.users["user_id"].tolist() == ["ann", "bob"]
    follows = tmp_path / "friends.csv"
    follows.write_text("who,whom\nbob,ann\n")
    convert_table(follows, out, table="follows", follower_col="who", followee_col="whom")
    both = load_tidy(out)
    assert edges(both) == [("bob", "ann")] and len(both.posts) == 2
    assert validate_folder(out) == []


def test_table_errors_name_line_and_column(tmp_path):
    src = tmp_path / "export.csv"
    src.write_text("author,posted\nann,2024-05-01\nbob,next week\n")
    with pytest.raises(DataFormatError) as err:
        convert_table(src, tmp_path / "o", user_col="author", time_col="posted")
    assert (err.value.record, err.value.field) == (3, "posted")
    with pytest.raises(DataFormatError, match="no column 'who'"):
        convert_table(src, tmp_path / "o", user_col="who")
    df = pd.DataFrame({"u": ["a", ""], "t": [0, 1]})
    with pytest.raises(DataFormatError) as err:
        dataset_from_frame(df, user_col="u", time_col="t")
    assert (err.value.record, err.value.field) == (1, "u")


def test_dataframe_keeps_other_columns(tmp_path):
    df = pd.DataFrame({"u": ["a", "b"], "t": [0, 60], "likes": [3, 4]})
    ds = dataset_from_frame(df, user_col="u", time_col="t")
    assert ds.posts["likes"].tolist() == [3, 4]
    back = load_tidy(convert_table(df, tmp_path / "df", user_col="u", time_col="t"))
    assert back.posts["likes"].tolist() == [3, 4]


def test_table_parent_outside_the_table_is_kept_aside(tmp_path):
    df = pd.DataFrame({"u": ["a", "b"], "pid": ["1", "2"], "par": [None, "99"]})
    ds = dataset_from_frame(df, user_col="u", post_col="pid", parent_col="par")
    assert ds.posts["parent_id"].isna().all() and ds.posts["parent_ref"].tolist()[1] == "99"
    dup = pd.DataFrame({"u": ["a", "b"], "pid": ["1", "1"]})
    with pytest.raises(DataFormatError, match="duplicate post id") as err:
        dataset_from_frame(dup, user_col="u", post_col="pid")
    assert (err.value.record, err.value.field) == (1, "pid")
