"""The FastAPI application: the service object, error mapping, limits, the API routers and the web pages."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from triage import __version__
from triage.api.deps import ServiceState
from triage.api.docs import add_docs
from triage.api.errors import BodyLimit, install_error_handlers
from triage.api.routes.admin import router as admin_router
from triage.api.routes.bot import router as bot_router
from triage.api.routes.gaps import router as gaps_router
from triage.api.routes.health import router as health_router
from triage.api.routes.inbox import router as inbox_router
from triage.api.routes.learned import router as learned_router
from triage.api.routes.mail import router as mail_router
from triage.api.routes.reports import router as reports_router
from triage.api.routes.triage import router as triage_router
from triage.api.routes.widget import router as widget_router
from triage.config import Settings
from triage.kb import KnowledgeBase
from triage.store import Store
from triage.web import STATIC_DIR
from triage.web.content_pages import router as content_router
from triage.web.customer_pages import router as customer_router
from triage.web.pages import router as web_router
from triage.web.security import SecurityHeaders

log = logging.getLogger("triage.api")


def create_app(settings: Settings, kb_loaded: KnowledgeBase | None = None, store: Store | None = None) -> FastAPI:
    """The service. ``kb_loaded`` skips the background load (tests); ``store`` defaults to
    ``settings.store_url``, migrated to the newest schema."""
    state = ServiceState(settings, store or Store.open(settings.store_url))
    if kb_loaded is not None:
        state.serve(state.open_pipeline(kb_loaded))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.alerts is not None:
            state.alerts.start()
        state.deliveries.start()
        if state.pipeline is None:  # load in the background: /healthz answers at once, /readyz when loaded
            threading.Thread(target=state.load, name="kb-loader", daemon=True).start()
        else:
            threading.Thread(target=state.after_load, name="inbox-loader", daemon=True).start()
        yield
        if state.alerts is not None:
            state.alerts.stop()
        state.deliveries.stop()
        state.close()

    app = FastAPI(title="CX triage", version=__version__, lifespan=lifespan,
                  description="Answers, tags and prioritises customer messages from a knowledge base.",
                  openapi_url=None, docs_url=None, redoc_url=None)  # add_docs: public or for admins only
    app.state.service = state
    add_docs(app, settings.serves_api_docs)

    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    app.include_router(health_router)
    app.include_router(triage_router)
    app.include_router(bot_router)
    app.include_router(inbox_router)
    app.include_router(admin_router)
    app.include_router(gaps_router)
    app.include_router(learned_router)
    app.include_router(reports_router)
    app.include_router(widget_router)
    app.include_router(mail_router)
    app.include_router(web_router)
    app.include_router(content_router)
    app.include_router(customer_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)  # added last, so outermost: every response gets the headers
    return app


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory triage.api.app:app_from_environment``: settings from TRIAGE_* variables."""
    from triage.config import get_settings

    return create_app(get_settings())
