"""The service in its own uvicorn process on 127.0.0.1, for benchmarks and tests that need real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_service(env: dict[str, str], ready_timeout: float = 180,
                    quiet: bool = True) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start uvicorn with ``env`` on top of this process's environment; yield (base URL, process) once /readyz
    answers. Raises ``RuntimeError`` (with the server's output) if it exits or is not ready in time."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "triage.api.app:app_from_environment",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env={**os.environ, **env}, stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"the server exited with code {proc.returncode}: {output[-2000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not become ready in {ready_timeout:g} s")
            time.sleep(0.3)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
