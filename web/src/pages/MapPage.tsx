import { useMemo } from "react";
import * as m from "../metrics";
import { navigate } from "../router";
import { serviceColor } from "../format";
import { layeredLayout } from "../layout";
import { Status, useLoad, useWindow, WindowPicker } from "../components/MetricsControls";

const nodeW = 156;
const nodeH = 40;

// An edge of the map: the graph's edges summed per (client, server).
interface MapEdge {
  client: string;
  server: string;
  calls: number;
  errors: number;
  rate: number;
  types: string[];
}

function mergeEdges(edges: m.GraphEdge[]): MapEdge[] {
  const by = new Map<string, MapEdge>();
  for (const e of edges) {
    const k = e.client + "\u0000" + e.server;
    const x = by.get(k) ?? { client: e.client, server: e.server, calls: 0, errors: 0, rate: 0, types: [] };
    x.calls += e.calls;
    x.errors += e.errors;
    x.rate += e.rate;
    if (e.connectionType) x.types.push(e.connectionType);
    by.set(k, x);
  }
  return [...by.values()];
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

// MapPage draws the service graph of a time window as a layered diagram.
export function MapPage({ query }: { query: URLSearchParams }) {
  const { win, w, refresh } = useWindow(query);
  const g = useLoad((signal) => m.graph(w, undefined, signal), [w]);
  const winQ = win === "1h" ? undefined : win;

  const drawn = useMemo(() => {
    if (g.state !== "ok") return null;
    const edges = mergeEdges(g.data.edges);
    const virtual = new Set(g.data.nodes.filter((n) => n.virtual).map((n) => n.name));
    const names = [...g.data.nodes.map((n) => n.name)].sort();
    const layout = layeredLayout(
      names,
      edges.map((e) => ({ from: e.client, to: e.server })),
      { colGap: 260, rowGap: 84, margin: 20 + nodeW / 2 },
    );
    const maxRate = Math.max(1e-9, ...edges.map((e) => e.rate));
    return { edges, virtual, layout, maxRate };
  }, [g]);

  const edgeClick = (e: MapEdge) => {
    // The server side's traces, or the client's when the server is a
    // peer that sends no spans (a database, an uninstrumented service).
    const side = drawn?.virtual.has(e.server) ? e.client : e.server;
    navigate(m.searchHref(side, w));
  };

  return (
    <div className="page metrics-page map-page" data-testid="map-page">
      <div className="metrics-bar">
        <h2>Service map</h2>
        <span className="map-legend muted">
          <span className="lg-node" /> service
          <span className="lg-node virtual" /> peer that sends no spans
          <span className="lg-edge" /> calls
          <span className="lg-edge failing" /> calls with errors
        </span>
        <div className="spacer" />
        <span className="muted">Click a service for its page, a call for its traces.</span>
        <WindowPicker value={win} onRefresh={refresh} />
      </div>
      <Status v={g} what="the service graph" />
      {drawn && drawn.layout.nodes.size === 0 && (
        <div className="message" data-testid="empty">
          No data in this window: no calls between services were seen.
        </div>
      )}
      {drawn && drawn.layout.nodes.size > 0 && (
        <div className="panel map-scroll">
          <svg width={drawn.layout.width + 20} height={drawn.layout.height + 30} className="service-map" data-testid="service-map">
            <defs>
              <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
                <path d="M0,0L10,5L0,10z" className="arrowhead" />
              </marker>
              <marker id="arrow-err" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
                <path d="M0,0L10,5L0,10z" className="arrowhead failing" />
              </marker>
            </defs>
            {drawn.edges.map((e, i) => {
              const a = drawn.layout.nodes.get(e.client)!;
              const b = drawn.layout.nodes.get(e.server)!;
              let d: string;
              let lx: number;
              let ly: number;
              if (a === b) {
                d = `M${a.x - 20},${a.y - nodeH / 2}C${a.x - 30},${a.y - nodeH - 24} ${a.x + 30},${a.y - nodeH - 24} ${a.x + 20},${a.y - nodeH / 2}`;
                lx = a.x;
                ly = a.y - nodeH - 14;
              } else if (drawn.layout.back.has(i) || b.x <= a.x) {
                const dip = Math.max(a.y, b.y) + nodeH / 2 + 36;
                d = `M${a.x},${a.y + nodeH / 2}C${a.x},${dip} ${b.x},${dip} ${b.x},${b.y + nodeH / 2}`;
                lx = (a.x + b.x) / 2;
                ly = dip - 8;
              } else {
                const x0 = a.x + nodeW / 2;
                const x1 = b.x - nodeW / 2;
                const dx = (x1 - x0) / 2;
                d = `M${x0},${a.y}C${x0 + dx},${a.y} ${x1 - dx},${b.y} ${x1},${b.y}`;
                lx = (x0 + x1) / 2;
                ly = (a.y + b.y) / 2;
              }
              const failing = e.errors > 0;
              const label = `${m.fmtRate(e.rate)} · ${m.fmtPct(e.errors / Math.max(1, e.calls))}`;
              const width = 1.5 + 3.5 * Math.sqrt(e.rate / drawn.maxRate);
              return (
                <g
                  key={e.client + "\u0000" + e.server}
                  className={"map-edge" + (failing ? " failing" : "")}
                  data-testid="map-edge"
                  data-client={e.client}
                  data-server={e.server}
                  onClick={() => edgeClick(e)}
                >
                  <title>{`${e.client} → ${e.server}${e.types.length ? ` (${e.types.join(", ")})` : ""}\n${e.calls} calls, ${e.errors} errors, ${m.fmtRate(e.rate)}\nclick: find traces`}</title>
                  <path d={d} className="edge-hit" fill="none" />
                  <path d={d} className="edge-line" fill="none" strokeWidth={width} markerEnd={`url(#${failing ? "arrow-err" : "arrow"})`} />
                  <text x={lx} y={ly - 6} textAnchor="middle" className="edge-label" data-testid="edge-label">
                    {label}
                  </text>
                </g>
              );
            })}
            {[...drawn.layout.nodes.values()].map((p) => {
              const virtual = drawn.virtual.has(p.id);
              return (
                <g
                  key={p.id}
                  className={"map-node" + (virtual ? " virtual" : "")}
                  transform={`translate(${p.x - nodeW / 2},${p.y - nodeH / 2})`}
                  data-testid="map-node"
                  data-name={p.id}
                  onClick={() => navigate(m.serviceHref(p.id, winQ))}
                >
                  <title>{p.id + (virtual ? " (sends no spans)" : "")}</title>
                  <rect width={nodeW} height={nodeH} rx={virtual ? 20 : 6} className="node-box" />
                  {!virtual && <rect width={5} height={nodeH} rx={2} style={{ fill: serviceColor(p.id) }} />}
                  <text x={nodeW / 2} y={nodeH / 2 + 4} textAnchor="middle" className="node-label">
                    {clip(p.id, 20)}
                  </text>
                </g>
              );
            })}
          </svg>
        </div>
      )}
    </div>
  );
}
