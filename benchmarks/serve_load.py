"""Load test of ``s3kit serve``: N dashboard sessions stepping the same scenario at once.

    python benchmarks/serve_load.py                       # 10 sessions, 300 users, 3 steps
    python benchmarks/serve_load.py --sessions 3 --json out.json

What it does, all on 127.0.0.1:

1. writes the generated sample with ``--users`` users into a temporary folder (the scenario);
2. **reference**: one session with the model in its own process (no server), the way a
   kernel without the server runs: its frames, step times and peak RSS;
3. starts ``s3kit serve --port 0 --no-cache`` (a fresh server: nothing memoised);
4. starts ``--sessions`` session processes with ``S3KIT_SERVER`` set; each builds the
   dashboard's simulation (``s3kit.widgets.build_simulation``, the calibrated default
   decisions, ``generate_posts`` off as in the dashboards), waits until all are built, then
   steps ``--steps`` steps with a progress callback as the dashboard does;
5. reads the server's ``/v1/stats`` (requests answered per model pass, per kind) and peak RSS.

Printed: per session, time per step and peak RSS (and whether torch was imported: it must
not be); the server's peak RSS; the total RSS of server + sessions against N copies of the
reference; the batch sizes; lost sessions or steps; and whether every session's frames are
identical to the reference's. ``--json PATH`` writes every figure with the command line.
Exit status 1 when a session was lost or differs.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a checkout that is not installed
    sys.path.insert(0, str(ROOT))


def _peak_rss_mb(pid: int | str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------- one session
def session(args: argparse.Namespace) -> None:
    """One dashboard-like session: build, wait for the start signal, step, write a pickle."""
    t0 = time.perf_counter()
    from s3kit import ReplayConfig
    from s3kit.widgets import build_simulation

    cfg = ReplayConfig(dataset=args.dataset, n_steps=args.steps, seed=args.seed,
                       generate_posts=False, progress=False, llm_cache=False)
    sim = build_simulation(cfg)
    mode = sim.decision_mode
    backend = sim.active_llm.backend
    built = time.perf_counter() - t0
    if args.go:  # all sessions start stepping together
        Path(args.out + ".ready").touch()
        while not Path(args.go).exists():
            time.sleep(0.05)
    updates = [0]

    def progress(info):  # the dashboard's status line reads these while a step runs
        updates[0] += 1

    frames, step_s = [], []
    for _ in range(args.steps):
        t1 = time.perf_counter()
        frames.append(sim.step(progress=progress))
        step_s.append(time.perf_counter() - t1)
    import pandas as pd

    result = {"frames": pd.concat(frames, ignore_index=True), "step_s": step_s,
              "build_s": built, "peak_rss_mb": _peak_rss_mb(), "backend": backend,
              "decision_mode": mode, "torch_imported": "torch" in sys.modules,
              "transformers_imported": "transformers" in sys.modules,
              "progress_updates": updates[0]}
    with open(args.out, "wb") as fh:
        pickle.dump(result, fh)


def _session_cmd(dataset: str, steps: int, seed: int, out: Path, go: Path | None) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--session", "--dataset", dataset,
           "--steps", str(steps), "--seed", str(seed), "--out", str(out)]
    return cmd + (["--go", str(go)] if go is not None else [])


def _env(**extra) -> dict:
    env = dict(os.environ)
    env.pop("S3KIT_SERVER", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _read(path: Path) -> dict:
    with open(path, "rb") as fh:
        return pickle.load(fh)


# ----------------------------------------------------------------------------- the server
def start_server(log_path: Path, window_ms: float) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "s3kit", "serve", "--port", "0", "--no-cache",
           "--window-ms", str(window_ms)]
    log = open(log_path, "w+")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=_env(),
                            cwd=str(ROOT))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"s3kit serve exited {proc.returncode}: {log.read()[-2000:]}")
            continue
        if "listening on " in line:
            url = line.split("listening on ", 1)[1].split()[0]
            return proc, url
    proc.kill()
    raise RuntimeError("s3kit serve did not start within 300 s")


def _get(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


# ----------------------------------------------------------------------------- the run
def run(n_sessions: int, n_users: int, steps: int, seed: int = 0, window_ms: float = 5.0,
        reference: bool = True, timeout: float = 3600.0) -> dict:
    """The whole load test; returns every figure (see the module docstring)."""
    import pandas as pd

    from s3kit.sample import write_sample

    tmp = Path(tempfile.mkdtemp(prefix="s3kit_serve_load_"))
    dataset = str(write_sample(tmp / "sample", n_users=n_users))
    out: dict = {"sessions": n_sessions, "users": n_users, "steps": steps, "seed": seed,
                 "window_ms": window_ms}
    ref = None
    if reference:
        t0 = time.perf_counter()
        subprocess.run(_session_cmd(dataset, steps, seed, tmp / "reference.pkl", None),
                       env=_env(), check=True, timeout=timeout)
        ref = _read(tmp / "reference.pkl")
        out["reference"] = {k: ref[k] for k in ("step_s", "build_s", "peak_rss_mb", "backend",
                                                "decision_mode")}
        out["reference"]["wall_s"] = time.perf_counter() - t0
    proc, url = start_server(tmp / "server.log", window_ms)
    try:
        out["url"] = url
        go = tmp / "go"
        procs = []
        for i in range(n_sessions):
            procs.append(subprocess.Popen(
                _session_cmd(dataset, steps, seed, tmp / f"session{i}.pkl", go),
                env=_env(S3KIT_SERVER=url)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(
                (tmp / f"session{i}.pkl.ready").exists() or procs[i].poll() is not None
                for i in range(n_sessions)):
            time.sleep(0.1)
        t0 = time.perf_counter()
        go.touch()
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(timeout=max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(None)
        out["stepping_wall_s"] = time.perf_counter() - t0
        stats = _get(url + "/v1/stats")
        out["server"] = {"peak_rss_mb": _peak_rss_mb(proc.pid) or stats.get("peak_rss_mb"),
                         "batches": stats["batches"], "requests": stats["requests"]}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    sessions, lost, identical = [], [], 0
    for i, code in enumerate(codes):
        path = tmp / f"session{i}.pkl"
        if code != 0 or not path.exists():
            lost.append({"session": i, "exit": code})
            continue
        res = _read(path)
        frames = res.pop("frames")
        done = frames["step"].nunique() if len(frames) else 0
        if done != steps:
            lost.append({"session": i, "steps_done": int(done)})
        same = None
        if ref is not None:
            try:
                pd.testing.assert_frame_equal(frames, ref["frames"])
                same = True
                identical += 1
            except AssertionError:
                same = False
        sessions.append({"session": i, **res, "identical_to_reference": same})
    out["sessions_detail"] = sessions
    out["lost"] = lost
    out["identical"] = identical
    out["total_rss_mb"] = (sum(s["peak_rss_mb"] or 0 for s in sessions)
                           + (out["server"]["peak_rss_mb"] or 0))
    if ref is not None:
        out["without_server_rss_mb"] = n_sessions * (ref["peak_rss_mb"] or 0)
    return out


def report(out: dict, command: str) -> str:
    lines = [f"$ {command}",
             f"{out['sessions']} sessions x {out['steps']} steps, sample of {out['users']} "
             f"users, seed {out['seed']}, server {out.get('url')} (window {out['window_ms']} ms)"]
    ref = out.get("reference")
    if ref:
        lines.append(f"reference (model in the session's process): build {ref['build_s']:.1f} s,"
                     f" steps {', '.join(f'{s:.1f}' for s in ref['step_s'])} s, peak RSS "
                     f"{ref['peak_rss_mb']:.0f} MB ({ref['decision_mode']})")
    lines.append("session  backend  build_s  seconds per step          peak_RSS_MB  torch  "
                 "identical")
    for s in out["sessions_detail"]:
        lines.append(f"{s['session']:>7}  {s['backend']:<7}  {s['build_s']:7.1f}  "
                     f"{', '.join(f'{x:6.1f}' for x in s['step_s']):<24}  "
                     f"{s['peak_rss_mb']:11.0f}  {str(s['torch_imported']):<5}  "
                     f"{s['identical_to_reference']}")
    steps = [x for s in out["sessions_detail"] for x in s["step_s"]]
    if steps:
        per_step = [sorted(s["step_s"][k] for s in out["sessions_detail"])
                    for k in range(out["steps"])]
        lines.append("time per step per session (median over sessions): "
                     + ", ".join(f"step {k}: {v[len(v) // 2]:.1f} s"
                                 for k, v in enumerate(per_step))
                     + f"; all {out['steps']} steps of all sessions done in "
                     f"{out['stepping_wall_s']:.1f} s")
    srv = out["server"]
    lines.append(f"server peak RSS {srv['peak_rss_mb']:.0f} MB; total RSS (server + sessions) "
                 f"{out['total_rss_mb']:.0f} MB"
                 + (f" vs {out['without_server_rss_mb']:.0f} MB for {out['sessions']} sessions "
                    "each holding the model" if out.get("without_server_rss_mb") else ""))
    for kind, b in sorted(srv["batches"].items()):
        lines.append(f"server {kind}: {b['requests']} requests, {b['passes']} model passes, "
                     f"{b['memo_requests']} from the memo; requests per pass "
                     f"{b['requests_per_pass']} (max {b['max_requests']}), {b['seconds']:.1f} s "
                     "of model time")
    lines.append(f"lost: {out['lost'] or 'none'}; identical to the reference: "
                 f"{out['identical']} of {out['sessions']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--users", type=int, default=300, help="users of the generated sample")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window-ms", type=float, default=5.0)
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the in-process reference session (no identity check)")
    parser.add_argument("--json", default=None, help="write every figure here")
    # one session (internal)
    parser.add_argument("--session", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--go", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.session:
        session(args)
        return 0
    command = " ".join(["python", "benchmarks/serve_load.py",
                        *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    out = run(args.sessions, args.users, args.steps, args.seed, args.window_ms,
              reference=not args.no_reference)
    out["command"] = command
    print(report(out, command), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    bad = out["lost"] or (not args.no_reference and out["identical"] != out["sessions"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
