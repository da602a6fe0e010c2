"""The inbox's store: SQLAlchemy 2 tables, Alembic migrations and the repository the API and pages use."""

from triage.store.repository import Decided, FaqVerdicts, Store

__all__ = ["Decided", "FaqVerdicts", "Store"]
