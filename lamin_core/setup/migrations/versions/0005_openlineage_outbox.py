"""openlineage outbox: events waiting for live forwarding (openlineage_outbox) and the forwarder's state
(openlineage_forwarding)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEW_TABLES = ("openlineage_outbox", "openlineage_forwarding")


def upgrade() -> None:
    # the tables as the models declare them at this revision; a later change to them gets its own migration
    from sqlalchemy.schema import CreateIndex, CreateTable

    from lamin_core.models import Base

    bind = op.get_bind()
    copy = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for name in NEW_TABLES:
        Base.metadata.tables[name].to_metadata(copy)
    for name in NEW_TABLES:
        table = copy.tables[name]
        bind.execute(CreateTable(table))
        for index in table.indexes:
            bind.execute(CreateIndex(index))


def downgrade() -> None:
    for name in reversed(NEW_TABLES):
        op.drop_table(name)
