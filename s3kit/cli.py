"""The ``s3kit`` command line: thin wrappers around library calls.

Subcommands import their modules lazily so ``s3kit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser", "add_bench_parser"]


def _cmd_data_summary(args: argparse.Namespace) -> int:
    from .datasets import summarize_datasets

    table = summarize_datasets(args.data_dir, progress=not args.quiet)
    with_pd_options(lambda: print(table.to_string(index=False)))
    return 0


def _cmd_data_validate(args: argparse.Namespace) -> int:
    from .datasets.validate import validate_file, validate_folder

    if args.source_format:
        problems = validate_file(args.path, args.source_format, max_per_field=args.max_problems)
    else:
        problems = validate_folder(args.path, max_per_field=args.max_problems)
    for problem in problems:
        print(problem)
    print(f"{args.path}: {len(problems) or 'no'} problem{'s' if len(problems) != 1 else ''}",
          file=sys.stderr)
    return 1 if problems else 0


def _cmd_data_convert(args: argparse.Namespace) -> int:
    from .datasets.convert import (
        convert_edgelist,
        convert_graph,
        convert_interactions,
        convert_table,
    )

    src = args.src
    common = {"format": args.format, "name": args.name}
    if args.source_format == "edgelist":
        _one(src, "edgelist")
        folder = convert_edgelist(src[0], args.out, reverse=args.reverse,
                                  undirected=args.undirected, delimiter=args.delimiter, **common)
    elif args.source_format == "interactions":
        folder = convert_interactions(src, args.out, window_hours=args.window_hours,
                                      follows=args.follows, delimiter=args.delimiter, **common)
    elif args.source_format == "graph":
        _one(src, "graph")
        folder = convert_graph(src[0], args.out, fmt=args.graph_format, reverse=args.reverse,
                               **common)
    else:
        _one(src, "table")
        cols = {k: getattr(args, k) for k in ("user_col", "time_col", "text_col", "post_col",
                                              "parent_col", "event_col", "kind_col",
                                              "follower_col", "followee_col")
                if getattr(args, k)}
        folder = convert_table(src[0], args.out, table=args.table, timezone=args.timezone,
                               **cols, **common)
    print(f"wrote {folder} (check it with: s3kit data validate {folder})")
    return 0


def _one(src: list[str], what: str) -> None:
    from .errors import ConfigError

    if len(src) != 1:
        raise ConfigError(f"--from {what} converts one file, got {len(src)}")


def _cmd_data_make_sample(args: argparse.Namespace) -> int:
    from .sample import write_sample

    folder = write_sample(args.out) if args.out else write_sample()
    print(f"wrote sample to {folder}")
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from .datasets.fetch import FETCH_REGISTRY, fetch_dataset
    from .errors import ConfigError

    unknown = sorted(set(args.names) - set(FETCH_REGISTRY))
    if unknown:
        raise ConfigError(f"unknown dataset(s) {unknown}; known: {sorted(FETCH_REGISTRY)}")
    for name in args.names or sorted(FETCH_REGISTRY):
        folder = fetch_dataset(name, args.dest, progress=not args.quiet)
        print(f"{name}: {folder}")
    print(f"then: S3KIT_DATA_DIR={args.dest} bash scripts/test.sh (or --data-dir {args.dest})")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from .config import ReplayConfig
    from .replay import run_replay

    cfg = ReplayConfig.from_yaml(args.scenario) if args.scenario else ReplayConfig()
    overrides = dict(_parse_override(item) for item in args.set)
    if overrides:
        cfg = cfg.replace(**overrides)
    result = run_replay(cfg, out_dir=args.out, progress=not args.quiet)
    print(result.summary())
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import os

    from .llm.serve import SERVER_ENV, ModelServer

    token = os.environ.get(args.token_env) or None
    server = ModelServer(model=args.model, adapter=args.adapter, dtype=args.dtype,
                         cache=not args.no_cache, batch_size=args.batch_size, host=args.host,
                         port=args.port, token=token, allow_remote=args.allow_remote,
                         window_ms=args.window_ms, memo_mb=args.memo_mb)

    def ready(srv) -> None:
        info = srv.info()
        print(f"s3kit serve: {info.get('model')}"
              f"{' + ' + info['adapter'] if info.get('adapter') else ''} "
              f"({info.get('dtype', '?')}) listening on {srv.base_url}"
              f"{' (bearer token required)' if token else ''}", flush=True)
        print(f"kernels use it with: {SERVER_ENV}={srv.base_url} voila widgets/classroom.ipynb"
              f"{f'  (and {args.token_env} set)' if token else ''}", flush=True)

    print(f"s3kit serve: loading {args.model} ...", file=sys.stderr, flush=True)
    server.serve_forever(ready)
    return 0


def _parse_override(item: str) -> tuple[str, object]:
    """Parse ``key=value`` with the value read as YAML (``n_steps=6``, ``backend=fake``)."""
    import yaml

    from .errors import ConfigError

    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set expects key=value, got {item!r}")
    return key.strip(), yaml.safe_load(value)


def with_pd_options(fn):
    """Run ``fn`` with wide pandas printing (tables should not wrap in a terminal)."""
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return fn()


def _task_list(value: str) -> list[str]:
    """``--tasks a,b``: the names, each a known task (else argparse's one-line error, exit 2)."""
    from .evaluation.tasks import TASKS

    tasks = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise argparse.ArgumentTypeError(
            f"unknown task(s) {unknown or [value]}; known: {','.join(TASKS)}")
    return tasks


def add_bench_parser(subparsers) -> None:
    """Register ``s3kit bench`` on an argparse sub-parser set.

    Examples:
        >>> p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="command")
        >>> add_bench_parser(sub)
        >>> a = p.parse_args(["bench", "--train-dir", "d", "--out", "r.json", "--quick"])
        >>> (a.train_dir, a.eval_dir, a.quick, a.backend)
        ('d', None, True, 'embedded')
    """
    from .evaluation.tasks import TASKS

    p = subparsers.add_parser("bench", help="benchmark against real behaviour (docs/evaluation.md)",
                              description="Run the s3kit benchmark and write results JSON.")
    p.add_argument("--train-dir", required=True,
                   help="folder laid out like shared/data, or a tidy folder: fit/tune on it")
    p.add_argument("--eval-dir", default=None,
                   help="folder to evaluate on, same kinds (default: a deterministic "
                        "validation split of --train-dir)")
    p.add_argument("--out", default="results.json", help="results JSON path")
    p.add_argument("--backend", default="embedded", choices=("embedded", "openai", "fake"),
                   help="LLM backend (fake: plumbing tests only)")
    p.add_argument("--model", default=None, help="model name (default: the backend's)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server URL")
    p.add_argument("--quick", action="store_true", help="small sizes (< 10 min on 2 cores)")
    p.add_argument("--tasks", default=None, type=_task_list,
                   help=f"comma-separated subset of: {','.join(TASKS)}")
    p.add_argument("--seed", type=int, default=0, help="master seed")
    p.add_argument("--tune", type=int, default=0, metavar="STEPS",
                   help="prefix-tune each label head for STEPS steps on the train dir "
                        "(embedded backend; adapters saved and reused); default 0: calibrate")
    p.add_argument("--decisions", default="auto", choices=("auto", "calibrated", "zero_shot"),
                   help="s3kit's figure from decision heads fitted on the train dir "
                        "(calibrated; default on the embedded backend) or zero-shot")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from .evaluation.bench import run_bench
    from .evaluation.schema import validate_results

    res = run_bench(args.train_dir, args.eval_dir, out=args.out, backend=args.backend,
                    quick=args.quick, progress=not args.quiet, model=args.model,
                    base_url=args.base_url, tasks=args.tasks, seed=args.seed, tune=args.tune,
                    decisions=args.decisions)
    validate_results({k: v for k, v in res.items() if k != "_raw"})
    print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="s3kit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    data = sub.add_parser("data", help="datasets: summaries, validate, convert, the sample")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    summary = data_sub.add_parser("summary", help="one line per dataset: users/posts/edges/events")
    summary.add_argument("--data-dir", default=None,
                         help="folder laid out like shared/data, or one tidy folder "
                              "(default: $S3KIT_DATA_DIR)")
    summary.add_argument("--quiet", action="store_true", help="no progress bar")
    summary.set_defaults(func=_cmd_data_summary)
    validate = data_sub.add_parser(
        "validate", help="check a data folder: one line per problem; exit 1 if any",
        description="Check a folder (tidy format or a public dataset's) without changing it. "
                    "Prints file:line: field: problem, one per line; exit 0 clean, 1 problems.")
    validate.add_argument("path", help="the folder (or a raw file with --from)")
    validate.add_argument("--from", dest="source_format", choices=("edgelist", "interactions"),
                          default=None, help="check a raw converter input file instead")
    validate.add_argument("--max-problems", type=int, default=10,
                          help="problems listed per file, field and kind (rest counted)")
    validate.set_defaults(func=_cmd_data_validate)
    convert = data_sub.add_parser(
        "convert", help="convert an export (edge list, SNAP interactions, graph, CSV) "
                        "to a tidy folder",
        description="Write a tidy folder (docs/datasets.md) from a common export format.")
    convert.add_argument("--from", dest="source_format", required=True,
                         choices=("edgelist", "interactions", "graph", "table"),
                         help="edgelist: 'a b' per line; interactions: 'userA userB time "
                              "RT|MT|RE'; graph: GraphML/GEXF/edgelist via networkx; table: "
                              "a CSV with --*-col flags")
    convert.add_argument("src", nargs="+", help="input file(s); interactions: one event each")
    convert.add_argument("--out", required=True, help="output folder")
    convert.add_argument("--format", default="parquet", choices=("parquet", "csv"))
    convert.add_argument("--name", default=None, help="dataset name (default: folder name)")
    convert.add_argument("--reverse", action="store_true",
                         help="edge 'a b' means b follows a (default: a follows b)")
    convert.add_argument("--undirected", action="store_true",
                         help="edgelist: write both directions of every edge")
    convert.add_argument("--delimiter", default=None,
                         help="field delimiter (default: comma if present, else whitespace)")
    convert.add_argument("--window-hours", type=float, default=None,
                         help="interactions: one event per time window instead of per file")
    convert.add_argument("--follows", default=None,
                         help="interactions: edge list of the follower graph (a follows b)")
    convert.add_argument("--graph-format", default=None, choices=("graphml", "gexf", "edgelist"),
                         help="graph: file format (default: from the suffix)")
    convert.add_argument("--table", default="posts", choices=("posts", "users", "follows"),
                         help="table: what one row is")
    for col, what in (("user", "user id (posts' author / users' id)"), ("time", "post time"),
                      ("text", "post text"), ("post", "post id (default: row number)"),
                      ("parent", "id of the post replied to / reposted"),
                      ("event", "event / cascade id"), ("kind", "original/repost/reply"),
                      ("follower", "follower (--table follows)"),
                      ("followee", "followee (--table follows)")):
        convert.add_argument(f"--{col}-col", default=None, help=f"table: column of the {what}")
    convert.add_argument("--timezone", default="UTC",
                         help="table: zone of times without an offset (default UTC)")
    convert.set_defaults(func=_cmd_data_convert)
    make = data_sub.add_parser("make-sample", help="regenerate the synthetic sample in data/sample")
    make.add_argument("--out", default=None, help="output folder (default: data/sample)")
    make.set_defaults(func=_cmd_data_make_sample)
    from .datasets.fetch import FETCH_REGISTRY

    fetch = data_sub.add_parser("fetch", help="download the public datasets (pinned commits, "
                                "SHA-256) into a folder laid out like shared/data")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help="datasets to fetch (default: all of "
                       + ", ".join(sorted(FETCH_REGISTRY)) + ")")
    fetch.add_argument("--dest", required=True, help="the data folder to fill")
    fetch.add_argument("--quiet", action="store_true", help="no progress bars")
    fetch.set_defaults(func=_cmd_data_fetch)

    replay = sub.add_parser("replay", help="run a population replay (the main job)")
    replay.add_argument("scenario", nargs="?", default=None,
                        help="scenario YAML (keys = ReplayConfig fields); default if omitted")
    replay.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set n_steps=6 (repeatable)")
    replay.add_argument("--out", default=None, help="output folder (default: runs/<name>)")
    replay.add_argument("--quiet", action="store_true", help="no progress bars")
    replay.set_defaults(func=_cmd_replay)

    from .llm.models import DEFAULT_MODEL
    from .llm.serve import DEFAULT_PORT, TOKEN_ENV

    serve = sub.add_parser(
        "serve", help="one model server for a class: every notebook/dashboard kernel shares it",
        description="Hold the embedded model, the embedders the calibrated heads read and the "
                    "answer cache in one process; kernels started with S3KIT_SERVER=<its URL> "
                    "use it and load no model (docs/widgets.md: how to run a class). Binds "
                    "127.0.0.1 unless --host and --allow-remote say otherwise, and then only "
                    f"with a bearer token in ${TOKEN_ENV}.")
    serve.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name or folder")
    serve.add_argument("--adapter", default=None, help="PEFT adapter of the model")
    serve.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"))
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"TCP port (default {DEFAULT_PORT}; 0: a free one)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a --host beyond this machine (a token is required too)")
    serve.add_argument("--token-env", default=TOKEN_ENV, metavar="NAME",
                       help=f"environment variable holding the bearer token (default "
                            f"{TOKEN_ENV}); when set, every request must carry it")
    serve.add_argument("--window-ms", type=float, default=5.0,
                       help="how long to wait for more requests to batch with the first")
    serve.add_argument("--batch-size", type=int, default=16,
                       help="prompts per forward pass within a merged call")
    serve.add_argument("--memo-mb", type=int, default=256,
                       help="memory for recently computed hidden states / e5 vectors")
    serve.add_argument("--no-cache", action="store_true",
                       help="no answer cache (every prompt goes to the model)")
    serve.set_defaults(func=_cmd_serve)

    add_bench_parser(sub)

    from .evaluation.calibrate import add_tune_parser

    add_tune_parser(sub)

    from .scenarios import add_scenario_parsers

    add_scenario_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``s3kit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .errors import S3kitError

    try:
        return int(args.func(args) or 0)
    except (S3kitError, FileNotFoundError) as exc:  # a user's mistake: one line, exit 2
        print(f"s3kit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
