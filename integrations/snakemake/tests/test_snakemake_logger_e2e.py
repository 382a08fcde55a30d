"""`snakemake --logger lamin` end to end: the real snakemake command, then the registries (both backends)."""

from pathlib import Path

import pytest
from snakemake_run import run_snakemake, write_workflow

import lamin_core as ln

pytestmark = pytest.mark.slow

FANOUT = """
configfile: "config.yaml"

rule all:
    input: "results/merged.txt"

rule make:
    output: "data/{s}.txt"
    shell: "echo sample {wildcards.s} > {output}"

rule count:
    input: "data/{s}.txt", ref="ref.txt"
    output: "results/{s}.count"
    log: "logs/{s}.log"
    benchmark: "bench/{s}.tsv"
    threads: 2
    resources: mem_mb=100
    shell: "echo {wildcards.s} $(cat {input} | wc -c) > {output}; echo counted {wildcards.s} > {log}"

rule merge:
    input: expand("results/{s}.count", s=config["samples"])
    output: "results/merged.txt"
    run:
        with open(output[0], "w") as f:
            for i in input:
                f.write(i + " " + open(i).read())
"""


def job_runs(workflow_run: ln.Run) -> dict[str, ln.Run]:
    runs = {r.name: r for r in ln.Run.filter(initiated_by_run=workflow_run)}
    assert len(runs) == ln.Run.filter(initiated_by_run=workflow_run).count()  # names are unique
    return runs


def latest(key: str, storage_root: Path) -> ln.Artifact:
    return ln.Artifact.get(key=key, storage__root=str(storage_root), is_latest=True)


def test_fanout_fanin_rerun_and_new_versions(instance, tmp_path: Path) -> None:
    wd = write_workflow(tmp_path / "fanout", FANOUT, **{"config.yaml": "samples: [a, b, c]\n", "ref.txt": "ref v1\n"})
    run_snakemake(wd, instance, "--cores", "4")

    # the workflow: a pipeline transform (Snakefile + config), one completed run with params
    wf_transform = ln.Transform.get(key=f"snakemake/{wd.name}/Snakefile")
    assert wf_transform.kind == "pipeline"
    assert "rule count:" in wf_transform.source_code and "samples: [a, b, c]" in wf_transform.source_code
    (wf_run,) = ln.Run.filter(reference_type="snakemake_workflow")
    assert wf_run.transform.key == wf_transform.key and wf_run.status == "completed"
    assert wf_run.params["config"] == {"samples": ["a", "b", "c"]} and "--cores 4" in wf_run.params["command"]

    # every job: a completed run of its rule's transform, started by the workflow run
    jobs = job_runs(wf_run)
    assert sorted(n.split("[")[0].split(" ")[0] for n in jobs) == ["all"] + ["count"] * 3 + ["make"] * 3 + ["merge"]
    assert all(r.status == "completed" and r.reference_type == "snakemake_job" for r in jobs.values())
    count_a = next(r for r in jobs.values() if r.name.startswith("count[s=a]"))
    assert count_a.transform.key == f"snakemake/{wd.name}/Snakefile:count" and count_a.transform.kind == "function"
    assert count_a.transform.source_code.startswith("rule count:")
    assert count_a.params["wildcards"] == {"s": "a"} and count_a.params["threads"] == 2
    assert count_a.params["resources"]["mem_mb"] == 100
    assert count_a.params["shell"].startswith("echo a $(cat data/a.txt ref.txt | wc -c)")

    # files: registered in place under the working directory, linked through the jobs
    counted = latest("results/a.count", wd)
    assert counted.run == count_a and counted.storage.root == str(wd)
    assert sorted(a.key for a in count_a.input_artifacts) == ["data/a.txt", "ref.txt"]
    made = latest("data/a.txt", wd)
    assert made.run.name.startswith("make[s=a]")  # an output of one job, input of another: linked
    assert latest("ref.txt", wd).run is None  # raw input that no job produced: registered as input
    log = latest("logs/a.log", wd)
    assert (log.kind, log.run) == ("log", count_a)  # attached to the run, never a data output
    # benchmark files of quick jobs can be byte-identical: one artifact stands for equal content
    benchmarks = ln.Artifact.filter(key__startswith="bench/", storage__root=str(wd)).to_list()
    assert benchmarks and all(b.kind == "benchmark" and b.run.transform == count_a.transform for b in benchmarks)
    merge = next(r for r in jobs.values() if r.name.startswith("merge"))
    assert sorted(a.key for a in merge.input_artifacts) == ["results/a.count", "results/b.count", "results/c.count"]
    assert ln.Storage.filter(root=str(wd)).count() == 1
    n_artifacts = ln.Artifact.filter().count()

    # re-run, nothing to do: a new workflow run, no new artifacts or job runs
    run_snakemake(wd, instance, "--cores", "4")
    assert ln.Artifact.filter().count() == n_artifacts
    assert ln.Run.filter(reference_type="snakemake_workflow").count() == 2
    assert ln.Run.filter(reference_type="snakemake_job").count() == 8

    # a changed input: the jobs downstream rerun and their outputs become new versions
    (wd / "ref.txt").write_text("ref v2, longer\n")
    run_snakemake(wd, instance, "--cores", "4")
    versions = ln.Artifact.filter(key="results/a.count", storage__root=str(wd)).order_by("created_at").to_list()
    assert len(versions) == 2 and [v.is_latest for v in versions] == [False, True]
    assert versions[0].stem_uid == versions[1].stem_uid
    assert versions[1].run.initiated_by_run.status == "completed"
    assert versions[1].run != count_a and versions[1].run.transform == count_a.transform
    assert ln.Artifact.filter(key="data/a.txt", storage__root=str(wd)).count() == 1  # unchanged: not rerun


CHECKPOINT_AND_FAILURE = """
import os

rule all:
    input: "agg.txt", "bad.txt"

checkpoint split:
    output: directory("parts")
    shell: "mkdir -p parts; for i in 1 2 3; do echo part $i > parts/p$i.txt; done"

rule double:
    input: "parts/p{i}.txt"
    output: "doubled/p{i}.txt"
    shell: "cat {input} {input} > {output}"

def agg_input(wildcards):
    d = checkpoints.split.get().output[0]
    return expand("doubled/p{i}.txt", i=glob_wildcards(os.path.join(d, "p{i}.txt")).i)

rule agg:
    input: agg_input
    output: "agg.txt"
    shell: "cat {input} > {output}"

rule bad:
    output: "bad.txt"
    log: "logs/bad.log"
    shell: "echo about to fail > {log}; exit 3"
"""


def test_checkpoint_and_failing_rule(instance, tmp_path: Path) -> None:
    wd = write_workflow(tmp_path / "ckpt", CHECKPOINT_AND_FAILURE)
    run_snakemake(wd, instance, "--cores", "2", "--keep-going", expect_ok=False)

    (wf_run,) = ln.Run.filter(reference_type="snakemake_workflow")
    assert wf_run.status == "errored"
    jobs = job_runs(wf_run)
    bad = next(r for r in jobs.values() if r.name.startswith("bad"))
    assert bad.status == "errored"
    assert "exit status 3" in bad.report.load()  # the error message is the failed run's report
    assert latest("logs/bad.log", wd).run == bad and latest("logs/bad.log", wd).kind == "log"
    assert not ln.Artifact.filter(key="bad.txt").exists()  # Snakemake deleted it: nothing registered

    # the checkpoint's folder output, and the jobs the DAG gained after it ran
    split = next(r for r in jobs.values() if r.name.startswith("split"))
    parts = latest("parts", wd)
    assert parts.run == split and parts.n_files == 4  # p1..p3 and the .snakemake_timestamp Snakemake adds
    doubles = [r for r in jobs.values() if r.name.startswith("double")]
    assert len(doubles) == 3 and all(r.status == "completed" for r in doubles)
    agg = next(r for r in jobs.values() if r.name.startswith("agg"))
    assert agg.status == "completed"
    assert sorted(a.key for a in agg.input_artifacts) == ["doubled/p1.txt", "doubled/p2.txt", "doubled/p3.txt"]


def test_instance_and_skip_unproduced_inputs_settings(sqlite_instance, tmp_path: Path) -> None:
    # a LAMIN_HOME that knows the instance but is connected to none: only the setting can pick it
    home = sqlite_instance.home
    (home / "current-instance").unlink()
    snakefile = """
    rule a:
        input: "raw.txt"
        output: "a.txt"
        shell: "cat {input} > {output}; echo a >> {output}"
    """
    wd = write_workflow(tmp_path / "named", snakefile, **{"raw.txt": "raw\n"})
    settings = ["--logger-lamin-instance", sqlite_instance.name, "--logger-lamin-skip-unproduced-inputs"]
    run_snakemake(wd, sqlite_instance, "--cores", "1", *settings)
    assert not (home / "current-instance").exists()  # the user's connection was left alone
    (wf_run,) = ln.Run.filter(reference_type="snakemake_workflow")
    assert wf_run.status == "completed"
    made = latest("a.txt", wd)
    assert made.run.initiated_by_run == wf_run
    assert made.run.input_artifacts == [] and not ln.Artifact.filter(key="raw.txt").exists()
