"""Biological registries from offline sources (`from lamin_core import bionty as bt`), on both backends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import lamin_core as ln
from lamin_core import bionty as bt
from lamin_core.errors import ValidationError


@pytest.fixture
def artifact(instance, tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(path)
    return ln.Artifact(str(path), key="my_datasets/data.csv").save()


def test_tutorial_cell_type_annotation(artifact):
    cell_type = bt.CellType.from_source(name="effector T cell").save()
    assert cell_type.ontology_id == "CL:0000911"
    assert "effector T-cell" in cell_type.synonyms.split("|")
    assert cell_type.source.name == "cl" and cell_type.source.entity == "bionty.CellType"
    artifact.cell_types.add(cell_type)
    df = ln.Artifact.filter(cell_types=cell_type).to_dataframe()
    assert df["key"].tolist() == ["my_datasets/data.csv"]
    assert artifact.cell_types.to_list("name") == ["effector T cell"]
    artifact.cell_types.remove(cell_type)
    assert ln.Artifact.filter(cell_types=cell_type).count() == 0
    # the same term again is the saved record, not a duplicate
    assert bt.CellType.from_source(ontology_id="CL:0000911").id == cell_type.id
    assert bt.CellType(name="effector T cell").id == cell_type.id


def test_tutorial_features_with_bionty_dtypes(instance):
    assert ln.Feature(name="cell_type_by_model", dtype=bt.CellType).save().dtype == "cat[bionty.CellType]"
    oid = ln.Feature(name="assay_oid", dtype=bt.ExperimentalFactor.ontology_id).save()
    assert oid.dtype == "cat[bionty.ExperimentalFactor.ontology_id]"
    assay = bt.ExperimentalFactor.from_values(["EFO:0008913"], field=bt.ExperimentalFactor.ontology_id, mute=True)
    assert [a.name for a in assay] == ["single-cell RNA sequencing"] and assay[0].id is None


def test_public_search_ranks_exact_then_synonym_then_typo(instance):
    ontology = bt.CellType.public()
    assert ontology.version == max(ontology.spec.version for _ in [0]) and len(ontology) > 3000
    top = ontology.search("gamma-delta T cell").head(2)
    assert top.index[0] == "CL:0000798" and top["name"].iloc[0] == "gamma-delta T cell"
    assert ontology.search("nerve cell").iloc[0]["name"] == "neuron"  # an exact synonym beats names containing it
    assert ontology.search("gama-delta T cel").index[0] == "CL:0000798"  # typos
    assert ontology.search("B celll")["name"].iloc[0] == "B cell"
    assert ontology.lookup().effector_t_cell.ontology_id == "CL:0000911"
    assert ontology.to_dataframe().loc["CL:0000540", "name"] == "neuron"
    assert ontology.validate(["T cell", "T-cell"]).tolist() == [True, False]
    assert ontology.standardize(["T-cell", "nerve cell", "unknown"]) == ["T cell", "neuron", "unknown"]


def test_from_source_unknown_name_fails_with_suggestions(instance):
    with pytest.raises(ValidationError, match=r"'B celll' is not a name in cl .*did you mean 'B cell'"):
        bt.CellType.from_source(name="B celll")
    with pytest.raises(ValidationError, match="not a name"):
        bt.CellType.from_source(name="zzzz qqqq")


def test_hierarchy_and_custom_records(instance):
    neuron = bt.CellType.from_source(name="neuron").save()
    # the ancestors were saved from the source with their links
    ancestors = set(neuron.query_parents().to_list("name"))
    assert {"neural cell", "cell"} <= ancestors
    new_cell_state = bt.CellType(name="my neuron cell state", description="explains X").save()
    assert new_cell_state.ontology_id is None
    new_cell_state.parents.add(neuron)
    new_cell_state.parents.add(neuron)  # twice: one link
    assert new_cell_state.parents.to_list("name") == ["neuron"]
    assert "my neuron cell state" in neuron.children.to_list("name")
    assert "my neuron cell state" in neuron.query_children().to_list("name")
    assert bt.CellType.filter(parents=neuron).to_list("name") == ["my neuron cell state"]
    text = str(new_cell_state.view_parents(distance=2))
    lines = text.splitlines()
    assert lines[0] == "my neuron cell state" and "neuron (CL:0000540)" in lines[1]
    assert any("neural cell" in line for line in lines[2:]) and "cell (CL:0000000)" not in text  # 3 levels up
    new_cell_state.parents.remove(neuron)
    assert len(new_cell_state.parents) == 0
    with pytest.raises(ValidationError, match="own"):
        neuron.parents.add(neuron)
    plain = bt.CellType.from_source(name="B cell").save(parents=False)
    assert plain.query_parents().count() == 0


def test_validate_inspect_standardize_against_registry_and_source(instance):
    bt.CellType.from_values(["T cell", "B cell"]).save()
    values = ["T cell", "B cell", "T-cell", "neuron", "not a cell", "T cell"]
    assert bt.CellType.validate(values, field="name").tolist() == [True, True, False, False, False, True]
    result = bt.CellType.inspect(values)
    assert result.validated == ["T cell", "B cell"]
    assert result.synonyms_mapper == {"T-cell": "T cell", "neuron": "neuron"} or result.synonyms_mapper == {"T-cell": "T cell"}
    assert result.in_source == ["neuron"]
    assert bt.CellType.standardize(["T-cell", "b-lymphocyte", "nerve cell"]) == ["T cell", "B cell", "neuron"]
    # from_values: saved records, then unsaved ones from the source, unknowns left out (the validation contract)
    records = bt.CellType.from_values(["T cell", "neuron", "not a cell"], mute=True)
    assert [(r.name, r.id is not None) for r in records] == [("T cell", True), ("neuron", False)]
    made = bt.CellType.from_values(["not a cell"], create=True, mute=True)
    assert made[0].name == "not a cell" and made[0].ontology_id is None


def test_genes_by_ensembl_id_and_symbol(instance):
    ids = ["ENSG00000153563", "ENSG00000010610", "ENSG00000170458", "ENSG00000004468"]
    genes = bt.Gene.from_values(ids, field=bt.Gene.ensembl_gene_id)
    assert [g.symbol for g in genes] == ["CD8A", "CD4", "CD14", "CD38"]
    genes.save()
    assert genes[0].organism.name == "human" and genes[0].organism.ontology_id == "NCBITaxon:9606"
    assert bt.Gene.validate(ids + ["ENSG00000000000"], field=bt.Gene.ensembl_gene_id).tolist() == [True] * 4 + [False]
    # an outdated symbol maps to the current one
    assert bt.Gene.standardize(["CD8", "CD4"]) == ["CD8A", "CD4"]
    mouse = bt.Gene.public(organism="mouse")
    assert mouse.validate(["Cd8a", "CD8A"], field="symbol").tolist() == [True, False]
    assert bt.Gene.from_values(["ENSMUSG00000053977"], field="ensembl_gene_id", mute=True)[0].symbol == "Cd8a"
    schema = ln.Schema(itype=bt.Gene.ensembl_gene_id, dtype=int)
    assert schema.itype == "bionty.Gene.ensembl_gene_id"


def test_sources_versions_and_a_users_obo_file(instance, tmp_path):
    versions = bt.CellType.public().spec
    old = bt.CellType.public(version="v2025-02-13")
    assert old.version == "v2025-02-13" and versions.version != old.version
    with pytest.raises(ValidationError, match="not shipped"):
        bt.CellType.public(version="v1999")
    obo = tmp_path / "mine.obo"
    obo.write_text(textwrap.dedent("""\
        format-version: 1.2
        ontology: mine

        [Term]
        id: MINE:0001
        name: root cell
        synonym: "origin cell" EXACT []

        [Term]
        id: MINE:0002
        name: leaf cell
        def: "A cell below the root." []
        is_a: MINE:0001
        """))
    source = bt.Source(entity="bionty.CellType", organism="all", name="mine", version="1", url=str(obo)).save()
    source.set_as_currently_used()
    assert bt.CellType.public().source == "mine"
    leaf = bt.CellType.from_source(name="leaf cell").save()
    assert leaf.source.name == "mine" and leaf.parents.to_list("ontology_id") == ["MINE:0001"]
    assert bt.CellType.standardize(["origin cell"]) == ["root cell"]


def test_ontologies_of_every_registry(instance):
    assert bt.Tissue.from_source(ontology_id="UBERON:0002048").name == "lung"
    assert bt.Disease.from_source(name="Alzheimer disease").ontology_id.startswith("MONDO:")
    assert bt.Phenotype.from_source(name="female").ontology_id == "PATO:0000383"
    assert bt.DevelopmentalStage.public(organism="mouse").source == "mmusdv"
    assert bt.DevelopmentalStage.from_source(name="adult stage", organism="human").ontology_id.startswith("HsapDv:")
    assert bt.Ethnicity.public().source == "hancestro"
    assert bt.CellLine.from_source(name="HEK293").ontology_id.startswith("CVCL_")
    assert bt.Organism.from_source(name="mouse").ontology_id == "NCBITaxon:10090"


def test_works_with_no_network(tmp_path):
    """A fresh process with no network: `unshare -n` (a namespace without interfaces) when root can make one,
    else sockets whose connect() fails. SQLite only: PostgreSQL is reached over a socket."""
    script = textwrap.dedent("""
        import socket, sys, tempfile
        if sys.argv[1] == "patch":
            def refuse(*a, **k):
                raise OSError("network disabled in this test")
            socket.socket.connect = socket.socket.connect_ex = refuse
            socket.create_connection = socket.getaddrinfo = refuse
        from lamin_core import bionty as bt
        from lamin_core.setup import init
        init(storage=tempfile.mkdtemp(), name="offline")
        ct = bt.CellType.from_source(name="effector T cell").save()
        hits = bt.CellType.public().search("gamma-delta T cell")
        genes = bt.Gene.from_values(["ENSG00000153563"], field="ensembl_gene_id")
        print(ct.ontology_id, hits.index[0], genes[0].symbol)
    """)
    env = {**os.environ, "LAMIN_HOME": str(tmp_path / "offline_home")}
    env.pop("LAMIN_INSTANCE", None)
    unshare = shutil.which("unshare")
    isolated = unshare is not None and os.geteuid() == 0 and subprocess.run([unshare, "-n", "true"]).returncode == 0
    cmd = [unshare, "-n", sys.executable, "-c", script, "unshare"] if isolated else [sys.executable, "-c", script, "patch"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["CL:0000911", "CL:0000798", "CD8A"]


def test_missing_source_package_names_the_extra(instance, tmp_path):
    script = textwrap.dedent("""
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == "cellxgene_ontology_guide" else real(name, *a)
        from lamin_core import bionty as bt
        try:
            bt.CellType.public()
        except Exception as e:
            print(type(e).__name__, e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "pip install 'lamin-core[bionty]'" in out.stdout, out.stdout + out.stderr
