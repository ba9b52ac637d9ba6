import { useMemo } from "react";
import * as m from "../metrics";
import { onLinkClick, setQuery } from "../router";
import { serviceColor } from "../format";
import { Sparkline } from "../components/Charts";
import { SortHeader, Status, useLoad, useWindow, WindowPicker, type Sort } from "../components/MetricsControls";

interface Row extends m.ServiceRED {
  spark: m.Point[] | null; // null while loading or when it failed
}

const columns: [keyof m.ServiceRED, string, boolean][] = [
  ["service", "Service", false],
  ["rate", "Rate", true],
  ["errorRate", "Error %", true],
  ["p50Ms", "p50", true],
  ["p95Ms", "p95", true],
  ["p99Ms", "p99", true],
];

// ServicesPage lists every service with its rate, errors and latency in
// a time window, with sparklines; sortable and filterable.
export function ServicesPage({ query }: { query: URLSearchParams }) {
  const filter = query.get("q") ?? "";
  const sort: Sort = { key: columns.some(([k]) => k === query.get("sort")) ? query.get("sort")! : "service", flip: query.get("dir") === "flip" };
  const { win, w, refresh } = useWindow(query);
  const step = m.stepMinutes(w, 30);
  const list = useLoad((signal) => m.services(w, signal), [w]);
  const sparks = useLoad(
    async (signal) => {
      const out = new Map<string, m.Point[]>();
      if (list.state !== "ok") return out;
      // Six requests at a time, as a browser would over HTTP/1.1 anyway.
      const todo = [...list.data];
      const worker = async () => {
        for (let s = todo.shift(); s; s = todo.shift()) out.set(s.service, await m.series(s.service, s.kinds, w, step, signal));
      };
      await Promise.all(Array.from({ length: 6 }, worker));
      return out;
    },
    [list],
  );
  const rows: Row[] = useMemo(() => {
    if (list.state !== "ok") return [];
    const f = filter.toLowerCase();
    const r = list.data.filter((s) => s.service.toLowerCase().includes(f)).map((s) => ({ ...s, spark: sparks.state === "ok" ? (sparks.data.get(s.service) ?? null) : null }));
    return m.sortRows(r, sort.key as keyof Row, sort.flip);
  }, [list, sparks, filter, sort.key, sort.flip]);
  const onSort = (s: Sort) => setQuery({ sort: s.key === "service" ? null : s.key, dir: s.flip ? "flip" : null });

  return (
    <div className="page metrics-page" data-testid="services-page">
      <div className="metrics-bar">
        <h2>Services</h2>
        <input type="search" placeholder="Filter services" value={filter} onChange={(e) => setQuery({ q: e.target.value })} name="filter" aria-label="Filter services" />
        <div className="spacer" />
        <span className="muted">
          Entry spans (server, consumer) per service; all spans for services without any. Points of {step}m.
        </span>
        <WindowPicker value={win} onRefresh={refresh} />
      </div>
      <Status v={list} what="services" />
      {sparks.state === "error" && (
        <div className="error-box" role="alert">
          Could not load the sparklines: {sparks.error}
        </div>
      )}
      {list.state === "ok" && list.data.length === 0 && (
        <div className="message" data-testid="empty">
          No data in this window: no spans were received in the {m.windows.find(([k]) => k === win)?.[1].toLowerCase()}.
        </div>
      )}
      {list.state === "ok" && list.data.length > 0 && (
        <div className="panel table-panel">
          <table className="grid-table metrics-table" data-testid="services-table">
            <thead>
              <tr>
                {columns.map(([k, l, num]) => (
                  <SortHeader key={k} k={k} label={l} num={num} sort={sort} onSort={onSort} />
                ))}
                <th>Rate over time</th>
                <th>p95 over time</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.service} data-testid="service-row" data-service={r.service}>
                  <td>
                    <span className="svc-dot" style={{ background: serviceColor(r.service) }} />
                    <a href={m.serviceHref(r.service, win === "1h" ? undefined : win)} onClick={onLinkClick} className="svc-link">
                      {r.service}
                    </a>
                    {r.kinds === "all" && (
                      <span className="tag" title="This service has no server or consumer spans in the window: all its spans are counted">
                        all spans
                      </span>
                    )}
                  </td>
                  <td className="num" data-col="rate">
                    {m.fmtRate(r.rate)}
                  </td>
                  <td className={"num" + (r.errors ? " error-text" : "")} data-col="errorRate">
                    {m.fmtPct(r.errorRate)}
                  </td>
                  <td className="num">{m.fmtMs(r.p50Ms)}</td>
                  <td className="num">{m.fmtMs(r.p95Ms)}</td>
                  <td className="num">{m.fmtMs(r.p99Ms)}</td>
                  <td>{r.spark && <Sparkline values={r.spark.map((p) => p.rate)} title={`rate of ${r.service}`} />}</td>
                  <td>{r.spark && <Sparkline values={r.spark.map((p) => (p.calls ? p.p95Ms : 0))} className="p95" title={`p95 of ${r.service}`} />}</td>
                </tr>
              ))}
              {rows.length === 0 && (
                <tr>
                  <td colSpan={8} className="message">
                    No service matches “{filter}”.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
