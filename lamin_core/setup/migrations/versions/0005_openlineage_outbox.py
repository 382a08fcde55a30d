"""openlineage outbox: events waiting for live forwarding (openlineage_outbox) and the forwarder's state
(openlineage_forwarding)

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEW_TABLES = ("openlineage_outbox", "openlineage_forwarding")


def upgrade() -> None:
    # the tables as the models declare them at this revision; a later change to them gets its own migration
    from lamin_core.setup.schema import create_declared_tables

    bind = op.get_bind()
    create_declared_tables(bind, NEW_TABLES)

def downgrade() -> None:
    for name in reversed(NEW_TABLES):
        op.drop_table(name)
