"""Alembic environment: run on the connection ``triage.store.database.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from triage.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
