"""Snakemake jobs annotate what they make (wildcards, params) and validate outputs against a schema:
the real snakemake command, then the registries (both backends)."""

from pathlib import Path

import pytest
from snakemake_run import run_snakemake, write_workflow

import lamin_core as ln

pytestmark = pytest.mark.slow

ANNOTATED = """
rule all:
    input: expand("results/{sample}.count", sample=["A", "B"])

rule make:
    output: "data/{sample}.txt"
    params: depth=30, kit="v2", callback=lambda wildcards: wildcards.sample
    shell: "echo sample {wildcards.sample} > {output}"

rule count:
    input: "data/{sample}.txt"
    output: "results/{sample}.count"
    params: depth=10
    shell: "cat {input} > {output}; wc -c < {input} >> {output}"
"""


def test_wildcards_and_params_annotate_runs_and_outputs(instance, tmp_path: Path) -> None:
    ln.Feature(name="sample", dtype=str).save()
    ln.Feature(name="depth", dtype=int).save()
    wd = write_workflow(tmp_path / "annotated", ANNOTATED)
    run_snakemake(wd, instance, "--cores", "2")

    # every output of every job with {sample} = A, whatever rule made it
    outputs_a = ln.Artifact.filter(sample="A")
    assert sorted(Path(a.key).name for a in outputs_a) == ["A.count", "A.txt"]
    assert ln.Artifact.filter(sample="B", depth=10).one().key.endswith("results/B.count")
    make_a = ln.Run.filter(sample="A", depth=30).one()
    assert make_a.name.startswith("make[sample=A]")
    assert make_a.features.get_values() == {"sample": "A", "depth": 30}
    # `existing` (default): a param with no feature ("kit") and the workflow's own values are not annotated
    assert not ln.Feature.filter(name="kit").exists() and not ln.Feature.filter(type__name="snakemake").exists()


def test_auto_creates_features_under_the_snakemake_type(instance, tmp_path: Path) -> None:
    wd = write_workflow(tmp_path / "auto", ANNOTATED)
    run_snakemake(wd, instance, "--cores", "2", "--logger-lamin-annotate", "auto")
    made = {f.name: f.dtype for f in ln.Feature.filter(type__name="snakemake")}
    assert made == {"sample": "str", "depth": "int", "kit": "str", "callback": "str"}
    assert ln.Run.filter(callback="B").one().name.startswith("make[sample=B]")  # a function param: its value for the job
    assert ln.Artifact.filter(kit="v2").count() == 2 and ln.Artifact.filter(depth=10).count() == 2


def test_none_annotates_nothing(instance, tmp_path: Path) -> None:
    ln.Feature(name="sample", dtype=str).save()
    wd = write_workflow(tmp_path / "none", ANNOTATED)
    run_snakemake(wd, instance, "--cores", "2", "--logger-lamin-annotate", "none")
    assert ln.Artifact.filter(key__endswith=".count").count() == 2
    assert ln.Artifact.filter(sample="A").count() == 0


def test_a_value_that_does_not_fit_is_reported_not_failing(instance, tmp_path: Path) -> None:
    ln.Feature(name="depth", dtype=str).save()  # params say 30: an int, not a str
    ln.Feature(name="sample", dtype=str).save()
    wd = write_workflow(tmp_path / "misfit", ANNOTATED)
    run_snakemake(wd, instance, "--cores", "2")
    assert ln.Artifact.filter(sample="A").count() == 2 and ln.Artifact.filter(depth__isnull=False).count() == 0
    make_a = ln.Run.filter(sample="A", name__startswith="make").one()
    assert make_a.status == "completed" and "depth" in make_a.report.load()


VALIDATED = """
storage lamin:
    provider="lamin"

rule all:
    input: storage.lamin(expand("lamin://tables/{sample}.csv?schema=cells", sample=["good", "bad"]))

rule table:
    output: storage.lamin("lamin://tables/{sample}.csv?schema=cells")
    params: n=lambda wildcards: "12" if wildcards.sample == "good" else "many"
    shell: "printf 'cell_type,cell_count\\\\nT cell,{params.n}\\\\n' > {output}"
"""


def test_schema_validation_fails_exactly_the_job_that_made_invalid_data(instance, tmp_path: Path) -> None:
    ln.ULabel(name="T cell").save()
    features = [ln.Feature(name="cell_type", dtype=ln.ULabel).save(), ln.Feature(name="cell_count", dtype=int).save()]
    ln.Schema(name="cells", features=features).save()
    wd = write_workflow(tmp_path / "validated", VALIDATED)
    done = run_snakemake(wd, instance, "--cores", "1", "--keep-going", expect_ok=False)

    good = ln.Artifact.get(key="tables/good.csv")
    assert good.schema.name == "cells"
    assert ln.Artifact.filter(cell_type="T cell").one().uid == good.uid  # annotated as from_dataframe(schema=) does
    assert not ln.Artifact.filter(key="tables/bad.csv").exists()  # invalid: nothing saved
    output = done.stdout + done.stderr
    assert "does not validate against schema 'cells'" in output and "cell_count" in output
    runs = {r.name.split(" #")[0]: r for r in ln.Run.filter(reference_type="snakemake_job")}
    assert runs["table[sample=good]"].status == "completed"
    bad = runs["table[sample=bad]"]
    assert bad.status == "errored" and "does not validate against schema 'cells'" in bad.report.load()
