import { useState } from "react";
import * as m from "../metrics";
import { navigate, onLinkClick } from "../router";
import { serviceColor } from "../format";
import { TimeChart, type Dot } from "../components/Charts";
import { SortHeader, Status, useLoad, useWindow, WindowPicker, type Sort } from "../components/MetricsControls";

const opColumns: [keyof m.OperationRED, string, boolean][] = [
  ["operation", "Operation", false],
  ["kind", "Kind", false],
  ["rate", "Rate", true],
  ["errorRate", "Error %", true],
  ["p50Ms", "p50", true],
  ["p95Ms", "p95", true],
  ["p99Ms", "p99", true],
  ["calls", "Calls", true],
];

// ServicePage shows one service: RED charts over time with exemplar
// dots, its operations, and the services that call it and it calls.
export function ServicePage({ service, query }: { service: string; query: URLSearchParams }) {
  const { win, w, refresh } = useWindow(query);
  const step = m.stepMinutes(w, 60);
  const summary = useLoad(async (signal) => (await m.services(w, signal)).find((s) => s.service === service) ?? null, [service, w]);
  const kinds = summary.state === "ok" && summary.data ? summary.data.kinds : "all";
  const points = useLoad((signal) => (summary.state === "ok" ? m.series(service, kinds, w, step, signal) : Promise.resolve([])), [summary]);
  const ops = useLoad((signal) => m.operations(service, w, signal), [service, w]);
  const graph = useLoad((signal) => m.graph(w, service, signal), [service, w]);
  const [opSort, setOpSort] = useState<Sort>({ key: "calls", flip: false });
  const winQ = win === "1h" ? undefined : win;

  const s = summary.state === "ok" ? summary.data : null;
  return (
    <div className="page metrics-page" data-testid="service-page">
      <div className="metrics-bar">
        <a href={"/services" + (winQ ? "?window=" + winQ : "")} onClick={onLinkClick}>
          Services
        </a>
        <span className="muted">/</span>
        <span className="svc-dot" style={{ background: serviceColor(service) }} />
        <h2 data-testid="service-name">{service}</h2>
        <a href={m.searchHref(service, w)} onClick={onLinkClick} className="button">
          Find traces
        </a>
        <div className="spacer" />
        <WindowPicker value={win} onRefresh={refresh} />
      </div>
      <Status v={summary} what="the service" />
      {s && (
        <div className="red-facts panel" data-testid="service-summary">
          <span>
            Rate <b>{m.fmtRate(s.rate)}</b>
          </span>
          <span className={s.errors ? "error-text" : ""}>
            Errors <b data-testid="service-error-rate">{m.fmtPct(s.errorRate)}</b> ({s.errors} of {s.calls})
          </span>
          <span>
            p50 <b>{m.fmtMs(s.p50Ms)}</b>
          </span>
          <span>
            p95 <b>{m.fmtMs(s.p95Ms)}</b>
          </span>
          <span>
            p99 <b>{m.fmtMs(s.p99Ms)}</b>
          </span>
          <span className="muted">{s.kinds === "all" ? "all spans (no server or consumer spans)" : "entry spans (server, consumer)"}</span>
        </div>
      )}
      {summary.state === "ok" && !s && (
        <div className="message" data-testid="empty">
          No data in this window for this service{graph.state === "ok" && graph.data.edges.length > 0 ? " (it sent no spans; the calls to it are below)" : ""}.
        </div>
      )}
      {s && <Status v={points} what="the time series" />}
      {s && points.state === "ok" && <Charts service={service} points={points.data} stepMs={step * 60e3} />}
      <div className="service-lower">
        <section className="panel table-panel">
          <h3>Operations</h3>
          <Status v={ops} what="operations" />
          {ops.state === "ok" && ops.data.length === 0 && <div className="message">No operations in this window.</div>}
          {ops.state === "ok" && ops.data.length > 0 && (
            <table className="grid-table metrics-table" data-testid="operations-table">
              <thead>
                <tr>
                  {opColumns.map(([k, l, num]) => (
                    <SortHeader key={k} k={k} label={l} num={num} sort={opSort} onSort={setOpSort} />
                  ))}
                </tr>
              </thead>
              <tbody>
                {m.sortRows(ops.data, opSort.key as keyof m.OperationRED, opSort.flip).map((o) => (
                  <tr key={o.operation + "\u0000" + o.kind} data-testid="operation-row">
                    <td>
                      <a href={m.searchHref(service, w, o.operation)} onClick={onLinkClick}>
                        {o.operation}
                      </a>
                    </td>
                    <td className="muted">{o.kind}</td>
                    <td className="num">{m.fmtRate(o.rate)}</td>
                    <td className={"num" + (o.errors ? " error-text" : "")}>{m.fmtPct(o.errorRate)}</td>
                    <td className="num">{m.fmtMs(o.p50Ms)}</td>
                    <td className="num">{m.fmtMs(o.p95Ms)}</td>
                    <td className="num">{m.fmtMs(o.p99Ms)}</td>
                    <td className="num">{o.calls}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section className="panel neighbours">
          <Status v={graph} what="the service graph" />
          {graph.state === "ok" && (
            <>
              <Neighbours title="Upstream (calls this service)" edges={graph.data.edges.filter((e) => e.server === service)} side="client" nodes={graph.data.nodes} win={winQ} testid="upstream" />
              <Neighbours title="Downstream (called by this service)" edges={graph.data.edges.filter((e) => e.client === service)} side="server" nodes={graph.data.nodes} win={winQ} testid="downstream" />
            </>
          )}
        </section>
      </div>
    </div>
  );
}

function Charts({ service, points, stepMs }: { service: string; points: m.Point[]; stepMs: number }) {
  const times = points.map((p) => Date.parse(p.time));
  const open = (d: Dot) => {
    const href = m.traceHref(d.traceID);
    if (href) navigate(href);
  };
  // A click elsewhere on a chart searches the traces of that point's
  // time (the failing ones from the error-rate chart).
  const search = (errorsOnly: boolean) => (i: number) => navigate(m.searchHref(service, { start: times[i], end: times[i] + stepMs }, undefined, errorsOnly));
  const title = (i: number) => {
    const p = points[i];
    const d = new Date(times[i]);
    const at = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
    return p.calls
      ? `${at}: ${p.calls} calls, ${m.fmtRate(p.rate)}, ${m.fmtPct(p.errorRate)} errors, p50 ${m.fmtMs(p.p50Ms)}, p95 ${m.fmtMs(p.p95Ms)}, p99 ${m.fmtMs(p.p99Ms)}\nclick: find these traces`
      : `${at}: no calls`;
  };
  if (points.every((p) => p.calls === 0)) return <div className="message">No calls in this window.</div>;
  const latencyDots: Dot[] = [];
  const errorDots: Dot[] = [];
  points.forEach((p, i) => {
    // At most two dots per point: its slowest failing and slowest other
    // exemplar (a chart of hours would otherwise be covered in dots).
    const slowest = (xs: m.Exemplar[]) => xs.reduce<m.Exemplar[]>((a, e) => (a.length && a[0].durationMs >= e.durationMs ? a : [e]), []);
    const ex = p.exemplars ?? [];
    for (const e of [...slowest(ex.filter((e) => e.error)), ...slowest(ex.filter((e) => !e.error))]) {
      const t = Date.parse(e.start);
      const title = `trace ${e.traceID}: ${m.fmtMs(e.durationMs)}${e.error ? ", failed" : ""} (click to open)`;
      latencyDots.push({ time: isNaN(t) ? times[i] + stepMs / 2 : t, value: e.durationMs, error: e.error, title, traceID: e.traceID });
      if (e.error) errorDots.push({ time: times[i] + stepMs / 2, value: p.errorRate * 100, error: true, title, traceID: e.traceID });
    }
  });
  const lat = (f: (p: m.Point) => number) => points.map((p) => (p.calls ? f(p) : null));
  return (
    <div className="charts">
      <TimeChart title="Requests per second" testid="chart-rate" times={times} stepMs={stepMs} lines={[{ name: "rate", className: "l-rate", values: points.map((p) => p.rate) }]} fmt={(v) => m.fmtRate(v)} onPoint={search(false)} pointTitle={title} />
      <TimeChart
        title="Error rate"
        testid="chart-errors"
        times={times}
        stepMs={stepMs}
        lines={[{ name: "errors / calls", className: "l-err", values: lat((p) => p.errorRate * 100) }]}
        dots={errorDots}
        onDot={open}
        onPoint={search(true)}
        pointTitle={title}
        fmt={(v) => +v.toFixed(2) + "%"}
      />
      <TimeChart
        title="Latency"
        testid="chart-latency"
        times={times}
        stepMs={stepMs}
        lines={[
          { name: "p50", className: "l-p50", values: lat((p) => p.p50Ms) },
          { name: "p95", className: "l-p95", values: lat((p) => p.p95Ms) },
          { name: "p99", className: "l-p99", values: lat((p) => p.p99Ms) },
        ]}
        dots={latencyDots}
        onDot={open}
        onPoint={search(false)}
        pointTitle={title}
        fmt={m.fmtMs}
      />
    </div>
  );
}

function Neighbours({ title, edges, side, nodes, win, testid }: { title: string; edges: m.GraphEdge[]; side: "client" | "server"; nodes: m.GraphNode[]; win?: string; testid: string }) {
  const virtual = new Set(nodes.filter((n) => n.virtual).map((n) => n.name));
  return (
    <div data-testid={testid}>
      <h3>{title}</h3>
      {edges.length === 0 ? (
        <div className="muted">None in this window.</div>
      ) : (
        <ul className="neighbour-list">
          {edges.map((e) => {
            const name = e[side];
            return (
              <li key={name + "\u0000" + e.connectionType}>
                <span className="svc-dot" style={{ background: serviceColor(name) }} />
                <a href={m.serviceHref(name, win)} onClick={onLinkClick} data-testid="neighbour">
                  {name}
                </a>
                {virtual.has(name) && <span className="tag">{e.connectionType === "database" ? "database" : "virtual"}</span>}
                <span className="spacer" />
                <span className="muted">{m.fmtRate(e.rate)}</span>
                <span className={e.errors ? "error-text" : "muted"}>{m.fmtPct(e.errorRate)} errors</span>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
