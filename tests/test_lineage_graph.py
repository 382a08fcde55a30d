"""view_lineage(): the upstream graph of artifacts, runs and transforms, as SVG/PNG and as text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import lamin_core as ln
from lamin_core.lineage import Dataset, Job, LineageEvent, RunInfo, record
from lamin_core.lineage.graph import build_graph

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def chain(tmp_path: Path) -> dict[str, ln.Artifact]:
    """raw -> [align] -> bam -> [call] -> vcf -> [report] -> html, each step a run of another job."""
    work = tmp_path / "work"
    work.mkdir()
    names = ["raw.fq", "x.bam", "x.vcf", "report.html"]
    for n in names:
        (work / n).write_text(n)
    jobs = ["align", "call", "report"]
    for i, job in enumerate(jobs):
        record(LineageEvent("COMPLETE", T0 + timedelta(minutes=i), Job("eng", job), RunInfo(f"{job}-1", "test"),
                            inputs=[Dataset("file", str(work / names[i]))], outputs=[Dataset("file", str(work / names[i + 1]))]))
    return {n: ln.Artifact.get(key=n) for n in names}


def test_upstream_graph_to_a_chosen_depth(instance, tmp_path):
    arts = chain(tmp_path)
    html = arts["report.html"]

    full = build_graph(html, depth=5)
    kinds = sorted((n.kind, n.label.split("\n")[0]) for n in full.nodes.values())
    assert kinds == [("artifact", "raw.fq"), ("artifact", "report.html"), ("artifact", "x.bam"), ("artifact", "x.vcf"),
                     ("run", "eng/align"), ("run", "eng/call"), ("run", "eng/report")]
    assert len(full.edges) == 6

    one = build_graph(html, depth=1)  # its run and that run's inputs only
    assert sorted(n.label.split("\n")[0] for n in one.nodes.values()) == ["eng/report", "report.html", "x.vcf"]
    assert all(s in one.nodes and t in one.nodes for s, t, _ in one.edges)

    text = full.to_text()
    lines = text.splitlines()
    assert lines[0].startswith("artifact report.html")
    assert "from run eng/report" in lines[1] and "input artifact raw.fq" in text
    # indentation grows upstream: raw.fq is the deepest node
    assert text.index("raw.fq") > text.index("x.bam") > text.index("x.vcf")

    run_graph = ln.Run.get(reference="call-1").view_lineage(depth=1, filename=tmp_path / "run.txt")
    assert {"x.bam", "x.vcf"} <= {n.label.split("\n")[0] for n in run_graph.nodes.values()}  # inputs and outputs
    assert "⇢ output artifact x.vcf" in (tmp_path / "run.txt").read_text()

    transform_graph = ln.Transform.get(key="eng/report").view_lineage(filename=tmp_path / "t.txt")
    assert sorted(n.label.split("\n")[0] for n in transform_graph.nodes.values()) == ["eng/align", "eng/call", "eng/report"]
    assert len(transform_graph.edges) == 2


def test_graphviz_svg_png_and_inline(instance, tmp_path):
    arts = chain(tmp_path)
    svg = arts["report.html"].view_lineage(filename=tmp_path / "lineage.svg")
    content = (tmp_path / "lineage.svg").read_text()
    assert content.lstrip().startswith("<?xml") and "<svg" in content
    for label in ("report.html", "x.vcf", "eng/call", "raw.fq"):
        assert label in content
    png = tmp_path / "lineage.png"
    arts["x.vcf"].view_lineage(filename=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    inline = svg._repr_svg_()
    assert inline is not None and "<svg" in inline  # what Jupyter shows
    dot = svg.to_dot()
    assert dot.startswith("digraph lineage") and 'penwidth="2.5"' in dot  # the focus stands out


def test_text_when_dot_is_missing(instance, tmp_path, monkeypatch, capsys):
    arts = chain(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    graph = arts["x.bam"].view_lineage()
    printed = capsys.readouterr().out
    assert printed.startswith("artifact x.bam") and "from run eng/align" in printed
    assert graph._repr_svg_() is None  # Jupyter then shows the text repr
    assert repr(graph) == printed.rstrip("\n")
    with pytest.raises(RuntimeError, match="dot"):
        graph.render(tmp_path / "x.svg")
    graph.render(tmp_path / "x.dot")
    assert (tmp_path / "x.dot").read_text().startswith("digraph")


def test_flows_show_who_initiated_them(instance, tmp_path):
    @ln.step()
    def make() -> ln.Artifact:
        p = tmp_path / "made.txt"
        p.write_text("made")
        return ln.Artifact(p, key="made.txt").save()

    @ln.flow()
    def pipeline() -> ln.Artifact:
        return make()

    made = pipeline()
    graph = made.view_lineage(filename=tmp_path / "g.txt")
    initiated = [(graph.nodes[s].label.split("\n")[0], graph.nodes[t].label.split("\n")[0]) for s, t, k in graph.edges if k == "initiated"]
    assert [(a.rsplit(".", 1)[-1], b.rsplit(".", 1)[-1]) for a, b in initiated] == [("pipeline", "make")]
    assert 'style="dashed"' in graph.to_dot()


def test_bad_arguments(instance, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    unsaved = ln.Artifact(tmp_path / "a.txt", key="a.txt")
    with pytest.raises(ValueError, match="save"):
        unsaved.view_lineage()
    saved = unsaved.save()
    with pytest.raises(ValueError, match="depth"):
        saved.view_lineage(depth=0)
    with pytest.raises(TypeError):
        build_graph("not a record")


def test_collection_graph_is_that_of_its_artifacts(instance, tmp_path):
    from lamin_core.lineage.graph import view_lineage

    arts = chain(tmp_path)
    collection = ln.Collection(key="calls", artifacts=[arts["x.vcf"], arts["report.html"]]).save()
    graph = view_lineage(collection, depth=1, filename=tmp_path / "c.svg")
    text = graph.to_text()
    assert text.startswith("collection calls") and "member artifact x.vcf" in text and "member artifact report.html" in text
    assert "from run eng/call" in text and "input artifact x.bam" in text
    assert "raw.fq" not in text  # one run back from each member, not two
    assert "calls" in (tmp_path / "c.svg").read_text()
