"""Every server s3kit (or its test suite) starts listens on 127.0.0.1 only, by default.

Servers: the llama.cpp helper (``s3kit.llm.server.LlamaCppServer``), the fault proxy
(``s3kit.testing.FaultProxy``), and the JupyterLab/Voila servers of ``tests/test_browser.py``.
Listening sockets are read from ``/proc/net/tcp{,6}`` (Linux), so the check is on what the
kernel actually bound, not on what the code says.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from s3kit.testing import FaultProxy

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK4 = "0100007F"  # 127.0.0.1 in /proc/net/tcp's little-endian hex


def listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of LISTEN sockets on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                found.append(address)
    return found


def assert_loopback_only(port: int) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("platform: needs Linux /proc/net/tcp")
    addresses = listening(port)
    assert addresses, f"nothing listens on port {port}"
    assert set(addresses) == {LOOPBACK4}, f"port {port} bound to {addresses} (not 127.0.0.1)"


def test_fault_proxy_binds_loopback_and_stops_itself():
    proxy = FaultProxy("http://127.0.0.1:9/v1", deadline=1.0).start()
    try:
        assert proxy.base_url.startswith("http://127.0.0.1:")
        assert_loopback_only(proxy.port)
        proxy._threads[1].join(timeout=5)  # the deadline watchdog
        assert not proxy.running
        assert listening(proxy.port) == [], "the proxy still listens after its deadline"
    finally:
        proxy.stop()


def test_llama_server_command_binds_loopback(monkeypatch, tmp_path):
    """The helper's command line asks for 127.0.0.1 (checked without starting a model)."""
    from s3kit.llm import server as server_mod

    seen = {}

    class Stop(Exception):
        pass

    def fake_popen(cmd, *args, **kwargs):
        seen["cmd"] = cmd
        raise Stop

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(server_mod.subprocess, "Popen", fake_popen)
    srv = server_mod.LlamaCppServer(str(gguf))
    with pytest.raises(Stop):
        srv.start()
    cmd = seen["cmd"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    srv._log.close()
    Path(srv._log.name).unlink(missing_ok=True)


@pytest.mark.server
@pytest.mark.slow
def test_llama_server_listens_on_loopback_only():
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] not installed")
    from s3kit.llm.server import LlamaCppServer

    with LlamaCppServer("smollm2-135m-instruct", n_threads=1) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        assert_loopback_only(srv.port)


def test_browser_test_servers_pass_loopback_ip():
    """JupyterLab and Voila in tests/test_browser.py are told to listen on 127.0.0.1."""
    text = (ROOT / "tests" / "test_browser.py").read_text()
    assert "--ServerApp.ip=127.0.0.1" in text
    assert "--Voila.ip=127.0.0.1" in text


def test_no_wildcard_bind_anywhere():
    """No code, script or notebook of the project binds to all interfaces."""
    pattern = re.compile(r"""0\.0\.0\.0|["']::["']|--ip[= ]["']?\*|ip\s*=\s*["']\*""")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        if "node_modules" in name or not name.endswith(
                (".py", ".sh", ".ipynb", ".yaml", ".yml", ".toml", ".cfg", ".js", ".json")):
            continue
        if name == "tests/test_bind_addresses.py":
            continue
        path = ROOT / name
        if path.is_file() and pattern.search(path.read_text(errors="replace")):
            offenders.append(name)
    assert offenders == [], offenders


def test_proxy_refuses_nothing_but_serves_only_loopback_clients():
    """A client on 127.0.0.1 reaches the proxy; its address has no other interface."""
    import socket

    with FaultProxy("http://127.0.0.1:9/v1", deadline=10.0) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5):
            pass
        assert proxy._server.server_address[0] == "127.0.0.1"
    assert sys.platform != "linux" or listening(proxy.port) == []
