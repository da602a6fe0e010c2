"""Servers in their own process on 127.0.0.1, for benchmarks and tests that need real HTTP: the service under
uvicorn, or any server that answers a readiness URL."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, log_file: Path) -> None:
    """Poll ``url`` until it answers 200; ``RuntimeError`` with the log's tail if the process exits first or
    the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server (pid {proc.pid}) exited with {proc.returncode}:\n{tail(log_file)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server (pid {proc.pid}) did not answer in {timeout:g} s:\n{tail(log_file)}")
        time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop this process (never its group): terminate, then kill if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def running_service(env: dict[str, str], ready_timeout: float = 180) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The service as users start it (``triage serve``: uvicorn, and the message worker process) with ``env`` on
    top of this process's environment; yields (base URL, process) once /readyz answers. Its output goes to a
    file (a pipe nobody reads could fill up and block it)."""
    import os

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log_file = Path(tmp) / "server.log"
        with log_file.open("wb") as log:
            proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("triage")), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(proc, f"{base}/readyz", ready_timeout, log_file)
            yield base, proc
        finally:
            stop(proc)
