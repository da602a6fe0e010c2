"""The API's documentation: the OpenAPI schema at /openapi.json, Swagger UI at /docs and ReDoc at /redoc.

With ``Settings.serves_api_docs`` (``TRIAGE_API_DOCS``; on for the demo KB, off otherwise) all three are public.
Without it /docs and /redoc are not served and /openapi.json answers an admin key only (schema tools such as
schemathesis send it as a header). The two documentation pages load their script from cdn.jsdelivr.net, so they
get their own Content-Security-Policy: that CDN and FastAPI's inline start-up script (by its hash), nothing else."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from triage.api.auth import require

SCHEMA_URL = "/openapi.json"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
DOCS_CSP = ("default-src 'self'; script-src 'self' https://cdn.jsdelivr.net {scripts}; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
            "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'")


def add_docs(app: FastAPI, public: bool) -> None:
    """The schema route, and the documentation pages when ``public`` (``app`` is made with no docs URLs)."""

    def schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    def swagger_ui() -> HTMLResponse:
        return _with_csp(get_swagger_ui_html(openapi_url=SCHEMA_URL, title=f"{app.title} - Swagger UI"))

    def redoc() -> HTMLResponse:
        return _with_csp(get_redoc_html(openapi_url=SCHEMA_URL, title=f"{app.title} - ReDoc"))

    if not public:
        app.get(SCHEMA_URL, include_in_schema=False, dependencies=[Depends(require("admin"))])(schema)
        return
    app.get(SCHEMA_URL, include_in_schema=False)(schema)
    app.get("/docs", include_in_schema=False)(swagger_ui)
    app.get("/redoc", include_in_schema=False)(redoc)


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
                      for script in INLINE_SCRIPT.findall(bytes(page.body).decode()))
    page.headers["Content-Security-Policy"] = DOCS_CSP.format(scripts=hashes)
    return page
