"""The explorer's lineage graph: artifacts and runs around a focus, upstream and/or downstream, laid out left to right.

Unlike the core's `view_lineage()` (upstream only, ORM objects, Graphviz layout), the explorer needs both
directions, hundreds of nodes, and a layout computed in milliseconds: Graphviz takes seconds on 500 nodes, a
first paint has under one. So the graph is read with set-wide statements (one per level and kind, never one
per node) and laid out here by a small layered (Sugiyama-style) layout: ranks by longest path, order within a
rank by barycenters.

A pipeline's task runs (runs with `initiated_by_run`) are collapsed into their top-level run until expanded:
a Snakemake workflow of 300 jobs is one node, and artifacts that only pass between its own tasks are hidden.
The runs on the focus's own path are always expanded, so the run that made the focus artifact is visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CHUNK = 5000  # ids per IN list: below every backend's parameter limit
MAX_NODES = 3000  # a graph beyond this stops growing (the page says so): the browser must stay usable
MAX_DEPTH = 20
RUN_ATTACHMENT_KINDS = ("log", "benchmark", "report", "environment", "plan")  # a run's own files, not data flow
# fill by status (the core's colours, so pictures agree), stroke by engine
STATUS_COLORS = {"completed": "#d8f0d8", "errored": "#f6d0d0", "aborted": "#f3e2c4", "started": "#d6e4f5", "scheduled": "#eeeeee"}
ENGINE_COLORS = {"snakemake": "#1b7f3b", "prefect": "#2d6df6", "nextflow": "#0dc09d", "lamin": "#7b3fa0"}
OTHER_ENGINE_COLOR = "#b8860b"  # OpenLineage producers (Airflow, Spark, dbt, ...)
COL_W, ROW_H, NODE_W, NODE_H = 230, 58, 190, 42


def engine_of(key: str | None, uid: str, facets: dict[str, Any] | None) -> str:
    """A run's or transform's engine: the OpenLineage namespace of its job (snakemake, prefect, nextflow,
    airflow://..., lamin for the Python API), the same name the Marquez API and the home page's filter use."""
    from ..export import job_identity

    namespace = job_identity(key, uid, facets)[0]
    return namespace or "lamin"


def engine_color(engine: str) -> str:
    return ENGINE_COLORS.get(engine, OTHER_ENGINE_COLOR)


def _chunks(values: Iterable[int]) -> Iterator[list[int]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


@dataclass
class ExplorerGraph:
    """Nodes (`a<id>` artifacts, `r<id>` runs) with positions, and edges (source, target, kind)."""

    focus: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    truncated: bool = False
    width: int = 0
    height: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"focus": self.focus, "nodes": list(self.nodes.values()), "edges": self.edges,
                "truncated": self.truncated, "width": self.width, "height": self.height}

    def to_dot(self) -> str:
        """Graphviz source with links on the nodes: the picture pages show when JavaScript is off."""
        def esc(v: str) -> str:
            return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

        lines = ['digraph lineage {', '  rankdir="LR";', '  node [fontname="Helvetica", fontsize=11];',
                 '  edge [color="#666666", arrowsize=0.7];']
        for n in self.nodes.values():
            label = n["label"] + (f"\n{n['sub']}" if n.get("sub") else "")
            attrs = {"label": label, "href": n["url"], "target": "_top", "tooltip": f"{n['kind']} {n['uid']}"}
            if n["kind"] == "artifact":
                attrs.update(shape="note", style="filled", fillcolor="#fff8e1")
            else:
                attrs.update(shape="box", style="rounded,filled", fillcolor=n["fill"], color=n["stroke"], penwidth="2")
            if n["id"] == self.focus:
                attrs.update(penwidth="3", color="#c2185b")
            lines.append(f'  {n["id"]} [' + ", ".join(f'{k}="{esc(str(v))}"' for k, v in attrs.items()) + "];")
        for s, t, kind in self.edges:
            lines.append(f"  {s} -> {t}" + (' [style="dashed"]' if kind == "collapsed" else "") + ";")
        return "\n".join(lines + ["}"]) + "\n"


@dataclass
class _Walk:
    """What the breadth-first walk found: raw artifact/run ids and data edges between them."""

    artifacts: set[int] = field(default_factory=set)
    runs: set[int] = field(default_factory=set)
    produced_by: dict[int, int] = field(default_factory=dict)  # artifact -> run that wrote it
    reads: set[tuple[int, int]] = field(default_factory=set)  # (run, artifact) the run read
    truncated: bool = False


def _producers(s: Session, artifact_ids: Iterable[int]) -> list[tuple[int, int]]:
    from lamin_core.models import Artifact
    from sqlalchemy import select

    a = Artifact.__table__
    out: list[tuple[int, int]] = []
    for chunk in _chunks(artifact_ids):
        out += [(aid, rid) for aid, rid in s.execute(select(a.c.id, a.c.run_id).where(a.c.id.in_(chunk), a.c.run_id.is_not(None)))]
    return out


def _inputs_of(s: Session, run_ids: Iterable[int]) -> list[tuple[int, int]]:
    from lamin_core.models.run import run_input_artifacts as ria
    from sqlalchemy import select

    out: list[tuple[int, int]] = []
    for chunk in _chunks(run_ids):
        out += [(r, a) for r, a in s.execute(select(ria.c.run_id, ria.c.artifact_id).where(ria.c.run_id.in_(chunk)))]
    return out


def _readers_of(s: Session, artifact_ids: Iterable[int]) -> list[tuple[int, int]]:
    from lamin_core.models.run import run_input_artifacts as ria
    from sqlalchemy import select

    out: list[tuple[int, int]] = []
    for chunk in _chunks(artifact_ids):
        out += [(r, a) for r, a in s.execute(select(ria.c.run_id, ria.c.artifact_id).where(ria.c.artifact_id.in_(chunk)))]
    return out


def _outputs_of(s: Session, run_ids: Iterable[int]) -> list[tuple[int, int]]:
    from lamin_core.models import Artifact
    from sqlalchemy import or_, select

    a = Artifact.__table__
    out: list[tuple[int, int]] = []
    for chunk in _chunks(run_ids):
        q = select(a.c.id, a.c.run_id).where(a.c.run_id.in_(chunk), or_(a.c.kind.is_(None), a.c.kind.not_in(RUN_ATTACHMENT_KINDS)))
        out += [(aid, rid) for aid, rid in s.execute(q)]
    return out


def _walk(s: Session, focus_kind: str, focus_id: int, depth: int, up: bool, down: bool) -> _Walk:
    w = _Walk()
    seeds: set[int] = set()  # the focus run and its task runs: walked from on the first level
    if focus_kind == "artifact":
        w.artifacts.add(focus_id)
        up_artifacts, down_artifacts = {focus_id}, {focus_id}
        up_runs: set[int] = set()
        down_runs: set[int] = set()
    else:
        # a pipeline's run does no I/O itself: its picture is that of its task runs (folded into it when drawn)
        seeds = {focus_id} | _descendant_runs(s, focus_id)
        w.runs |= seeds
        outputs = _outputs_of(s, seeds)  # a run's outputs are part of its picture either way
        for aid, rid in outputs:
            w.artifacts.add(aid)
            w.produced_by[aid] = rid
        up_runs, down_runs = set(seeds), set()  # upstream: the seeds' inputs; downstream: who read their outputs
        up_artifacts, down_artifacts = set(), ({aid for aid, _ in outputs} if down else set())
    for _ in range(depth):
        if up:
            for aid, rid in _producers(s, up_artifacts):
                w.produced_by[aid] = rid
                up_runs.add(rid)
            up_runs -= w.runs - seeds
            w.runs |= up_runs
            found = _inputs_of(s, up_runs)
            w.reads.update(found)
            up_artifacts = {a for _, a in found} - w.artifacts
            w.artifacts |= up_artifacts
            up_runs = set()
        if down:
            for rid, aid in _readers_of(s, down_artifacts):
                w.reads.add((rid, aid))
                down_runs.add(rid)
            down_runs -= w.runs - seeds
            w.runs |= down_runs
            found = _outputs_of(s, down_runs)
            for aid, rid in found:
                w.produced_by[aid] = rid
            down_artifacts = {a for a, _ in found} - w.artifacts
            w.artifacts |= down_artifacts
            down_runs = set()
        seeds = set()
        if len(w.artifacts) + len(w.runs) > MAX_NODES:
            w.truncated = True
            break
        if not (up_artifacts or down_artifacts):
            break
    if up:  # the producers of the last level's inputs: where they came from ends the picture
        for aid, rid in _producers(s, up_artifacts):
            if rid in w.runs:
                w.produced_by[aid] = rid
    return w


def _descendant_runs(s: Session, run_id: int, levels: int = 5) -> set[int]:
    """The runs this run initiated, and theirs, one statement per level (bounded: a graph, not an export)."""
    from lamin_core.models import Run
    from sqlalchemy import select

    r = Run.__table__
    found: set[int] = set()
    frontier = {run_id}
    for _ in range(levels):
        new: set[int] = set()
        for chunk in _chunks(frontier):
            new |= set(s.execute(select(r.c.id).where(r.c.initiated_by_run_id.in_(chunk))).scalars())
        new -= found | {run_id}
        if not new or len(found) + len(new) > MAX_NODES:
            break
        found |= new
        frontier = new
    return found


def _run_rows(s: Session, run_ids: Iterable[int]) -> dict[int, Any]:
    from lamin_core.models import Run, Transform
    from sqlalchemy import select

    r, t = Run.__table__, Transform.__table__
    out: dict[int, Any] = {}
    for chunk in _chunks(run_ids):
        q = (select(r.c.id, r.c.uid, r.c.status, r.c.started_at, r.c.name, r.c.reference_type, r.c.initiated_by_run_id,
                    t.c.key, t.c.uid.label("transform_uid"), t.c.facets)
             .select_from(r.join(t, t.c.id == r.c.transform_id)).where(r.c.id.in_(chunk)))
        out.update({row.id: row for row in s.execute(q)})
    return out


def _ancestors(s: Session, runs: dict[int, Any]) -> None:
    """Add the parent runs of these runs (and theirs), one statement per level."""
    missing = {row.initiated_by_run_id for row in runs.values() if row.initiated_by_run_id} - set(runs)
    for _ in range(10):
        if not missing:
            return
        found = _run_rows(s, missing)
        runs.update(found)
        missing = {row.initiated_by_run_id for row in found.values() if row.initiated_by_run_id} - set(runs)


def _chain(runs: dict[int, Any], rid: int) -> list[int]:
    """[root, ..., parent, rid] along `initiated_by_run` (cycles cut)."""
    chain = [rid]
    while (parent := runs[chain[-1]].initiated_by_run_id) and parent in runs and parent not in chain:
        chain.append(parent)
    return chain[::-1]


def build(s: Session, focus_kind: str, focus_id: int, *, depth: int = 3, direction: str = "both",
          expand: Iterable[int] = (), url_for: Any = None) -> ExplorerGraph:
    """The graph around an artifact or run: `depth` run hops `direction` (up, down, both), laid out."""
    from lamin_core.models import Artifact
    from sqlalchemy import select

    if direction not in ("up", "down", "both"):
        raise ValueError(f"direction must be up, down or both, not {direction!r}")
    depth = max(1, min(int(depth), MAX_DEPTH))
    w = _walk(s, focus_kind, focus_id, depth, direction in ("up", "both"), direction in ("down", "both"))
    runs = _run_rows(s, w.runs)
    _ancestors(s, runs)
    focus = f"{'a' if focus_kind == 'artifact' else 'r'}{focus_id}"
    # runs on the focus's own path stay visible: the focus run, or the run that wrote the focus artifact
    expanded = set(expand)
    anchor = focus_id if focus_kind == "run" else w.produced_by.get(focus_id)
    if anchor is not None and anchor in runs:
        expanded.update(_chain(runs, anchor)[:-1])

    def shown(rid: int) -> int:
        """The run a run is drawn as: its topmost ancestor that is not expanded."""
        for x in _chain(runs, rid):
            if x not in expanded:
                return x
        return rid

    rep = {rid: shown(rid) for rid in w.runs}
    children: dict[int, set[int]] = {}
    for rid, row in runs.items():
        if row.initiated_by_run_id:
            children.setdefault(row.initiated_by_run_id, set()).add(rid)
    edges: set[tuple[str, str, str]] = set()
    consumers: dict[int, set[int]] = {}
    for rid, aid in w.reads:
        consumers.setdefault(aid, set()).add(rep[rid])
    visible_artifacts = set()
    for aid in w.artifacts:
        producer = rep.get(w.produced_by[aid]) if aid in w.produced_by and w.produced_by[aid] in rep else None
        readers = consumers.get(aid, set())
        internal = producer is not None and readers and readers == {producer} and producer not in expanded
        if internal and f"a{aid}" != focus:
            continue  # passes between the tasks of one collapsed pipeline: hidden with them
        visible_artifacts.add(aid)
        if producer is not None:
            edges.add((f"r{producer}", f"a{aid}", "data"))
        for reader in readers:
            edges.add((f"a{aid}", f"r{reader}", "data"))
    arows: dict[int, Any] = {}
    a = Artifact.__table__
    for chunk in _chunks(visible_artifacts):
        q = select(a.c.id, a.c.uid, a.c.key, a.c.description, a.c.kind, a.c.is_latest).where(a.c.id.in_(chunk))
        arows.update({row.id: row for row in s.execute(q)})
    url_for = url_for or (lambda kind, uid: f"/ui/{kind}/{uid}")
    graph = ExplorerGraph(focus=focus, truncated=w.truncated)
    for aid in sorted(visible_artifacts):
        row = arows[aid]
        label = row.key or row.description or row.uid
        graph.nodes[f"a{aid}"] = {"id": f"a{aid}", "kind": "artifact", "uid": row.uid, "label": _short(label),
                                  "title": label, "sub": row.kind or "", "url": url_for("artifact", row.uid)}
    for rid in sorted(set(rep.values())):
        row = runs[rid]
        engine = engine_of(row.key, row.transform_uid, row.facets)
        hidden = _descendants(children, rid) if rid not in expanded else set()
        node = {"id": f"r{rid}", "kind": "run", "uid": row.uid, "label": _short(row.key or row.transform_uid),
                "title": row.key or row.transform_uid, "status": row.status, "engine": engine,
                # the run's own name tells a rule's jobs apart (normalize #3); the border already says the engine
                "sub": f"{_short(row.name, 16) if row.name else engine} · {row.status}" + (f" · {len(hidden)} tasks" if hidden else ""),
                "fill": STATUS_COLORS.get(row.status or "", "#eeeeee"), "stroke": engine_color(engine),
                "url": url_for("run", row.uid), "collapsed": len(hidden), "expandable": rid}
        graph.nodes[node["id"]] = node
    graph.edges = sorted(e for e in edges if e[0] in graph.nodes and e[1] in graph.nodes and e[0] != e[1])
    _layout(graph)
    return graph


def _descendants(children: dict[int, set[int]], rid: int) -> set[int]:
    out: set[int] = set()
    todo = list(children.get(rid, ()))
    while todo:
        x = todo.pop()
        if x not in out:
            out.add(x)
            todo.extend(children.get(x, ()))
    return out


def _short(text: str, n: int = 25) -> str:
    """Node labels fit the box: keep the end of a path (the file name), which tells nodes apart."""
    return text if len(text) <= n else "…" + text[-(n - 1) :]


def _layout(graph: ExplorerGraph) -> None:
    """Ranks by longest path from the sources (cycles broken by ignoring back edges), then a few barycenter
    sweeps to reduce crossings; O(edges x sweeps), a few milliseconds for a thousand nodes."""
    ids = list(graph.nodes)
    succ: dict[str, list[str]] = {n: [] for n in ids}
    pred: dict[str, list[str]] = {n: [] for n in ids}
    for s_, t, _ in graph.edges:
        succ[s_].append(t)
        pred[t].append(s_)
    # back edges by an iterative DFS: dropping them leaves a DAG to rank
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for start in ids:
        if start in state:
            continue
        stack = [(start, iter(succ[start]))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    indeg = {n: 0 for n in ids}
    for s_, t, _ in graph.edges:
        if (s_, t) not in back:
            indeg[t] += 1
    rank = {n: 0 for n in ids}
    queue = [n for n in ids if indeg[n] == 0]
    while queue:
        n = queue.pop()
        for t in succ[n]:
            if (n, t) in back:
                continue
            rank[t] = max(rank[t], rank[n] + 1)
            indeg[t] -= 1
            if indeg[t] == 0:
                queue.append(t)
    layers: dict[int, list[str]] = {}
    for n in ids:
        layers.setdefault(rank[n], []).append(n)
    order = {n: i for layer in layers.values() for i, n in enumerate(layer)}
    ranks = sorted(layers)
    for sweep in range(4):
        seq = ranks[1:] if sweep % 2 == 0 else ranks[-2::-1]
        for r in seq:
            nbrs = pred if sweep % 2 == 0 else succ

            def bary(n: str) -> float:
                ps = [order[p] for p in nbrs[n]]
                return sum(ps) / len(ps) if ps else order[n]

            layers[r].sort(key=bary)
            for i, n in enumerate(layers[r]):
                order[n] = i
    tallest = max((len(layer) for layer in layers.values()), default=1)
    for r, layer in layers.items():
        offset = (tallest - len(layer)) * ROW_H / 2
        for i, n in enumerate(layer):
            graph.nodes[n]["x"] = 20 + r * COL_W
            graph.nodes[n]["y"] = int(20 + offset + i * ROW_H)
    graph.width = 40 + (max(ranks, default=0) + 1) * COL_W
    graph.height = 40 + tallest * ROW_H
