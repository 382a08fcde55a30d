from datetime import datetime, timezone, timedelta

from lamin_core.lineage import Dataset, Job, LineageEvent, ParentRun, RunInfo, record


def test_record_roundtrip(instance, tmp_path):
    import lamin_core as ln

    inp = tmp_path / "work" / "in.txt"
    inp.parent.mkdir()
    inp.write_text("raw")
    out = tmp_path / "work" / "out.txt"
    out.write_text("result")
    t0 = datetime.now(timezone.utc)
    ev = LineageEvent(
        "COMPLETE", t0 + timedelta(seconds=1), Job("eng", "wf/step"),
        RunInfo("r1", "test", parent=ParentRun("wf1", Job("eng", "wf"))),
        inputs=[Dataset("file", str(inp))], outputs=[Dataset("file", str(out), storage_root=str(tmp_path / "work"))],
    )
    r = record(ev)
    assert r.is_new and r.run.status == "completed"
    assert record(ev).is_new is False
    r2 = record(LineageEvent("START", t0, Job("eng", "wf/step"), RunInfo("r1", "test")))
    assert r2.run.id == r.run.id
    run = ln.Run.get(reference="r1")
    assert run.status == "completed"
    assert [a.key for a in run.input_artifacts] == ["in.txt"]
    assert [a.key for a in run.output_artifacts] == ["out.txt"]
    assert run.initiated_by_run.transform.key == "eng/wf"
    assert ln.Artifact.get(key="out.txt").transform.key == "eng/wf/step"
