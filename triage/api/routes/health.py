"""Health routes (no key): the process is up; the service is ready to answer."""

from __future__ import annotations

from fastapi import APIRouter

from triage.api.deps import Service

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(svc: Service) -> dict[str, object]:
    """The knowledge base is loaded (by the message worker too) and the store answers (503 ``not_ready`` or
    ``store_unavailable``)."""
    pipeline = svc.check_ready()
    svc.store.ping()
    manifest = pipeline.kb.snapshot.manifest
    return {"status": "ready", "embedder": manifest["embedder"]["name"], "counts": manifest["counts"],
            "created_at": manifest["created_at"], "calibrated": pipeline.kb.calibrated,
            "store": svc.store.engine.dialect.name}
