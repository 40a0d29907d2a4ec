"""Fixtures for the Feast repository tests: a real redis-server and an applied copy of the repository."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_address(tmp_path_factory):
    """host:port of a redis-server started for this test session (redis-server must be on PATH)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH; ./run test installs it (Debian package redis-server)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"redis-server did not listen on port {port} within 10 s")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def feast_repo(tmp_path_factory, redis_address):
    """A copy of feature-defs (features.yaml + feast_repo) on which the real `feast apply` has run."""
    root = tmp_path_factory.mktemp("feature-defs")
    shutil.copy(MODULE / "features.yaml", root / "features.yaml")
    shutil.copytree(MODULE / "feast_repo", root / "feast_repo",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    env = dict(os.environ, RECSYS_REDIS=redis_address, RECSYS_LAKE=str(root / "lake"),
               RECSYS_FEATURES=str(root / "features.yaml"))
    feast = Path(sys.executable).parent / "feast"
    result = subprocess.run([str(feast), "apply"], cwd=root / "feast_repo", env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"feast apply failed:\n{result.stdout}\n{result.stderr}"
    os.environ.update({k: env[k] for k in ("RECSYS_REDIS", "RECSYS_LAKE", "RECSYS_FEATURES")})
    return root / "feast_repo"
