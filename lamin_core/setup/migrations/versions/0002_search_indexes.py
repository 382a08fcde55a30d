"""search indexes: FTS5 trigram tables (SQLite), pg_trgm GIN indexes (PostgreSQL)

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the same function create_schema() calls, so that new and upgraded instances match; on SQLite it
    # also indexes the rows that already exist
    from lamin_core.query.search_index import create_search_indexes

    create_search_indexes(op.get_bind())


def downgrade() -> None:
    from lamin_core.query.search_index import drop_search_indexes

    drop_search_indexes(op.get_bind())
