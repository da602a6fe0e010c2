"""Admin routes (an ``admin`` key): API keys, reloading the knowledge base, settings and alerts."""

from __future__ import annotations

from fastapi import APIRouter, status

from triage.api.deps import AdminCaller, Service
from triage.models import ApiKeyCreated, ApiKeyIn, Id

router = APIRouter(prefix="/v1/admin", tags=["admin"])
SECRET_SETTINGS = ("api_key", "webhook_url", "database_url")


@router.post("/keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(request: ApiKeyIn, svc: Service, _: AdminCaller) -> ApiKeyCreated:
    """A new key; it is shown in this response only."""
    return ApiKeyCreated(name=request.name, role=request.role, key=svc.store.create_key(request.name, request.role))


@router.get("/keys")
def list_keys(svc: Service, _: AdminCaller) -> list[dict[str, object]]:
    return svc.store.api_keys()


@router.delete("/keys/{name}")
def revoke_key(name: Id, svc: Service, _: AdminCaller) -> dict[str, str]:
    svc.store.revoke_key(name)
    return {"status": "revoked"}


@router.post("/kb/reload")
def reload_kb(svc: Service, _: AdminCaller) -> dict[str, object]:
    """Serve the newest index snapshot; if it cannot be opened the current one keeps serving."""
    manifest = svc.reload().kb.snapshot.manifest
    return {"status": "reloaded", "counts": manifest["counts"], "created_at": manifest["created_at"]}


@router.get("/settings")
def settings(svc: Service, _: AdminCaller) -> dict[str, object]:
    """The running settings; secrets are shown only as set or not."""
    values = svc.settings.model_dump(mode="json")
    return {k: ("(set)" if v else None) if k.endswith(SECRET_SETTINGS) else v for k, v in values.items()}


@router.get("/alerts")
def alerts(svc: Service, _: AdminCaller) -> list[dict[str, object]]:
    """Team-chat alerts and whether they were delivered."""
    return svc.store.alerts()
