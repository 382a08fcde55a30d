"""`storage.lamin("lamin://KEY")` end to end: real snakemake, artifacts by key, versions and rerun logic."""

from pathlib import Path

import pytest
from snakemake_run import run_snakemake, write_workflow
from snakemake_storage_plugin_lamin import StorageProvider

import lamin_core as ln

pytestmark = pytest.mark.slow

SNAKEFILE = """
storage lamin:
    provider="lamin"

rule all:
    input: storage.lamin(expand("lamin://clean/{s}.txt", s=["a", "b"]))

rule clean:
    input: storage.lamin("lamin://raw/{s}.txt")
    output: storage.lamin("lamin://clean/{s}.txt")
    shell: "tr a-z A-Z < {input} > {output}"
"""


def save_raw(tmp_path: Path, content: str, key: str = "raw/a.txt") -> ln.Artifact:
    source = tmp_path / f"raw-{len(content)}-{key.replace('/', '_')}"
    source.write_text(content)
    return ln.Artifact(source, key=key).save()


def test_storage_reads_latest_version_and_writes_versions(instance, tmp_path: Path) -> None:
    raw_v1 = save_raw(tmp_path, "hello\n")
    save_raw(tmp_path, "bravo\n", key="raw/b.txt")
    wd = write_workflow(tmp_path / "wf", SNAKEFILE)
    run_snakemake(wd, instance, "--cores", "4")  # both jobs fetch and save at the same time

    clean = ln.Artifact.get(key="clean/a.txt")
    assert Path(clean.cache()).read_text() == "HELLO\n"
    assert Path(ln.Artifact.get(key="clean/b.txt").cache()).read_text() == "BRAVO\n"
    assert clean.storage.root == str(instance.storage_root)  # saved into the instance, not the workdir
    job = clean.run  # tracked by the run of the job that wrote it ...
    assert job.transform.key == f"snakemake/{wd.name}/Snakefile:clean" and job.status == "completed"
    assert [a.uid for a in job.input_artifacts] == [raw_v1.uid]  # ... which read exactly this version
    assert job.initiated_by_run.reference_type == "snakemake_workflow"
    assert not ln.Artifact.filter(key__contains=".snakemake").exists()  # Snakemake's local copies: not artifacts

    # existence and mtime come from the registry: nothing changed, nothing reruns
    done = run_snakemake(wd, instance, "--cores", "4")
    assert "Nothing to be done" in done.stdout + done.stderr
    assert ln.Artifact.filter(key="clean/a.txt").count() == 1

    # a new version of the input makes the job rerun: its output is a new version at the same key
    raw_v2 = save_raw(tmp_path, "hello again\n")
    run_snakemake(wd, instance, "--cores", "4")
    versions = ln.Artifact.filter(key="clean/a.txt").order_by("created_at").to_list()
    assert len(versions) == 2 and versions[1].is_latest and not versions[0].is_latest
    assert Path(versions[1].cache()).read_text() == "HELLO AGAIN\n"
    assert [a.uid for a in versions[1].run.input_artifacts] == [raw_v2.uid]
    assert ln.Artifact.filter(key="clean/b.txt").count() == 1  # its input did not change: not rerun


def test_invalid_keys_are_refused_before_anything_runs() -> None:
    assert StorageProvider.is_valid_query("lamin://raw/{sample}.csv")
    for query, reason in [
        ("s3://bucket/x", "must start with lamin://"),
        ("lamin:///abs/x", "absolute path"),
        ("lamin://a/../b", "'..'"),
        ("lamin://a//b", "empty segment"),
        ("lamin://", "empty"),
    ]:
        result = StorageProvider.is_valid_query(query)
        assert not result and reason in result.reason, (query, result.reason)


def test_glob_lists_latest_keys_under_the_constant_prefix(instance, tmp_path: Path) -> None:
    import logging

    for key, content in [("raw/a.csv", "a\n"), ("raw/b.csv", "b\n"), ("raw/b.csv", "b2\n"), ("other/c.csv", "c\n")]:
        source = tmp_path / f"{content.strip()}.csv"
        source.write_text(content)
        ln.Artifact(source, key=key).save()
    provider = StorageProvider(local_prefix=tmp_path / "local", logger=logging.getLogger("test"))
    matches = provider.object("lamin://raw/{sample}.csv").list_candidate_matches()
    assert sorted(matches) == ["lamin://raw/a.csv", "lamin://raw/b.csv"]  # each key once, not per version
    assert provider.object("lamin://raw/b.csv").exists()
    assert not provider.object("lamin://raw/zzz.csv").exists()
