/* lamin explorer: the interactive lineage graph. No dependencies, no network except this server's JSON.
   The server lays the graph out (left to right); this draws it as SVG and adds pan (drag), zoom (wheel,
   + / - / fit), click-to-open, and expanding a pipeline run's folded task runs (its (+) badge).
   Without JavaScript the page shows the Graphviz SVG in <noscript> instead. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg", W = 190, H = 42;

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function init(box) {
    document.documentElement.classList.add("js");
    var view = box.querySelector(".graph-view"), note = box.querySelector(".graph-note");
    var form = box.querySelector(".graph-controls");
    var state = { depth: box.dataset.depth, direction: box.dataset.direction,
                  expand: box.dataset.expand ? box.dataset.expand.split(",") : [] };
    var svg = el("svg", { "class": "graph", width: "100%", height: "100%" }, view);
    var defs = el("defs", {}, svg);
    var marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#777" }, marker);
    var world = el("g", {}, svg);
    var t = { x: 0, y: 0, k: 1 };
    function apply() { world.setAttribute("transform", "translate(" + t.x + "," + t.y + ") scale(" + t.k + ")"); }

    function load() {
      var url = box.dataset.graph + "?depth=" + encodeURIComponent(state.depth) + "&direction=" +
        encodeURIComponent(state.direction) + "&expand=" + encodeURIComponent(state.expand.join(","));
      note.textContent = "loading…";
      fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(draw).catch(function (e) { note.textContent = "could not load the graph: " + e.message; });
    }

    function draw(g) {
      while (world.firstChild) world.removeChild(world.firstChild);
      var pos = {};
      g.nodes.forEach(function (n) { pos[n.id] = n; });
      var edges = el("g", { "class": "edges" }, world);
      g.edges.forEach(function (e) {
        var a = pos[e[0]], b = pos[e[1]];
        var x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, dx = Math.max(30, (x2 - x1) / 2);
        if (x2 <= x1) { dx = 80; }  /* a back edge (a cycle): loop around */
        el("path", { d: "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " + (x2 - dx) + "," + y2 + " " + x2 + "," + y2,
                     "class": "edge", "marker-end": "url(#arrow)" }, edges);
      });
      var nodes = el("g", { "class": "nodes" }, world);
      g.nodes.forEach(function (n) {
        var a = el("a", { href: n.url, "class": "node " + n.kind + (n.id === g.focus ? " focus" : ""), "data-id": n.id, "data-uid": n.uid }, nodes);
        el("title", {}, a).textContent = n.kind + " " + n.uid + ": " + n.title + (n.sub ? " (" + n.sub + ")" : "");
        var rect = el("rect", { x: n.x, y: n.y, width: W, height: H, rx: n.kind === "run" ? 9 : 2 }, a);
        if (n.kind === "run") { rect.style.fill = n.fill; rect.style.stroke = n.stroke; }  /* style: CSS would beat attributes */
        el("text", { x: n.x + 8, y: n.y + 17, "class": "label" }, a).textContent = n.label;
        el("text", { x: n.x + 8, y: n.y + 33, "class": "sub" }, a).textContent = n.sub || (n.kind === "artifact" ? "artifact" : "");
        if (n.collapsed) {
          var badge = el("g", { "class": "expand", "data-run": n.expandable }, nodes);
          el("title", {}, badge).textContent = "expand: show its " + n.collapsed + " task runs";
          el("circle", { cx: n.x + W, cy: n.y, r: 9 }, badge);
          el("text", { x: n.x + W, y: n.y + 4, "text-anchor": "middle" }, badge).textContent = "+";
          badge.addEventListener("click", function (ev) {
            ev.preventDefault(); ev.stopPropagation();
            state.expand.push(String(n.expandable));
            var hidden = form.querySelector("input[name=expand]");
            if (hidden) hidden.value = state.expand.join(",");
            load();
          });
        }
      });
      note.textContent = g.nodes.length + " nodes, " + g.edges.length + " edges" + (g.truncated ? " (stopped growing at the node limit: lower the depth)" : "");
      fit(g);
    }

    function fit(g) {
      var r = view.getBoundingClientRect();
      var k = Math.min(r.width / Math.max(g.width, 1), r.height / Math.max(g.height, 1), 1.2);
      var focus = g.nodes.filter(function (n) { return n.id === g.focus; })[0];
      if (k < 0.45 && focus) {  /* too big to read whole: start at the focus, readable */
        t.k = 0.8; t.x = r.width / 2 - (focus.x + W / 2) * t.k; t.y = r.height / 2 - (focus.y + H / 2) * t.k;
      } else {
        t.k = k; t.x = (r.width - g.width * k) / 2; t.y = (r.height - g.height * k) / 2;
      }
      apply();
      box._last = g;
    }

    function zoom(factor, cx, cy) {
      var k = Math.max(0.05, Math.min(4, t.k * factor));
      t.x = cx - (cx - t.x) * (k / t.k); t.y = cy - (cy - t.y) * (k / t.k); t.k = k; apply();
    }
    view.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var r = view.getBoundingClientRect();
      zoom(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    var drag = null, moved = false;
    view.addEventListener("pointerdown", function (ev) { drag = { x: ev.clientX, y: ev.clientY, tx: t.x, ty: t.y }; moved = false; });
    window.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { moved = true; view.classList.add("dragging"); }
      t.x = drag.tx + dx; t.y = drag.ty + dy; apply();
    });
    window.addEventListener("pointerup", function () { drag = null; view.classList.remove("dragging"); });
    view.addEventListener("click", function (ev) { if (moved) { ev.preventDefault(); moved = false; } }, true);
    box.querySelectorAll("[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        var r = view.getBoundingClientRect(), z = b.dataset.zoom;
        if (z === "fit") { if (box._last) fit(box._last); } else zoom(z === "in" ? 1.25 : 0.8, r.width / 2, r.height / 2);
      });
    });
    load();
  }

  function start() { document.querySelectorAll(".graph-box").forEach(init); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
