import { useEffect, useMemo, useState } from "react";
import { fetchTrace } from "../api";
import { toOTLP, type Span } from "../model";
import { buildTree, criticalPath, findSpans, sampledBy, visibleRows, type Node, type Tree } from "../tree";
import { fmtDuration, fmtTime, serviceColor } from "../format";
import { onLinkClick, setQuery } from "../router";
import { serviceHref } from "../metrics";
import { Minimap } from "../components/Minimap";
import { Waterfall } from "../components/Waterfall";
import { SpanDetail } from "../components/SpanDetail";
import { StatsView } from "../components/StatsView";
import { FlameGraph } from "../components/FlameGraph";

interface Loaded {
  tree: Tree;
  raw: string | null;
  loadedAt: number; // performance.now() when the data arrived
  parseMs?: number; // JSON and OTLP decoding
  treeMs?: number; // building the tree
}

// useTrace loads a trace from the API (or takes it from an opened file).
export function useTrace(traceID: string | undefined, file?: { spans: Span[] }): { data: Loaded | null; error: string } {
  const [data, setData] = useState<Loaded | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (file) {
      const loadedAt = performance.now();
      setData({ tree: buildTree(file.spans), raw: null, loadedAt });
      return;
    }
    if (!traceID) return;
    const ctl = new AbortController();
    setData(null);
    setError("");
    fetchTrace(traceID, ctl.signal)
      .then((r) => {
        const t = performance.now();
        const tree = buildTree(r.spans);
        setData({ tree, raw: r.raw, loadedAt: r.arrived, parseMs: r.parseMs, treeMs: performance.now() - t });
      })
      .catch((e: Error) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [traceID, file]);
  return { data, error };
}

function parseView(q: URLSearchParams): [number, number] {
  const a = Number(q.get("vs") ?? 0);
  const b = Number(q.get("ve") ?? 1);
  if (!(a >= 0 && b <= 1 && b > a)) return [0, 1];
  return [a, b];
}

export function TracePage({ traceID, file, query }: { traceID?: string; file?: { name: string; spans: Span[] }; query: URLSearchParams }) {
  const { data, error } = useTrace(traceID, file);
  if (error) {
    return (
      <div className="page">
        <div className="error-box" role="alert" data-testid="trace-error">
          Trace {traceID}: {error}
        </div>
      </div>
    );
  }
  if (!data) return <div className="page message">Loading trace {traceID}…</div>;
  return <TraceView data={data} query={query} fileName={file?.name} />;
}

function TraceView({ data, query, fileName }: { data: Loaded; query: URLSearchParams; fileName?: string }) {
  const { tree } = data;
  const viewMode = query.get("view") ?? "waterfall";
  const uiFind = query.get("uiFind") ?? "";
  const selected = query.get("span") ?? "";
  const cpOn = query.get("cp") !== "0";
  const depthParam = Number(query.get("depth") ?? 0) || 0;
  const toggleParam = query.get("toggle") ?? "";
  const toggles = useMemo(() => new Set(toggleParam.split(",").filter(Boolean)), [toggleParam]);
  const [view, setView] = useState<[number, number]>(() => parseView(query));
  const [findText, setFindText] = useState(uiFind);
  const [scrollTo, setScrollTo] = useState<{ id: string; seq: number } | null>(selected ? { id: selected, seq: 0 } : null);
  const [matchIdx, setMatchIdx] = useState(-1);

  const vsParam = query.get("vs");
  const veParam = query.get("ve");
  useEffect(() => setView(parseView(new URLSearchParams({ vs: vsParam ?? "0", ve: veParam ?? "1" }))), [vsParam, veParam]);
  useEffect(() => {
    if (findText === uiFind) return;
    const t = setTimeout(() => setQuery({ uiFind: findText }), 250);
    return () => clearTimeout(t);
  }, [findText, uiFind]);

  const collapsed = useMemo(() => {
    const c = new Set<string>();
    if (depthParam > 0) for (const n of tree.order) if (n.depth >= depthParam - 1 && n.children.length) c.add(n.span.spanID);
    for (const id of toggles) {
      if (c.has(id)) c.delete(id);
      else c.add(id);
    }
    return c;
  }, [tree, depthParam, toggles]);
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const critical = useMemo(() => (cpOn ? criticalPath(tree) : null), [tree, cpOn]);
  const matches = useMemo(() => findSpans(tree, uiFind), [tree, uiFind]);
  const matchList = useMemo(() => tree.order.filter((n) => matches.has(n.span.spanID)), [tree, matches]);
  const selNode = selected ? tree.byID.get(selected) : undefined;

  useEffect(() => {
    // Read by the browser tests: time from the data's arrival to the
    // rendered waterfall, and its parts.
    const w = window as unknown as { __ariadneRendered?: object };
    w.__ariadneRendered = { spans: tree.order.length, ms: performance.now() - data.loadedAt, parseMs: data.parseMs, treeMs: data.treeMs };
  }, [tree, data]);

  const setToggles = (next: Set<string>, extra: Record<string, string | null> = {}) => setQuery({ toggle: [...next].join(","), ...extra });
  const onToggle = (n: Node) => {
    const next = new Set(toggles);
    if (next.has(n.span.spanID)) next.delete(n.span.spanID);
    else next.add(n.span.spanID);
    setToggles(next);
  };
  // reveal expands every collapsed ancestor of a span and scrolls to it.
  const reveal = (id: string) => {
    const n = tree.byID.get(id);
    if (!n) return;
    const next = new Set(toggles);
    for (let p = n.parent; p; p = p.parent) {
      if (collapsed.has(p.span.spanID)) {
        if (next.has(p.span.spanID)) next.delete(p.span.spanID);
        else next.add(p.span.spanID);
      }
    }
    setToggles(next, { span: id });
    setScrollTo({ id, seq: Date.now() });
  };
  const gotoMatch = (d: number) => {
    if (!matchList.length) return;
    const i = (matchIdx + d + matchList.length) % matchList.length;
    setMatchIdx(i);
    reveal(matchList[i].span.spanID);
  };
  const download = () => {
    const text = data.raw ?? JSON.stringify(toOTLP(tree.order.map((n) => n.span)));
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    a.download = `trace-${tree.order[0]?.span.traceID ?? "file"}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  // Keyboard: ↑/↓ (or k/j) move the selection, ←/→ (or h/l) collapse and
  // expand (← on a collapsed or leaf span selects its parent), Esc closes
  // the details.
  const onKey = (e: React.KeyboardEvent) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    const i = selNode ? rows.indexOf(selNode) : -1;
    const select = (n: Node | undefined) => {
      if (!n) return;
      setQuery({ span: n.span.spanID });
      setScrollTo({ id: n.span.spanID, seq: Date.now() });
    };
    switch (e.key) {
      case "ArrowDown":
      case "j":
        select(rows[Math.min(rows.length - 1, i + 1)]);
        break;
      case "ArrowUp":
      case "k":
        select(rows[Math.max(0, i - 1)]);
        break;
      case "ArrowLeft":
      case "h":
        if (selNode && selNode.children.length && !collapsed.has(selNode.span.spanID)) onToggle(selNode);
        else select(selNode?.parent ?? undefined);
        break;
      case "ArrowRight":
      case "l":
        if (selNode && collapsed.has(selNode.span.spanID)) onToggle(selNode);
        break;
      case "Escape":
        setQuery({ span: null });
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const root = tree.roots[0]?.span;
  const keptBy = useMemo(() => sampledBy(tree), [tree]);
  const onView = (v: [number, number], done: boolean) => {
    setView(v);
    if (done) setQuery(v[0] === 0 && v[1] === 1 ? { vs: null, ve: null } : { vs: v[0].toFixed(4), ve: v[1].toFixed(4) });
  };

  return (
    <div className="page trace-page">
      <div className="trace-header panel" data-testid="trace-header">
        <div className="th-title">
          {root && <span className="svc-dot" style={{ background: serviceColor(root.service) }} />}
          <h2>
            {root ? (
              <>
                {root.service}: <b>{root.name}</b>
              </>
            ) : (
              "Empty trace"
            )}
          </h2>
          <span className="mono muted">{root?.traceID}</span>
          {fileName && <span className="tag">from file {fileName}, not stored</span>}
        </div>
        {keptBy && (
          <div className="kept-by" data-testid="kept-by" title="ariadne.sampling.policy and ariadne.sampling.adjusted_count of the trace's spans (docs/sampling.md)">
            Kept by tail sampling policy <b data-testid="kept-by-policy">{keptBy.policy}</b> · weight <b data-testid="kept-by-weight">{keptBy.weight}</b>
          </div>
        )}
        <div className="th-facts">
          <span>
            Start <b>{fmtTime(tree.start)}</b>
          </span>
          <span>
            Duration <b data-testid="trace-duration">{fmtDuration(tree.end - tree.start)}</b>
          </span>
          <span>
            Services <b>{tree.services.length}</b>
          </span>
          <span>
            Depth <b>{tree.maxDepth + 1}</b>
          </span>
          <span>
            Spans <b data-testid="span-count">{tree.order.length}</b>
          </span>
          <span className={tree.errors ? "error-text" : ""}>
            Errors <b data-testid="error-count">{tree.errors}</b>
          </span>
          <span className="svc-tags">
            {tree.services.slice(0, 12).map((s) => (
              <a key={s} href={serviceHref(s)} onClick={onLinkClick} className="svc-tag" style={{ borderColor: serviceColor(s) }} title="Rate, errors and latency of this service" data-testid="trace-service-link">
                <span className="svc-dot" style={{ background: serviceColor(s) }} />
                {s}
              </a>
            ))}
          </span>
        </div>
      </div>
      <div className="toolbar">
        <div className="tabs" role="tablist">
          {[
            ["waterfall", "Waterfall"],
            ["stats", "Statistics"],
            ["flame", "Flame graph"],
          ].map(([v, l]) => (
            <button key={v} type="button" role="tab" aria-selected={viewMode === v} className={viewMode === v ? "tab active" : "tab"} onClick={() => setQuery({ view: v === "waterfall" ? null : v })} data-testid={"view-" + v}>
              {l}
            </button>
          ))}
        </div>
        <label className="check">
          <input type="checkbox" checked={cpOn} onChange={() => setQuery({ cp: cpOn ? "0" : null })} data-testid="cp-toggle" />
          Critical path
        </label>
        <button type="button" className="button" onClick={() => setQuery({ depth: null, toggle: null })} data-testid="expand-all">
          Expand all
        </button>
        <button type="button" className="button" onClick={() => setQuery({ depth: "1", toggle: null })} data-testid="collapse-all">
          Collapse all
        </button>
        <select value={depthParam || ""} onChange={(e) => setQuery({ depth: e.target.value || null, toggle: null })} data-testid="depth-select" title="Show this many levels">
          <option value="">All levels</option>
          {Array.from({ length: Math.min(tree.maxDepth, 20) }, (_, i) => (
            <option key={i + 1} value={i + 1}>
              {i + 1} level{i ? "s" : ""}
            </option>
          ))}
        </select>
        <div className="spacer" />
        <div className="find">
          <input
            placeholder="Find in trace"
            value={findText}
            onChange={(e) => setFindText(e.target.value)}
            onKeyDown={(e) => e.key === "Enter" && gotoMatch(e.shiftKey ? -1 : 1)}
            data-testid="find-input"
          />
          <span className="muted" data-testid="find-count">
            {uiFind ? `${matches.size} match${matches.size === 1 ? "" : "es"}` : ""}
          </span>
          <button type="button" className="icon" onClick={() => gotoMatch(-1)} title="Previous match" disabled={!matchList.length}>
            ↑
          </button>
          <button type="button" className="icon" onClick={() => gotoMatch(1)} title="Next match" disabled={!matchList.length} data-testid="find-next">
            ↓
          </button>
        </div>
        <button type="button" className="button" onClick={download} data-testid="download">
          Download JSON
        </button>
      </div>
      <Minimap tree={tree} view={view} onView={onView} />
      <div className={"trace-body" + (selNode ? " with-detail" : "")}>
        <div className="trace-main">
          {viewMode === "stats" ? (
            <StatsView tree={tree} critical={critical} />
          ) : viewMode === "flame" ? (
            <FlameGraph tree={tree} view={view} selected={selected} onSelect={(id) => setQuery({ span: id })} />
          ) : (
            <Waterfall
              tree={tree}
              rows={rows}
              collapsed={collapsed}
              onToggle={onToggle}
              selected={selected}
              onSelect={(id) => setQuery({ span: id === selected ? null : id })}
              matches={matches}
              critical={critical}
              view={view}
              scrollTo={scrollTo}
              onKeyDown={onKey}
            />
          )}
        </div>
        {selNode && <SpanDetail key={selNode.span.spanID} node={selNode} tree={tree} onClose={() => setQuery({ span: null })} />}
      </div>
    </div>
  );
}
