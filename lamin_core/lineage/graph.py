"""`artifact.view_lineage()`, `run.view_lineage()`, `transform.view_lineage()`: where data came from.

The graph goes upstream from the record: an artifact's run, that run's inputs, their runs, ... up to
`depth` runs back, whichever engine recorded them (a dataset written by a Snakemake job and read by a
tracked script is one artifact, so the two runs meet). Runs also show the run that initiated them (a
step its flow, a flow the tracked script), dashed. A run's own outputs are shown too.
`transform.view_lineage()` folds the graph of the transform's runs to transforms: which transforms
fed this one. A collection's graph is that of its artifacts and of the run that saved it; a run's input
collections feed it, their members feed them.

Rendering: Graphviz `dot` to SVG or PNG (inline in Jupyter via `_repr_svg_`), and a plain-text tree
where `dot` is missing or a terminal is all there is. The graph is built with one query per level and
kind (not one per node), so deep graphs stay cheap.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from ..models import Artifact, Run, Transform

STATUS_COLORS = {"completed": "#d8f0d8", "errored": "#f6d0d0", "aborted": "#f3e2c4", "started": "#d6e4f5", "scheduled": "#eeeeee"}
MAX_RUNS_OF_TRANSFORM = 50  # transform.view_lineage() looks at its latest runs, not at every run ever
MAX_ANCESTORS = 10


@dataclass
class Node:
    id: str  # "a12", "r5", "t3", "c2"
    kind: str  # artifact, run, transform, collection
    label: str
    uid: str
    status: str | None = None


@dataclass
class LineageGraph:
    """Nodes and edges upstream of `focus`; edges are (source, target, kind) with kind "data" or "initiated"."""

    focus: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)

    def add_edge(self, source: str, target: str, kind: str = "data") -> None:
        edge = (source, target, kind)
        if edge not in self._edge_set:
            self._edge_set.add(edge)
            self.edges.append(edge)

    def __post_init__(self) -> None:
        self._edge_set: set[tuple[str, str, str]] = set(self.edges)

    # ---- Graphviz ----

    def to_dot(self) -> str:
        lines = ["digraph lineage {", '  rankdir="LR";', '  node [fontname="Helvetica", fontsize=11];',
                 '  edge [color="#666666", arrowsize=0.7];']
        for node in self.nodes.values():
            attrs = {"label": node.label, "tooltip": f"{node.kind} {node.uid}"}
            if node.kind == "artifact":
                attrs.update(shape="note", style="filled", fillcolor="#fff8e1")
            elif node.kind == "run":
                attrs.update(shape="box", style="rounded,filled", fillcolor=STATUS_COLORS.get(node.status or "", "#eeeeee"))
            else:
                attrs.update(shape="box", style="filled", fillcolor="#e8e0f5")
            if node.id == self.focus:
                attrs.update(penwidth="2.5", color="#c2185b")
            body = ", ".join(f'{k}="{_dot_escape(v)}"' for k, v in attrs.items())
            lines.append(f"  {node.id} [{body}];")
        for source, target, kind in self.edges:
            style = ' [style="dashed", color="#9e9e9e", arrowhead="none", constraint="false"]' if kind == "initiated" else ""
            lines.append(f"  {source} -> {target}{style};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    source = property(to_dot)

    def render(self, filename: str | Path, format: str | None = None) -> Path:
        """Write the graph: `.svg`/`.png`/`.pdf` via `dot`, `.dot`/`.gv` as DOT, `.txt` as a text tree."""
        path = Path(filename)
        fmt = (format or path.suffix.lstrip(".") or "svg").lower()
        if fmt in ("dot", "gv"):
            path.write_text(self.to_dot())
        elif fmt == "txt":
            path.write_text(self.to_text() + "\n")
        else:
            path.write_bytes(_run_dot(self.to_dot(), fmt))
        return path

    def _repr_svg_(self) -> str | None:
        if shutil.which("dot") is None:
            return None  # Jupyter falls back to the text form
        return _run_dot(self.to_dot(), "svg").decode()

    # ---- text ----

    def to_text(self) -> str:
        """An indented tree from the focus upstream; a node met twice is printed once and referred to."""
        parents: dict[str, list[tuple[str, str]]] = {}
        for source, target, kind in self.edges:
            parents.setdefault(target, []).append((source, kind))
        lines = [self._describe(self.focus)]
        for child_id in sorted(self._children_of(self.focus)):  # a run's outputs
            lines.append(f"  ⇢ output {self._describe(child_id)}")
        seen = {self.focus}

        def walk(node_id: str, prefix: str) -> None:
            ups = parents.get(node_id, [])
            for i, (up, kind) in enumerate(ups):
                last = i == len(ups) - 1
                if kind == "initiated":
                    verb = "initiated by"
                elif self.nodes[node_id].kind == "collection" and self.nodes[up].kind == "artifact":
                    verb = "member"
                else:
                    verb = "input" if self.nodes[up].kind in ("artifact", "collection") else "from"
                repeat = up in seen
                lines.append(f"{prefix}{'└── ' if last else '├── '}{verb} {self._describe(up)}{' (see above)' if repeat else ''}")
                if not repeat:
                    seen.add(up)
                    walk(up, prefix + ("    " if last else "│   "))

        walk(self.focus, "")
        return "\n".join(lines)

    def _children_of(self, node_id: str) -> list[str]:
        node = self.nodes[node_id]
        if node.kind != "run":
            return []
        return [t for s, t, k in self.edges if s == node_id and k == "data" and self.nodes[t].kind == "artifact"]

    def _describe(self, node_id: str) -> str:
        node = self.nodes[node_id]
        label = node.label.replace("\n", " · ")
        return f"{node.kind} {label} [{node.uid}]"

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()


def _dot_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _run_dot(source: str, fmt: str) -> bytes:
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "Graphviz `dot` is not installed (apt-get install graphviz): render to .txt or .dot instead, or print the graph"
        )
    result = subprocess.run([dot, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} failed: {result.stderr.decode(errors='replace').strip()[:500]}")
    return result.stdout


# ---- building ----


def _artifact_node(a: "Artifact") -> Node:
    label = a.key or a.description or a.uid
    if a.kind and a.kind not in ("dataset",):
        label = f"{label}\n({a.kind})"
    return Node(id=f"a{a.id}", kind="artifact", label=label, uid=a.uid)


def _run_node(r: "Run") -> Node:
    key = r.transform.key or r.transform.uid if r.transform is not None else "?"
    when = r.started_at.strftime("%Y-%m-%d %H:%M") if r.started_at else ""
    label = f"{key}\n{r.status}{' · ' + when if when else ''}"
    return Node(id=f"r{r.id}", kind="run", label=label, uid=r.uid, status=r.status)


def _transform_node(t: "Transform") -> Node:
    version = f" v{t.version}" if t.version else ""
    return Node(id=f"t{t.id}", kind="transform", label=f"{t.key or t.uid}{version}\n({t.kind})", uid=t.uid)


def build_graph(record: Any, depth: int = 3) -> LineageGraph:
    """The upstream lineage of an Artifact, Run or Transform, `depth` runs deep."""
    from ..models import Artifact, Collection, Run, Transform

    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive integer, not {depth!r}")
    if not isinstance(record, (Artifact, Run, Transform, Collection)):
        raise TypeError(f"view_lineage() takes an Artifact, a Run, a Transform or a Collection, not {type(record).__name__}")
    if record.id is None:
        raise ValueError("save the record before viewing its lineage")
    if isinstance(record, Collection):
        graph = LineageGraph(focus=f"c{record.id}")
        graph.nodes[graph.focus] = Node(id=graph.focus, kind="collection", label=record.key, uid=record.uid)
        members = list(record.artifacts)
        for a in members:
            graph.add_edge(f"a{a.id}", graph.focus)
        runs = [record.run] if record.run is not None else []  # the run that saved the collection
        for r in runs:
            graph.add_edge(f"r{r.id}", graph.focus)
        _expand(graph, artifacts=members, runs=runs, depth=depth)
        return graph
    if isinstance(record, Artifact):
        graph = LineageGraph(focus=f"a{record.id}")
        _expand(graph, artifacts=[record], runs=[], depth=depth)
        return graph
    if isinstance(record, Run):
        graph = LineageGraph(focus=f"r{record.id}")
        _expand(graph, artifacts=[], runs=[record], depth=depth, with_outputs=True)
        return graph
    return _transform_graph(record, depth)


def _expand(graph: LineageGraph, artifacts: list["Artifact"], runs: list["Run"], depth: int, with_outputs: bool = False) -> None:
    from sqlalchemy import select

    from ..db import engine as db
    from ..models import Artifact, Run
    from ..models.run import run_input_artifacts

    with db.read() as s:
        if with_outputs and runs:
            ids = [r.id for r in runs]
            for a in s.execute(select(Artifact).where(Artifact.run_id.in_(ids)).order_by(Artifact.id)).scalars():
                graph.nodes.setdefault(f"a{a.id}", _artifact_node(a))
                graph.add_edge(f"r{a.run_id}", f"a{a.id}")
        for a in artifacts:
            graph.nodes.setdefault(f"a{a.id}", _artifact_node(a))
        seen_runs: set[int] = set()
        all_runs: dict[int, Run] = {}
        frontier_artifacts = list(artifacts)
        frontier_runs = list(runs)
        for level in range(depth + 1):
            # the runs that produced this level's artifacts
            wanted = {a.run_id for a in frontier_artifacts if a.run_id is not None} - seen_runs - {r.id for r in frontier_runs}
            if wanted:
                frontier_runs += list(s.execute(select(Run).where(Run.id.in_(wanted))).scalars())
            for a in frontier_artifacts:
                if a.run_id is not None:
                    graph.add_edge(f"r{a.run_id}", f"a{a.id}")
            frontier_runs = [r for r in frontier_runs if r.id not in seen_runs]
            if not frontier_runs or level == depth:
                break
            for r in frontier_runs:
                seen_runs.add(r.id)
                all_runs[r.id] = r
                graph.nodes.setdefault(f"r{r.id}", _run_node(r))
            # their inputs: the next level
            rows = s.execute(
                select(run_input_artifacts.c.run_id, Artifact)
                .join(Artifact, Artifact.id == run_input_artifacts.c.artifact_id)
                .where(run_input_artifacts.c.run_id.in_([r.id for r in frontier_runs]))
                .order_by(Artifact.id)
            ).all()
            rows += _collection_inputs(s, graph, [r.id for r in frontier_runs])
            frontier_artifacts = []
            for run_id, a in rows:
                if f"a{a.id}" not in graph.nodes:
                    graph.nodes[f"a{a.id}"] = _artifact_node(a)
                    frontier_artifacts.append(a)
                if run_id is not None:
                    graph.add_edge(f"a{a.id}", f"r{run_id}")
            frontier_runs = []
        # drop edges to runs beyond the depth (an artifact's producer we did not load)
        graph.edges[:] = [e for e in graph.edges if e[0] in graph.nodes and e[1] in graph.nodes]
        graph._edge_set = set(graph.edges)
        _add_initiators(s, graph, list(all_runs.values()))


def _collection_inputs(s: Any, graph: LineageGraph, run_ids: list[int]) -> list[tuple[int | None, "Artifact"]]:
    """Collections the runs used: a node feeding each run; their members are returned to expand (no run edge)."""
    from sqlalchemy import select

    from ..models import Artifact, Collection
    from ..models.collection import collection_artifacts, run_input_collections

    used = s.execute(
        select(run_input_collections.c.run_id, Collection).join(Collection, Collection.id == run_input_collections.c.collection_id)
        .where(run_input_collections.c.run_id.in_(run_ids))
    ).all()
    for run_id, c in used:
        graph.nodes.setdefault(f"c{c.id}", Node(id=f"c{c.id}", kind="collection", label=c.key, uid=c.uid))
        graph.add_edge(f"c{c.id}", f"r{run_id}")
    if not used:
        return []
    rows = s.execute(
        select(collection_artifacts.c.collection_id, Artifact).join(Artifact, Artifact.id == collection_artifacts.c.artifact_id)
        .where(collection_artifacts.c.collection_id.in_({c.id for _, c in used})).order_by(collection_artifacts.c.position)
    ).all()
    for collection_id, a in rows:
        graph.add_edge(f"a{a.id}", f"c{collection_id}")
    return [(None, a) for _, a in rows]


def _add_initiators(s: Any, graph: LineageGraph, runs: list["Run"]) -> None:
    """The chain of runs that initiated the graph's runs (step <- flow <- tracked script), dashed."""
    from sqlalchemy import select

    from ..models import Run

    pending = {r.initiated_by_run_id for r in runs if r.initiated_by_run_id is not None}
    child_of = [(r.initiated_by_run_id, r.id) for r in runs if r.initiated_by_run_id is not None]
    for _ in range(MAX_ANCESTORS):
        missing = {i for i in pending if f"r{i}" not in graph.nodes}
        fetched = list(s.execute(select(Run).where(Run.id.in_(missing))).scalars()) if missing else []
        for r in fetched:
            graph.nodes[f"r{r.id}"] = _run_node(r)
            if r.initiated_by_run_id is not None:
                child_of.append((r.initiated_by_run_id, r.id))
        pending = {r.initiated_by_run_id for r in fetched if r.initiated_by_run_id is not None}
        if not pending:
            break
    for parent_id, child_id in child_of:
        if f"r{parent_id}" in graph.nodes:
            graph.add_edge(f"r{parent_id}", f"r{child_id}", "initiated")


def _transform_graph(transform: "Transform", depth: int) -> LineageGraph:
    """Fold the run-level graph of the transform's latest runs to transforms."""
    from sqlalchemy import select

    from ..db import engine as db
    from ..models import Run

    with db.read() as s:
        runs = list(
            s.execute(select(Run).where(Run.transform_id == transform.id).order_by(Run.id.desc()).limit(MAX_RUNS_OF_TRANSFORM)).scalars()
        )
    run_graph = LineageGraph(focus=f"t{transform.id}")
    if runs:
        _expand(run_graph, artifacts=[], runs=runs, depth=depth)
    graph = LineageGraph(focus=f"t{transform.id}")
    graph.nodes[graph.focus] = _transform_node(transform)
    transform_of: dict[str, str] = {}
    with db.read() as s:
        for node in run_graph.nodes.values():
            if node.kind == "run":
                run = s.get(Run, int(node.id[1:]))
                if run is not None:
                    t = run.transform
                    graph.nodes.setdefault(f"t{t.id}", _transform_node(t))
                    transform_of[node.id] = f"t{t.id}"
    feeds = _upstream_pairs(run_graph.edges)
    for up_run, down_run in feeds:
        a, b = transform_of.get(up_run), transform_of.get(down_run)
        if a and b and a != b:
            graph.add_edge(a, b)
    for source, target, kind in run_graph.edges:
        if kind == "initiated":
            a, b = transform_of.get(source), transform_of.get(target)
            if a and b and a != b:
                graph.add_edge(a, b, "initiated")
    return graph


def _upstream_pairs(edges: Iterable[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """(producing run, consuming run) for every artifact between two runs."""
    produced_by: dict[str, list[str]] = {}
    consumed_by: dict[str, list[str]] = {}
    for source, target, kind in edges:
        if kind != "data":
            continue
        if source.startswith("r") and target.startswith("a"):
            produced_by.setdefault(target, []).append(source)
        elif source.startswith("a") and target.startswith("r"):
            consumed_by.setdefault(source, []).append(target)
    return {(p, c) for a, ps in produced_by.items() for p in ps for c in consumed_by.get(a, [])}


def view_lineage(record: Any, depth: int = 3, *, filename: str | Path | None = None, format: str | None = None) -> LineageGraph:
    """Show the upstream lineage of `record`, `depth` runs deep; returns the graph.

    In Jupyter the returned graph renders inline as SVG; in a script the text tree is printed; with
    `filename` the graph is written there instead (`.svg`, `.png`, `.pdf`, `.dot` or `.txt`).
    """
    graph = build_graph(record, depth)
    if filename is not None:
        graph.render(filename, format)
    elif not _interactive():
        print(graph.to_text())
    return graph


def _interactive() -> bool:
    if hasattr(sys, "ps1"):
        return True
    ipython = sys.modules.get("IPython")
    try:
        return ipython is not None and ipython.get_ipython() is not None  # type: ignore[attr-defined]
    except Exception:
        return False
