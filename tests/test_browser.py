"""Real-browser tests: the dashboard in JupyterLab and as a Voila app, in headless Chromium.

Debian's ``chromium`` is driven by the npm package ``playwright-core`` (scripts in
``tests/browser/``; install both with ``bash .ci/browser_setup.sh``). Each test starts its own
server on 127.0.0.1 (free port, random token) on a copy of ``widgets/dashboard.ipynb`` whose
parameters select the deterministic ``fake`` backend, runs a node script, checks what it saw,
and keeps the screenshot in ``results/browser/`` (and ``$S3KIT_ARTIFACTS_DIR`` if set).

Without Chromium or the node modules the tests skip, except under CI (``CI`` set): they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("S3KIT_CHROMIUM", "/usr/bin/chromium")
RESULTS = ROOT / "results" / "browser"
PARAMS = {"backend": "fake", "n_steps": 6, "seed": 0, "generate_posts": False}

pytestmark = pytest.mark.slow


def _missing() -> list[str]:
    missing = []
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        missing.append("tests/browser/node_modules/playwright-core (npm ci in tests/browser)")
    for module in ("jupyterlab", "voila", "ipywidgets", "papermill"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"python package {module}")
    return missing


@pytest.fixture(scope="module")
def browser_ready():
    missing = _missing()
    if missing:
        msg = "browser test prerequisites missing: " + "; ".join(missing) + \
            " (run: bash .ci/browser_setup.sh)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory, browser_ready):
    """A folder with the dashboard notebook parameterised for the fake backend."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    folder = tmp_path_factory.mktemp("browser")
    nb = load_notebook_node(str(ROOT / "widgets" / "dashboard.ipynb"))
    nb = parameterize_notebook(nb, PARAMS)
    nbformat.write(nb, folder / "dashboard.ipynb")
    shutil.copyfile(ROOT / "widgets" / "voila.json", folder / "voila.json")  # s3kit template
    for sub in ("config", "data", "runtime", "workspaces"):
        (folder / ".jupyter" / sub).mkdir(parents=True)
    # no "Jupyter news?" toast over the dashboard (the server's config dir is this private one)
    labconfig = folder / ".jupyter" / "config" / "labconfig"
    labconfig.mkdir()
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    return folder


def _server_env(folder: Path, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(folder / ".jupyter" / "config"),
        "JUPYTER_RUNTIME_DIR": str(folder / ".jupyter" / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".jupyter" / "workspaces"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        "S3KIT_CACHE_DIR": str(folder / ".cache"),
        # the s3kit Voila template from this checkout (pip install puts it on the path too)
        "JUPYTER_PATH": os.pathsep.join(filter(None, [str(ROOT / "s3kit" / "widgets" / "share"),
                                                      env.get("JUPYTER_PATH")])),
    })
    env.update(extra or {})
    return env


class _Server:
    def __init__(self, cmd: list[str], folder: Path, port: int, token: str,
                 env: dict | None = None):
        self.port, self.token, self.folder = port, token, folder
        self.log = open(folder / f"server-{port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=folder, env=_server_env(folder, env),
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, path: str | None, timeout: float = 60) -> None:
        """Poll ``path`` until it answers 200 (``None``: until the port accepts connections;
        a Voila app executes its notebook on every page load, so it is not fetched here).
        """  # noqa: D205
        url = f"http://127.0.0.1:{self.port}{path}" if path else None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if url is None:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                        return
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"server on port {self.port} not ready:\n{self.tail()}")

    def tail(self, n: int = 3000) -> str:
        self.log.flush()
        return (self.folder / f"server-{self.port}.log").read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def _run_node(script: str, url: str, screenshot: Path, timeout_s: int = 150) -> dict:
    cmd = ["node", str(BROWSER_DIR / script), "--url", url, "--screenshot", str(screenshot),
           "--timeout", str(timeout_s * 1000 - 30000)]
    proc = subprocess.run(cmd, cwd=BROWSER_DIR, capture_output=True, text=True,
                          timeout=timeout_s)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result from {script}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


def _keep(screenshot: Path) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    kept = RESULTS / screenshot.name
    shutil.copyfile(screenshot, kept)
    artefacts = os.environ.get("S3KIT_ARTIFACTS_DIR")
    if artefacts:
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, Path(artefacts) / screenshot.name)
    return kept


def _check_dashboard_changed(result: dict, step: int) -> None:
    before, after = result["before"], result["after"]
    assert "step 0/6" in before["summary"], before
    assert f"step {step}/6" in after["summary"], after
    assert after["summary"] != before["summary"]
    assert before["plot"] and after["plot"] and after["plot"] != before["plot"]
    assert after["network"] and after["network"] != before["network"]
    assert after["decay"] == "0.90"
    assert "failed" not in (after["status"] or "")
    assert not result["errors"], result["errors"]


def test_dashboard_in_jupyterlab(app_dir):
    port, token = _free_port(), secrets.token_hex(16)
    server = _Server([sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
                      "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                      "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                      f"--ServerApp.root_dir={app_dir}",
                      "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                      "--LabApp.news_url=None"],
                     app_dir, port, token)
    try:
        server.wait_ready(f"/api/status?token={token}")
        shot = app_dir / "jupyterlab-dashboard.png"
        result = _run_node("lab_dashboard.js",
                           f"http://127.0.0.1:{port}/lab/tree/dashboard.ipynb?token={token}&reset",
                           shot)
        assert result["ok"], result.get("error", "") + "\n--- server log ---\n" + server.tail()
        _check_dashboard_changed(result, step=1)
        assert result["kernel_status"] == "idle"
        prompts = result["prompts"]
        assert prompts and all(p.strip("[]: ").isdigit() for p in prompts), prompts  # all ran
        assert shot.stat().st_size > 20_000
        print("screenshot:", _keep(shot), f"({result['seconds']:.1f} s in the browser)")
    finally:
        server.stop()


def test_dashboard_as_voila_app(app_dir):
    port, token = _free_port(), secrets.token_hex(16)
    server = _Server([sys.executable, "-m", "voila", "dashboard.ipynb", "--no-browser",
                      f"--port={port}", "--Voila.ip=127.0.0.1", f"--token={token}",
                      "--Voila.port_retries=0", "--show_tracebacks=True"],
                     app_dir, port, token)
    try:
        server.wait_ready(None)
        shot = app_dir / "voila-dashboard.png"
        result = _run_node("voila_dashboard.js", f"http://127.0.0.1:{port}/?token={token}", shot)
        assert result["ok"], result.get("error", "") + "\n--- server log ---\n" + server.tail()
        _check_dashboard_changed(result, step=2)
        assert result["external_requests"] == [], result["external_requests"]  # offline-safe
        assert result["console_errors"] == [], result["console_errors"]
        assert shot.stat().st_size > 20_000
        print("screenshot:", _keep(shot), f"({result['seconds']:.1f} s in the browser)")
    finally:
        server.stop()


CLASSROOM_PARAMS = {"backend": "embedded", "n_steps": 4, "seed": 0, "generate_posts": False}


def test_classroom_as_voila_app_offline_with_the_real_model(tmp_path, browser_ready):
    """The classroom app with the embedded model: live progress inside a step, a slider's
    value read back from the kernel's run, zero console errors, zero requests to other hosts.
    """  # noqa: D205
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(ROOT / "widgets" / "classroom.ipynb")),
                               CLASSROOM_PARAMS)
    nbformat.write(nb, tmp_path / "classroom.ipynb")
    shutil.copyfile(ROOT / "widgets" / "voila.json", tmp_path / "voila.json")  # as in widgets/
    for sub in ("config", "data", "runtime", "workspaces"):
        (tmp_path / ".jupyter" / sub).mkdir(parents=True)
    port, token = _free_port(), secrets.token_hex(16)
    server = _Server([sys.executable, "-m", "voila", "classroom.ipynb", "--no-browser",
                      f"--port={port}", "--Voila.ip=127.0.0.1", f"--token={token}",
                      "--Voila.port_retries=0", "--show_tracebacks=True"],
                     tmp_path, port, token,
                     env={"S3KIT_CACHE_DIR": os.environ.get("S3KIT_CACHE_DIR") or
                          str(Path.home() / ".cache" / "s3kit"), "HF_HUB_OFFLINE": "1"})
    try:
        server.wait_ready(None)
        shot = tmp_path / "voila-classroom.png"
        result = _run_node("voila_classroom.js", f"http://127.0.0.1:{port}/?token={token}",
                           shot, timeout_s=420)
        assert result["ok"], result.get("error", "") + "\n--- server log ---\n" + server.tail()
        assert result["external_requests"] == [], result["external_requests"]
        assert result["console_errors"] == [], result["console_errors"]
        assert not result["errors"], result["errors"]
        assert "emotion decay 0.90" in result["run_config"]  # the kernel's run, not the slider
        assert "embedded/" in result["run_config"]
        # the status line moved while a step ran: decisions done / to do, who is active, time
        progress = result["progress"]
        assert len(progress) >= 2, progress
        assert all("model time" in p and "active" in p for p in progress), progress
        assert "step 2/4" in result["after"]["summary"]
        assert " of 300" in result["after"]["summary"]
        print("screenshot:", _keep(shot), f"(page ready in {result['loaded_s']:.1f} s, "
              f"2 steps in {result['steps_s']:.1f} s)", *progress, sep="\n")
    finally:
        server.stop()
