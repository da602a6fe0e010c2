"""How every error leaves the API: ``{"error": {"code": ..., "message": ...}}`` with a status that says who must
act. The service's own errors map through ``STATUS``; request validation, unreadable JSON, a body that is not
JSON, Starlette's 404 and 405 and a body over the size limit (``BodyLimit``) get the same shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowledge.errors import EmbedderMismatchError, IndexNotFoundError, KnowledgeBaseError, SourceError
from triage.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InputError,
    MessageTooLongError,
    NotFoundError,
    NotReadyError,
    RateLimitedError,
    StoreError,
    TriageError,
    WorkerError,
)

STATUS = [  # most specific first
    (MessageTooLongError, 413, "message_too_long"),
    (NotFoundError, 404, "not_found"),
    (InputError, 422, "invalid_input"),
    (ConflictError, 409, "conflict"),
    (RateLimitedError, 429, "rate_limited"),
    (ForbiddenError, 403, "forbidden"),
    (AuthError, 401, "unauthorized"),
    (NotReadyError, 503, "not_ready"),
    (StoreError, 503, "store_unavailable"),
    (WorkerError, 503, "worker_unavailable"),
    (SourceError, 422, "invalid_kb_source"),
    (EmbedderMismatchError, 409, "embedder_mismatch"),
    (IndexNotFoundError, 503, "no_index"),
    (KnowledgeBaseError, 500, "kb_error"),
    (TriageError, 500, "error"),
]
HTTP_CODES = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
              415: "unsupported_media_type"}
JSON_TYPE = "application/json"


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    # a lone surrogate cannot be encoded as UTF-8: never let one turn an error into a 500
    safe = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": safe}}, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


def _problem(error: dict[str, Any]) -> str:
    return f"{_field(error['loc'])}: {error['msg'].removeprefix('Value error, ')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TriageError)
    @app.exception_handler(KnowledgeBaseError)
    async def known_error(_: Request, exc: Exception) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
        for kind, status, code in STATUS:
            if isinstance(exc, kind):
                return error_response(status, code, str(exc), headers)
        return error_response(500, "error", str(exc))  # pragma: no cover - STATUS ends with the base classes

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        for e in errors:
            if e["type"] == "json_invalid":
                return error_response(422, "invalid_json", f"body: not valid JSON: {e['ctx']['error']} (at "
                                                           f"character {e['loc'][-1]})")
            if tuple(e["loc"]) == ("body",) and isinstance(e.get("input"), bytes):  # FastAPI read no JSON
                got = request.headers.get("content-type") or "none"
                return error_response(415, "unsupported_media_type",
                                      f"body: send JSON with 'Content-Type: {JSON_TYPE}' (got {got!r})")
        return error_response(422, "invalid_request", "; ".join(_problem(e) for e in errors))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; allowed: " \
                      f"{(exc.headers or {}).get('Allow', 'none')}"
        elif exc.status_code == 400:
            message = f"body: {message}; send UTF-8 JSON with 'Content-Type: {JSON_TYPE}'"
        return error_response(exc.status_code, HTTP_CODES.get(exc.status_code, "http_error"), message,
                              headers=exc.headers)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes; send less (one message at a time)")


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 without being read into memory. A declared
    Content-Length over the limit is refused at once; a body sent without one is counted as it streams in,
    and reading stops at the first byte over (the route sees ``BodyTooLarge``, answered by ``http_error``)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            exc = BodyTooLarge(self.max_bytes)
            await error_response(413, HTTP_CODES[413], str(exc.detail), {"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
