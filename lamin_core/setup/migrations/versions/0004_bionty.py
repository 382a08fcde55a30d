"""bionty: sources, the ontology registries (cell types, tissues, diseases, experimental factors, phenotypes,
developmental stages, ethnicities, cell lines, organisms), genes, their hierarchies and label-link tables,
the genes of gene schemas (schema_genes)

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# parents before children: a table's foreign keys name tables created before it
NEW_TABLES = (
    "bionty_sources", "cell_lines", "cell_types", "developmental_stages", "diseases", "ethnicities",
    "experimental_factors", "organisms", "phenotypes", "tissues", "genes", "schema_genes",
    "cell_line_parents", "cell_type_parents", "developmental_stage_parents", "disease_parents", "ethnicity_parents",
    "experimental_factor_parents", "organism_parents", "phenotype_parents", "tissue_parents",
    "artifact_cell_lines", "artifact_cell_types", "artifact_developmental_stages", "artifact_diseases",
    "artifact_ethnicities", "artifact_experimental_factors", "artifact_organisms", "artifact_phenotypes",
    "artifact_tissues", "artifact_genes",
    "run_cell_lines", "run_cell_types", "run_developmental_stages", "run_diseases", "run_ethnicities",
    "run_experimental_factors", "run_organisms", "run_phenotypes", "run_tissues", "run_genes",
    "record_cell_lines", "record_cell_types", "record_developmental_stages", "record_diseases", "record_ethnicities",
    "record_experimental_factors", "record_organisms", "record_phenotypes", "record_tissues", "record_genes",
)


def upgrade() -> None:
    # the tables as the models declare them at this revision; a later change to them gets its own migration
    from lamin_core.setup.schema import create_declared_tables

    bind = op.get_bind()
    create_declared_tables(bind, NEW_TABLES)

def downgrade() -> None:
    for name in reversed(NEW_TABLES):
        op.drop_table(name)
