"""`storage.lamin("lamin://collection/KEY")` end to end: a rule reads the latest collection at KEY as a folder
of its members, in order; the job's run records the collection as its input and the members as its input
artifacts; a collection cannot be a job's output."""

from pathlib import Path

import pytest
from snakemake_run import run_snakemake, write_workflow

import lamin_core as ln

pytestmark = pytest.mark.slow

SNAKEFILE = """
storage lamin:
    provider="lamin"

rule merge:
    input: storage.lamin("lamin://collection/my-samples")
    output: "merged.txt"
    shell: "cat {input}/* > {output}"
"""


def _artifact(tmp_path: Path, name: str, content: str) -> ln.Artifact:
    path = tmp_path / name
    path.write_text(content)
    return ln.Artifact(path, key=f"samples/{name}").save()


def test_a_rule_reads_a_collection_and_records_it_as_its_input(instance, tmp_path: Path) -> None:
    b = _artifact(tmp_path, "b.txt", "bravo\n")
    a = _artifact(tmp_path, "a.txt", "alpha\n")
    ln.Collection([b, a], key="my-samples").save()
    collection = ln.Collection([b, a, _artifact(tmp_path, "c.txt", "charlie\n")], key="my-samples").save()  # version 2
    wd = write_workflow(tmp_path / "wf", SNAKEFILE)
    run_snakemake(wd, instance, "--cores", "1")
    assert (wd / "merged.txt").read_text() == "bravo\nalpha\ncharlie\n"  # the latest version, members in order
    (job,) = ln.Run.filter(transform__key__endswith="Snakefile:merge").all()
    assert [c.uid for c in job.input_collections] == [collection.uid]
    assert sorted(x.key for x in job.input_artifacts) == ["samples/a.txt", "samples/b.txt", "samples/c.txt"]


def test_a_collection_is_not_an_output(instance, tmp_path: Path) -> None:
    wd = write_workflow(tmp_path / "wf", """
storage lamin:
    provider="lamin"

rule make:
    output: storage.lamin("lamin://collection/made")
    shell: "mkdir -p {output} && echo x > {output}/x.txt"
""")
    done = run_snakemake(wd, instance, "--cores", "1", expect_ok=False)
    assert "names a collection, which a job can read but not write" in done.stdout + done.stderr
    assert ln.Collection.filter().count() == 0
