"""Alembic environment: runs on the engine handed over by `storage.engine.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through `guardpay db upgrade`")

with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
