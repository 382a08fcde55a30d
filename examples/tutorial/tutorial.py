"""LaminDB's tutorial (`shared/spec/tutorial.md`) as a script, with `import lamin_core as ln` and
`from lamin_core import bionty as bt` where it imports lamindb and bionty. Each section is a function
that runs the tutorial's code as written; shell lines (`!lamin ...`) run the `lamin` CLI.

    python examples/tutorial/tutorial.py [--until SECTION]

It must run offline on a new instance; `tests/test_tutorial.py` runs it on SQLite and PostgreSQL.
The sections after `--until` are skipped (the test names the last section the project supports).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def sh(line: str) -> None:
    print(f"$ {line}", flush=True)
    args = line.split()
    exe = BIN / args[0]
    subprocess.run([str(exe if exe.exists() else args[0]), *args[1:]], check=True)


def track_changes(ns: dict) -> None:
    import lamin_core as ln

    ln.track()  # track the current notebook or script
    print(ln.Transform.to_dataframe())
    print(ln.Run.to_dataframe())

    # the tutorial's dropdown "How do I track a workflow" (@ln.flow, ln.Transform(key="my_pipeline")) sits in a
    # `<!-- #region -->` block, which LaminDB's docs do not execute: its dataset equals the fixed one of
    # "Make a new version", which would then be that artifact again. tests/test_flow_functions.py runs it.


def manage_artifacts(ns: dict) -> None:
    import lamin_core as ln

    df = ln.examples.datasets.mini_immuno.get_dataset1(with_typo=True)
    print(df)
    artifact = ln.Artifact.from_dataframe(df, key="my_datasets/rnaseq1.parquet").save()
    artifact.describe()
    artifact = ln.Artifact.get(key="my_datasets/rnaseq1.parquet")
    artifact.load()
    artifact.cache()
    artifact.description = "My updated description"
    artifact.save()  # persist metadata changes
    artifact.delete()  # move to trash
    artifact.restore()  # restore from trash
    print(artifact.transform)
    print(artifact.run)
    artifact.view_lineage()
    ns.update(df=df, artifact=artifact)


def annotate(ns: dict) -> None:
    import lamin_core as ln
    from lamin_core import bionty as bt

    artifact = ns["artifact"]
    # create & save a universal label
    my_experiment = ln.ULabel(name="My experiment").save()
    # annotate the artifact with a universal label
    artifact.ulabels.add(my_experiment)
    artifact.describe()
    print(ln.Artifact.filter(ulabels=my_experiment).to_dataframe())
    assert ln.Artifact.filter(ulabels=my_experiment).count() == 1

    cell_type = bt.CellType.from_source(name="effector T cell").save()
    artifact.cell_types.add(cell_type)
    artifact.describe()
    print(ln.Artifact.filter(cell_types=cell_type).to_dataframe())
    assert ln.Artifact.filter(cell_types=cell_type).count() == 1

    # update or remove annotations
    artifact.ulabels.add(my_experiment)
    artifact.cell_types.add(cell_type)
    artifact.ulabels.remove(my_experiment)
    artifact.cell_types.remove(cell_type)

    ln.Feature(name="temperature", dtype=float).save()
    ln.Feature(name="experiment", dtype=ln.ULabel).save()
    artifact.features.add_values({"temperature": 21.6, "experiment": "My experiment"})
    artifact.describe()
    assert ln.Artifact.filter(temperature=21.6).count() == 1
    artifact.features.remove_values(["temperature", "experiment"])
    ln.Feature.get(name="temperature").delete()
    ln.Feature.get(name="experiment").delete()
    print(ln.Artifact.filter(temperature=21.6).to_dataframe())  # the feature is in the trash: nothing found


def validate(ns: dict) -> None:
    import lamin_core as ln
    from lamin_core import bionty as bt

    df = ns["df"]
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="IFNG").save()
    ln.Feature(name="perturbation", dtype=ln.ULabel).save()
    ln.Feature(name="cell_type_by_model", dtype=bt.CellType).save()
    ln.Feature(name="cell_type_by_expert", dtype=bt.CellType).save()
    ln.Feature(name="assay_oid", dtype=bt.ExperimentalFactor.ontology_id).save()
    ln.Feature(name="donor", dtype=str, nullable=True).save()
    ln.Feature(name="sample_note", dtype=str, nullable=True).save()
    ln.Feature(name="concentration", dtype=str).save()
    ln.Feature(name="treatment_time_h", dtype="num", coerce=True).save()
    schema = ln.Schema(itype=ln.Feature).save()
    try:
        artifact = ln.Artifact.from_dataframe(df, key="my_datasets/rnaseq1.parquet", schema=schema)
    except ln.errors.ValidationError as error:
        print(str(error))
        assert "IFNJ" in str(error) and "IFNG" in str(error)
    else:
        raise AssertionError("the typo IFNJ validated")

    # fix the "IFNJ" typo
    df["perturbation"] = df["perturbation"].cat.rename_categories({"IFNJ": "IFNG"})
    artifact = ln.Artifact.from_dataframe(df, key="my_datasets/rnaseq1.parquet", schema=schema).save()
    artifact.describe()
    print(artifact.versions.to_dataframe())
    assert artifact.versions.count() == 2
    assert ln.Artifact.filter(perturbation="IFNG").count() == 1
    ns.update(df=df, artifact=artifact, schema=schema)


def query(ns: dict) -> None:
    import lamin_core as ln

    print(ln.Artifact.to_dataframe())
    print(ln.Artifact.to_dataframe(include="features"))
    ln.Artifact.describe()
    ln.view()
    # the tutorial's notebook is "tutorial.ipynb"; this script's key is its path in its git repository, if any
    transform = ln.Transform.get(key=ln.Transform.filter(key__endswith="tutorial.py").one().key)
    print(ln.Artifact.filter(key__startswith="my_datasets/").to_dataframe())
    artifacts = ln.Artifact.filter(transform=transform).all()
    artifacts = ln.Artifact.filter(transform__description__icontains="tutor").all()
    print(ln.Artifact.search("iris").to_dataframe().head())
    print(ln.Transform.search("tutor").to_dataframe())
    records = ln.Record.lookup()
    print(records)


def biological_registries(ns: dict) -> None:
    from lamin_core import bionty as bt

    cell_type_ontology = bt.CellType.public()
    print(cell_type_ontology)
    print(cell_type_ontology.search("gamma-delta T cell").head(2))
    neuron = bt.CellType.from_source(name="neuron").save()
    new_cell_state = bt.CellType(name="my neuron cell state", description="explains X").save()
    new_cell_state.parents.add(neuron)
    new_cell_state.view_parents(distance=2)


def anndata(ns: dict) -> None:
    import anndata as ad

    import lamin_core as ln
    from lamin_core import bionty as bt

    df, schema = ns["df"], ns["schema"]
    var_schema = ln.Schema(itype=bt.Gene.ensembl_gene_id, dtype=int).save()
    anndata_schema = ln.Schema(otype="AnnData", slots={"obs": schema, "var.T": var_schema}).save()
    adata = ad.AnnData(df.iloc[:, :3], obs=df.iloc[:, 3:-1])
    artifact = ln.Artifact.from_anndata(adata, key="my_datasets/my_rnaseq1.h5ad", schema=anndata_schema).save()
    artifact.describe()
    feature_sets = ln.Schema.filter(genes__symbol="CD8A").all()
    print(ln.Artifact.filter(feature_sets__in=feature_sets).to_dataframe())
    ns.update(artifact=artifact, anndata_schema=anndata_schema)


def collections(ns: dict) -> None:
    import anndata as ad

    import lamin_core as ln

    artifact, anndata_schema = ns["artifact"], ns["anndata_schema"]
    df2 = ln.examples.datasets.mini_immuno.get_dataset2(otype="DataFrame")
    adata = ad.AnnData(df2.iloc[:, :3], obs=df2.iloc[:, 3:-1])
    artifact2 = ln.Artifact.from_anndata(adata, key="my_datasets/my_rnaseq2.h5ad", schema=anndata_schema).save()
    collection = ln.Collection([artifact, artifact2], key="my-RNA-seq-collection").save()
    collection.describe()
    collection.view_lineage()
    collection.load()
    collection.ordered_artifacts.all()
    print(collection.ordered_artifacts.to_dataframe())


SECTIONS = {
    "track": track_changes,
    "artifacts": manage_artifacts,
    "annotate": annotate,
    "validate": validate,
    "query": query,
    "bionty": biological_registries,
    "anndata": anndata,
    "collections": collections,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--until", choices=list(SECTIONS), default=list(SECTIONS)[-1])
    parser.add_argument("--storage", default="./lamindb-tutorial")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL; default: SQLite in the storage folder")
    args = parser.parse_args()
    init = f"lamin init --storage {args.storage} --modules bionty" + (f" --db {args.db}" if args.db else "")
    sh(init)
    ns: dict = {}
    for name, section in SECTIONS.items():
        print(f"\n## {name}", flush=True)
        section(ns)
        if name == args.until:
            break
    import lamin_core as ln

    ln.finish()
    print("\ntutorial: all sections up to", args.until, "ran")


if __name__ == "__main__":
    main()
