"""nf-core pipelines: process Transforms carry their module's git SHA (modules.json), description, tools and
licences (meta.yml); params are checked against nextflow_schema.json, reported and kept in the run's report.

The real `lamin nextflow ingest` on the `success` fixture run with the nf-core pipeline folder of
`samples/nf_core/demo` beside it (SQLite and PostgreSQL); nf-core's own code (the `nf-core` package, installed
in the test venv) and the plain files, the latter in a process where `nf_core` cannot be imported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lamin_core as ln
from nftools import SAMPLES, lamin

PIPELINE = SAMPLES / "nf_core" / "demo"
FASTQC = "nextflow/nf-core/demo/NFCORE_DEMO:DEMO:FASTQC"
MULTIQC = "nextflow/nf-core/demo/NFCORE_DEMO:DEMO:MULTIQC"
COMMIT = "86165b8c81d43a1f57363964431395152e353e56"  # the pipeline's commit: the process Transforms' version
FASTQC_SHA = "666652151335353eef2fcd58880bcef5bc2928e1"
MULTIQC_SHA = "cf17ca47590cc578dfb47db1c2a44ef86f89976d"
BAD_PARAMS = {"max_cpus": "0", "publish_dir_mode": "copyy", "email": "alice-at-example"}
PROBLEM_LINES = [
    '--email (pattern): "alice-at-example" does not match ^([a-zA-Z0-9_\\-\\.]+)@([a-zA-Z0-9_\\-\\.]+)\\.([a-zA-Z]{2,5})$',
    "--max_cpus (minimum): 0 is not >= 1",
    '--publish_dir_mode (enum): "copyy" is not one of symlink, rellink, link, copy, copyNoFollow, move',
]
# nf-core's `NFCoreComponent` reads a module from its folder; the plain path must be blocked to prove it ran
BLOCK_NF_CORE = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "nf_core":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def nf_core_run(run_dir, params: dict[str, str] | None = None) -> Path:
    """The `success` run launched from a clone of the nf-core pipeline (`nextflow run .`), its params changed."""
    folder = run_dir("success")
    shutil.copytree(PIPELINE, folder, dirs_exist_ok=True)  # modules.json, modules/, workflows/, nextflow_schema.json
    for record in (folder / ".lineage").rglob(".data.json"):
        doc = json.loads(record.read_text())
        if doc.get("kind") == "WorkflowRun" and params:
            given = {entry["name"]: entry for entry in doc["spec"]["params"]}
            for name, value in params.items():
                given.setdefault(name, {"type": "String", "name": name})["value"] = value
            doc["spec"]["params"] = list(given.values())
            record.write_text(json.dumps(doc))
    return folder


def ingest_without_nf_core(instance, folder: Path) -> subprocess.CompletedProcess:
    """`lamin nextflow ingest` in a process where `import nf_core` fails, as on a machine without it."""
    code = BLOCK_NF_CORE + textwrap.dedent(f"""
        from lamin_core.cli.main import main
        sys.exit(main(["nextflow", "ingest", {str(folder)!r}]))
    """)
    return subprocess.run([sys.executable, "-c", code], env=instance.env, capture_output=True, text=True, timeout=300)


def module_facets() -> dict[str, dict]:
    return {key: ln.Transform.get(key=key).facets["nf_core"] for key in (FASTQC, MULTIQC)}


def pipeline_run():
    return ln.Run.get(reference_type="nextflow_run")


def assert_transforms_carry_modules() -> None:
    fastqc, multiqc = ln.Transform.get(key=FASTQC), ln.Transform.get(key=MULTIQC)
    assert (fastqc.version, multiqc.version) == (COMMIT, COMMIT)
    assert fastqc.description == "Run FastQC on sequenced reads"
    assert multiqc.description == "Aggregate results from bioinformatics analyses across many samples into a single report"
    nf = fastqc.facets["nf_core"]
    assert (nf["module"], nf["git_sha"], nf["branch"]) == ("fastqc", FASTQC_SHA, "master")
    assert nf["repository"] == "https://github.com/nf-core/modules.git" and nf["installed_by"] == ["modules"]
    assert [(t["name"], t["licence"], t["identifier"]) for t in nf["tools"]] == [("fastqc", ["GPL-2.0-only"], "biotools:fastqc")]
    assert nf["tools"][0]["homepage"] == "https://www.bioinformatics.babraham.ac.uk/projects/fastqc/"
    assert "quality control" in nf["keywords"]
    mq = multiqc.facets["nf_core"]
    assert (mq["git_sha"], [(t["name"], t["licence"]) for t in mq["tools"]]) == (MULTIQC_SHA, [("multiqc", ["GPL-3.0-or-later"])])


def test_process_transforms_carry_module_sha_description_tools_and_licences(instance, run_dir):
    import nf_core  # noqa: F401  (required: `make install` installs lamin-nextflow[nf-core]; never skipped)
    done = lamin(instance, "nextflow", "ingest", str(nf_core_run(run_dir)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert_transforms_carry_modules()
    run = pipeline_run()
    assert run.facets["nextflow_run"]["nfCore"]["reader"] == "nf-core"
    assert "paramsInvalid" not in run.facets["nextflow_run"] and run.report is None  # valid params: nothing to report
    # the task runs are still runs of these Transforms, with their files
    assert ln.Artifact.get(key__endswith="S1_fastqc.zip").run.transform.key == FASTQC


def test_invalid_params_are_reported_and_kept_in_the_report_without_stopping_the_ingest(instance, run_dir):
    done = lamin(instance, "nextflow", "ingest", str(nf_core_run(run_dir, BAD_PARAMS)))
    assert done.returncode == 0, done.stdout + done.stderr  # everything was imported
    printed = [line.strip()[2:] for line in done.stdout.splitlines() if line.strip().startswith("- --")]
    assert printed == PROBLEM_LINES
    run = pipeline_run()
    assert run.status == "completed" and run.facets["nextflow_run"]["paramsInvalid"] == PROBLEM_LINES
    report = run.report.load()
    assert report.startswith("params not valid against ") and all(line in report for line in PROBLEM_LINES)
    assert ln.Artifact.filter(key__endswith="_fastqc.zip").count() == 2  # the outputs are registered all the same
    assert run.params["max_cpus"] == 0  # typed by the schema, recorded as given


def test_failed_run_report_keeps_its_error_first_then_the_params(instance, run_dir):
    folder = run_dir("failed")
    shutil.copytree(PIPELINE, folder, dirs_exist_ok=True)
    schema = json.loads((folder / "nextflow_schema.json").read_text())
    schema["$defs"]["max_job_request_options"]["properties"]["max_cpus"]["maximum"] = 2  # the run asked for 4
    (folder / "nextflow_schema.json").write_text(json.dumps(schema))
    done = lamin(instance, "nextflow", "ingest", str(folder))
    assert done.returncode in (0, 1), done.stdout + done.stderr
    run = pipeline_run()
    report = run.report.load()
    assert run.status == "errored" and report.index("FASTQC (S2)") < report.index("--max_cpus (maximum): 4 is not <= 2")


def test_plain_files_without_nf_core_give_the_same_annotations(instance, run_dir):
    done = ingest_without_nf_core(instance, nf_core_run(run_dir, BAD_PARAMS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert pipeline_run().facets["nextflow_run"]["nfCore"]["reader"] == "plain"  # nf_core really was not used
    assert_transforms_carry_modules()
    printed = [line.strip()[2:] for line in done.stdout.splitlines() if line.strip().startswith("- --")]
    assert printed == PROBLEM_LINES


def test_both_readers_give_identical_jobs_and_param_problems(tmp_path, run_dir):
    """The events `ingest` would record, made through nf-core's code and through the plain files."""
    import nf_core  # noqa: F401  (required, see above)
    from lamin_nextflow.ingest import find_sources, plan

    folder = nf_core_run(run_dir, BAD_PARAMS)
    results = {backend: plan(find_sources(folder), backend=backend) for backend in ("nf-core", "plain")}
    jobs = {b: sorted({(e.job.name, e.job.description, json.dumps(dict(e.job.facets), sort_keys=True))
                       for e in r.translation.events}) for b, r in results.items()}
    checks = {b: [str(p) for c in r.translation.params_checks.values() for p in c.problems] for b, r in results.items()}
    assert jobs["nf-core"] == jobs["plain"] and checks["nf-core"] == checks["plain"] == PROBLEM_LINES
    assert sum('"nf_core"' in facets for _, _, facets in jobs["plain"]) == 2  # FASTQC and MULTIQC


def test_pipeline_from_nextflow_assets_and_aliases(tmp_path, run_dir, monkeypatch):
    """`nextflow run nf-core/demo` runs the clone in $NXF_ASSETS/nf-core/demo; an `include { X as Y }` alias
    maps a process to its module."""
    from lamin_nextflow.ingest import find_sources, plan
    from lamin_nextflow.nfcore import read_modules

    assets = tmp_path / "assets"
    shutil.copytree(PIPELINE, assets / "nf-core" / "demo")
    monkeypatch.setenv("NXF_ASSETS", str(assets))
    folder = run_dir("success")  # a launch dir without modules.json
    result = plan(find_sources(folder), backend="plain")
    facets = {e.job.name: dict(e.job.facets) for e in result.translation.events}
    assert facets["nf-core/demo/NFCORE_DEMO:DEMO:FASTQC"]["nf_core"]["git_sha"] == FASTQC_SHA

    workflow = assets / "nf-core" / "demo" / "workflows" / "demo.nf"
    workflow.write_text(workflow.read_text().replace("include { FASTQC  }", "include { FASTQC as FASTQC_RAW }"))
    for backend in ("plain", "nf-core") if _has_nf_core() else ("plain",):
        modules = read_modules(assets / "nf-core" / "demo", backend)
        assert modules.for_process("NFCORE_DEMO:DEMO:FASTQC_RAW").name == "fastqc"
        assert modules.for_process("NFCORE_DEMO:DEMO:COWPY") is None  # a local module: no nf-core facets


def _has_nf_core() -> bool:
    try:
        import nf_core  # noqa: F401
    except ImportError:
        return False
    return True


def test_unreadable_meta_yml_is_reported_and_the_rest_imported(instance, run_dir):
    folder = nf_core_run(run_dir)
    (folder / "modules" / "nf-core" / "multiqc" / "meta.yml").write_text("name: multiqc\ntools: [unclosed\n")
    done = lamin(instance, "nextflow", "ingest", str(folder))
    assert done.returncode == 1 and "multiqc/meta.yml (nf-core): not readable" in done.stdout, done.stdout + done.stderr
    assert ln.Transform.get(key=FASTQC).facets["nf_core"]["git_sha"] == FASTQC_SHA
    multiqc = ln.Transform.get(key=MULTIQC).facets["nf_core"]
    assert multiqc["git_sha"] == MULTIQC_SHA and "tools" not in multiqc  # the version from modules.json all the same
