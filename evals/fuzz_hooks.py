"""Schemathesis hooks for ``evals.fuzz`` (loaded through ``SCHEMATHESIS_HOOKS``): tally every response by
status, keep the first 5xx of each route with a way to reproduce it, keep the fuzzer from revoking its own
API key (``DELETE /v1/admin/keys/{name}`` is still fuzzed, with any other name), and give the widget's routes
their own key and a customer session's token (with a random one they would only ever answer 401), their long
poll not held."""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import Counter
from typing import Any

import schemathesis

TALLY_ENV = "TRIAGE_FUZZ_TALLY"  # where the tally is written when the run ends
KEY_NAME_ENV = "TRIAGE_FUZZ_KEY_NAME"  # the fuzzer's own key
WIDGET_KEY_ENV, WIDGET_SESSION_ENV = "TRIAGE_FUZZ_WIDGET_KEY", "TRIAGE_FUZZ_WIDGET_SESSION"
WIDGET_PATHS = "/v1/widget/"
SPARED = "fuzz-spared-name"

_lock = threading.Lock()
_statuses: Counter[int] = Counter()
_server_errors: dict[str, dict[str, Any]] = {}
_server_error_count = 0


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.method.upper() == "DELETE" and (case.path_parameters or {}).get("name") == os.environ.get(KEY_NAME_ENV):
        case.path_parameters["name"] = SPARED
    if case.path.startswith(WIDGET_PATHS) and os.environ.get(WIDGET_KEY_ENV):
        case.path_parameters = {**(case.path_parameters or {}), "key": os.environ[WIDGET_KEY_ENV]}
        case.headers = {**(case.headers or {}), "x-widget-session": os.environ[WIDGET_SESSION_ENV]}
        if case.path.endswith("/turns"):
            case.query = {**(case.query or {}), "wait": 0}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    global _server_error_count
    status = int(response.status_code)
    with _lock:
        _statuses[status] += 1
        if status >= 500:
            _server_error_count += 1
            route = f"{case.method.upper()} {case.path}"
            _server_errors.setdefault(route, {"route": route, "status": status, "response": response.text[:500],
                                              "curl": case.as_curl_command(headers={"Authorization": "Bearer $KEY"})})


def _write() -> None:
    path = os.environ.get(TALLY_ENV)
    if not path:
        return
    with _lock:
        tally = {"requests": sum(_statuses.values()), "server_errors": _server_error_count,
                 "statuses": {str(k): v for k, v in sorted(_statuses.items())},
                 "first_server_error_per_route": list(_server_errors.values())}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tally, f, indent=2, ensure_ascii=True)


atexit.register(_write)
