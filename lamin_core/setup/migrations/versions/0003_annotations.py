"""annotations: ulabels, records, features, schemas, their link and feature-value tables, artifacts.schema_id,
branches.status, run_input_collections

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# parents before children: a table's foreign keys name tables created before it
NEW_TABLES = (
    "ulabels", "ulabel_parents", "records", "features", "schemas", "schema_features", "schema_components",
    "artifact_ulabels", "run_ulabels", "record_ulabels", "artifact_records", "run_records",
    "artifact_feature_values", "run_feature_values", "record_feature_values", "artifact_schemas",
    "run_input_collections",
)


def upgrade() -> None:
    # the tables as the models declare them at this revision; a later change to them gets its own migration
    from lamin_core.setup.schema import create_declared_tables

    bind = op.get_bind()
    create_declared_tables(bind, NEW_TABLES)
    op.add_column("branches", sa.Column("status", sa.String(20), nullable=False, server_default="standing"))
    if bind.dialect.name == "sqlite":
        # SQLite cannot add a constraint later, but takes a REFERENCES clause on a new nullable column
        op.execute("ALTER TABLE artifacts ADD COLUMN schema_id INTEGER REFERENCES schemas (id)")
    else:
        op.add_column("artifacts", sa.Column("schema_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_artifacts_schema_id_schemas"), "artifacts", "schemas", ["schema_id"], ["id"])


def downgrade() -> None:
    op.drop_column("artifacts", "schema_id")
    op.drop_column("branches", "status")
    for name in reversed(NEW_TABLES):
        op.drop_table(name)
