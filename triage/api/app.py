"""The FastAPI application: routes, error mapping, and the knowledge base loaded once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from knowledge.errors import EmbedderMismatchError, IndexNotFoundError, KnowledgeBaseError, SourceError
from triage import __version__
from triage.config import Settings
from triage.errors import InputError, MessageTooLongError, NotReadyError, TriageError
from triage.kb import KnowledgeBase
from triage.models import BotAnswerRequest, Message, TagCorrection, TriageResult
from triage.pipeline import Pipeline

log = logging.getLogger("triage.api")


class ServiceState:
    """The loaded knowledge base and the pipeline over it; stages share one lock (the encoder is not
    re-entrant)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipeline: Pipeline | None = None
        self.load_error: str | None = None
        self.lock = threading.Lock()

    def load(self) -> None:
        try:
            self.pipeline = Pipeline.for_settings(KnowledgeBase.open(self.settings), self.settings)
            log.info("event=kb_loaded path=%s", self.pipeline.kb.snapshot.path)
        except (KnowledgeBaseError, OSError) as exc:
            self.load_error = str(exc)
            log.error("event=kb_load_failed error=%s", type(exc).__name__)

    def ready_pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise NotReadyError(self.load_error or "the knowledge base is still loading; retry shortly")
        return self.pipeline


def get_service(request: Request) -> ServiceState:
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[ServiceState, Depends(get_service)]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


STATUS = [  # most specific first
    (MessageTooLongError, 413, "message_too_long"),
    (InputError, 422, "invalid_input"),
    (NotReadyError, 503, "not_ready"),
    (SourceError, 422, "invalid_kb_source"),
    (EmbedderMismatchError, 409, "embedder_mismatch"),
    (IndexNotFoundError, 503, "no_index"),
    (KnowledgeBaseError, 500, "kb_error"),
    (TriageError, 500, "error"),
]


def create_app(settings: Settings, kb_loaded: KnowledgeBase | None = None) -> FastAPI:
    state = ServiceState(settings)
    if kb_loaded is not None:
        state.pipeline = Pipeline.for_settings(kb_loaded, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.pipeline is None:  # load in the background: /healthz answers at once, /readyz when loaded
            threading.Thread(target=state.load, name="kb-loader", daemon=True).start()
        yield

    app = FastAPI(title="CX triage", version=__version__, lifespan=lifespan,
                  description="Answers, tags and prioritises customer messages from a knowledge base.")
    app.state.service = state

    @app.exception_handler(TriageError)
    @app.exception_handler(KnowledgeBaseError)
    async def known_error(_: Request, exc: Exception) -> JSONResponse:
        for kind, status, code in STATUS:
            if isinstance(exc, kind):
                return _error(status, code, str(exc))
        return _error(500, "error", str(exc))  # pragma: no cover - STATUS ends with the base classes

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"] if p != "body") or "body"
            problems.append(f"{where}: {e['msg']}")
        return _error(422, "invalid_request", "; ".join(problems))

    def check_length(text: str) -> None:
        if len(text) > settings.max_message_chars:
            raise MessageTooLongError(f"text has {len(text)} characters; the limit is {settings.max_message_chars}"
                                      " (send the latest message, not the whole thread)")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(svc: Service) -> dict[str, object]:
        """The knowledge base is loaded and answers can be served."""
        pipeline = svc.ready_pipeline()
        manifest = pipeline.kb.snapshot.manifest
        return {"status": "ready", "embedder": manifest["embedder"]["name"], "counts": manifest["counts"],
                "created_at": manifest["created_at"], "calibrated": pipeline.kb.calibrated}

    @app.post("/v1/bot/answer", tags=["bot"], response_model=TriageResult, response_model_exclude_none=False)
    def bot_answer(request: BotAnswerRequest, svc: Service) -> TriageResult:
        """Support bot: auto-answer from the KB with citations, or hand off to a human."""
        check_length(request.text)
        pipeline = svc.ready_pipeline()
        with svc.lock:
            return pipeline.run(Message(id=request.id, text=request.text), section=request.section, draft=False)

    @app.post("/v1/triage", tags=["triage"], response_model=TriageResult)
    def triage(message: Message, svc: Service) -> TriageResult:
        """The full pipeline for one message: answer or hand-off, tag, priority, real need and a reply draft
        for an agent to review (with lint findings)."""
        check_length(message.text)
        pipeline = svc.ready_pipeline()
        with svc.lock:
            return pipeline.run(message)

    @app.post("/v1/triage/corrections", tags=["triage"], status_code=201)
    def correct_tag(correction: TagCorrection, svc: Service) -> dict[str, str]:
        """An agent fixes a message's tag: stored, and learned at once for the next prediction."""
        check_length(correction.text)
        pipeline = svc.ready_pipeline()
        with svc.lock:
            pipeline.learn_tag(correction.text, correction.tag, settings.corrections_file, correction.message_id)
        return {"status": "learned", "tag": correction.tag}

    return app


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory triage.api.app:app_from_environment``: settings from TRIAGE_* variables."""
    from triage.config import get_settings

    return create_app(get_settings())
