"""Alembic environment: runs on the connection that `lamin_core.setup.schema.upgrade` hands it."""

from alembic import context

from lamin_core.models import Base

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through lamin_core.setup.schema.upgrade(), which passes a connection")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
