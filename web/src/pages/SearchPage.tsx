import { useEffect, useMemo, useState } from "react";
import * as api from "../api";
import { navigate, onLinkClick } from "../router";
import { fmtAgo, fmtDuration, fmtTime, serviceColor } from "../format";
import { ScatterPlot } from "../components/ScatterPlot";
import { TraceQLBox } from "../components/TraceQLBox";
import { MetricsResult } from "../components/MetricsResult";

const lookbacks: [string, string][] = [
  ["5m", "Last 5 minutes"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["6h", "Last 6 hours"],
  ["12h", "Last 12 hours"],
  ["24h", "Last 24 hours"],
  ["2d", "Last 2 days"],
  ["7d", "Last 7 days"],
  ["all", "Any time"],
  ["custom", "Custom range"],
];

const units: Record<string, number> = { m: 60e3, h: 3600e3, d: 86400e3 };

// Form holds the search form's fields; it mirrors the URL parameters.
interface Form {
  mode: string; // "form" or "traceql"
  q: string; // the TraceQL query
  service: string;
  operation: string;
  attrs: string[];
  minDuration: string;
  maxDuration: string;
  durationScope: string;
  status: string;
  lookback: string;
  start: string; // datetime-local, custom range only
  end: string;
  limit: string;
  sort: string;
}

function formFromQuery(q: URLSearchParams): Form {
  const attrs = q.getAll("attr");
  // Jaeger UI links carry tags={"key":"value"}.
  const tags = q.get("tags");
  if (tags) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(tags) as Record<string, unknown>)) attrs.push(`${k}=${String(v)}`);
    } catch {
      /* ignore malformed tags */
    }
  }
  return {
    mode: q.get("mode") === "traceql" ? "traceql" : "form",
    q: q.get("q") ?? "",
    service: q.get("service") ?? "",
    operation: q.get("operation") ?? q.get("name") ?? "",
    attrs: attrs.length ? attrs : [""],
    minDuration: q.get("minDuration") ?? "",
    maxDuration: q.get("maxDuration") ?? "",
    durationScope: q.get("durationScope") ?? "span",
    status: q.get("status") ?? "",
    lookback: q.get("lookback") ?? "1h",
    start: localInput(q.get("start") ?? ""),
    end: localInput(q.get("end") ?? ""),
    limit: q.get("limit") ?? "20",
    sort: q.get("sort") ?? "recent",
  };
}

function formToQuery(f: Form): string {
  const q = new URLSearchParams();
  const set = (k: string, v: string, def = "") => {
    if (v && v !== def) q.set(k, v);
  };
  if (f.mode === "traceql") {
    q.set("mode", "traceql");
    set("q", f.q);
  } else {
    set("service", f.service);
    set("operation", f.operation);
  }
  if (f.mode !== "traceql") {
    for (const a of f.attrs) if (a.trim()) q.append("attr", a.trim());
    set("minDuration", f.minDuration.trim());
    set("maxDuration", f.maxDuration.trim());
    if (f.minDuration || f.maxDuration) set("durationScope", f.durationScope, "span");
    set("status", f.status);
  }
  q.set("lookback", f.lookback);
  if (f.lookback === "custom") {
    set("start", f.start);
    set("end", f.end);
  }
  set("limit", f.limit, "20");
  set("sort", f.sort, "recent");
  return q.toString();
}

// apiParams turns the form into native search parameters.
function apiParams(f: Form, nowMs: number): URLSearchParams {
  const p = new URLSearchParams();
  if (f.service) p.set("service", f.service);
  if (f.operation) p.set("name", f.operation);
  for (const a of f.attrs) if (a.trim()) p.append("attr", a.trim());
  if (f.minDuration.trim()) p.set("minDuration", f.minDuration.trim());
  if (f.maxDuration.trim()) p.set("maxDuration", f.maxDuration.trim());
  if (f.minDuration.trim() || f.maxDuration.trim()) p.set("durationScope", f.durationScope);
  if (f.status) {
    p.set("status", f.status);
    p.set("statusScope", "trace");
  }
  const lb = f.lookback.match(/^(\d+)([mhd])$/);
  if (lb) p.set("start", String(nowMs - Number(lb[1]) * units[lb[2]]));
  if (f.lookback === "custom") {
    if (f.start) p.set("start", String(new Date(f.start).getTime()));
    if (f.end) p.set("end", String(new Date(f.end).getTime()));
  }
  p.set("limit", f.limit || "20");
  return p;
}

// tqlParams turns the TraceQL mode's fields into /api/v1/traceql parameters.
function tqlParams(f: Form, nowMs: number): URLSearchParams {
  const p = new URLSearchParams({ q: f.q });
  const lb = f.lookback.match(/^(\d+)([mhd])$/);
  if (lb) p.set("start", String(nowMs - Number(lb[1]) * units[lb[2]]));
  if (f.lookback === "custom") {
    if (f.start) p.set("start", String(new Date(f.start).getTime()));
    if (f.end) p.set("end", String(new Date(f.end).getTime()));
  }
  if (api.isMetricsQuery(f.q)) return p; // series, not traces: no limit; the server picks the step
  p.set("limit", f.limit || "20");
  return p;
}

// traceHref links a result to its trace; the spans a TraceQL query matched
// are highlighted there (uiFind accepts span IDs).
function traceHref(t: { traceID: string; matchedSpans?: string[] }): string {
  return "/trace/" + t.traceID + (t.matchedSpans?.length ? "?uiFind=" + encodeURIComponent(t.matchedSpans.join(" ")) : "");
}

// Jaeger UI links carry start and end as Unix microseconds; the form's
// datetime inputs want local date and time.
function localInput(v: string): string {
  if (!/^\d+$/.test(v)) return v;
  const d = new Date(Number(v) / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const sorts: Record<string, (a: api.TraceSummary, b: api.TraceSummary) => number> = {
  recent: (a, b) => (BigInt(b.startTimeUnixNano) > BigInt(a.startTimeUnixNano) ? 1 : BigInt(b.startTimeUnixNano) < BigInt(a.startTimeUnixNano) ? -1 : 0),
  slowest: (a, b) => b.durationNanos - a.durationNanos,
  fastest: (a, b) => a.durationNanos - b.durationNanos,
  spans: (a, b) => b.spanCount - a.spanCount,
  errors: (a, b) => b.errorCount - a.errorCount,
};

export function SearchPage({ query }: { query: URLSearchParams }) {
  const qs = query.toString();
  const applied = useMemo(() => formFromQuery(new URLSearchParams(qs)), [qs]);
  const [form, setForm] = useState<Form>(applied);
  const [servicesList, setServices] = useState<string[]>([]);
  const [ops, setOps] = useState<{ name: string; kind: string }[]>([]);
  const [keys, setKeys] = useState<string[]>([]);
  const [values, setValues] = useState<Record<string, string[]>>({});
  const [results, setResults] = useState<(api.TraceSummary & { matchedSpans?: string[] })[] | null>(null);
  const [metrics, setMetrics] = useState<{ series: api.MetricsSeries[]; stepSeconds: number } | null>(null);
  const [error, setError] = useState("");
  const [tqlError, setTqlError] = useState<api.TraceQLError | null>(null);
  const [loading, setLoading] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);

  useEffect(() => setForm(applied), [applied]);
  useEffect(() => {
    api.services().then(setServices, () => {});
    api.attributeKeys().then(setKeys, () => {});
  }, []);
  useEffect(() => {
    if (!form.service) return setOps([]);
    api.operations(form.service).then(setOps, () => setOps([]));
  }, [form.service]);

  // Run the search whenever the URL's search changes (it is the state).
  useEffect(() => {
    const ctl = new AbortController();
    setError("");
    setTqlError(null);
    if (applied.mode === "traceql" && !applied.q.trim()) {
      setResults(null);
      setLoading(false);
      return;
    }
    setLoading(true);
    setMetrics(null);
    const fail = (e: Error, empty: [] | null) => {
      if (e.name === "AbortError") return;
      if (e instanceof api.TraceQLError) setTqlError(e);
      else setError(e.message);
      setResults(empty);
      setLoading(false);
    };
    if (applied.mode === "traceql" && api.isMetricsQuery(applied.q)) {
      api.traceqlMetrics(tqlParams(applied, Date.now()), ctl.signal).then(
        (m) => {
          setMetrics(m);
          setResults(null);
          setLoading(false);
        },
        (e: Error) => fail(e, null),
      );
      return () => ctl.abort();
    }
    const run: Promise<(api.TraceSummary & { matchedSpans?: string[] })[]> =
      applied.mode === "traceql" ? api.traceqlSearch(tqlParams(applied, Date.now()), ctl.signal) : api.search(apiParams(applied, Date.now()), ctl.signal);
    run.then(
      (r) => {
        setResults(r);
        setLoading(false);
      },
      (e: Error) => fail(e, []),
    );
    return () => ctl.abort();
  }, [applied]);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    navigate("/search?" + formToQuery(form));
  };
  const upd = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));

  // Attribute autocomplete: keys until an operator is typed, then values.
  const attrKeyOf = (text: string) => {
    const m = text.match(/^([^=!<>~]+?)\s*(=|!=|=~|!~)\s*/);
    if (!m) return null;
    const key = m[1].trim();
    return { key, op: m[2], bare: key.replace(/^(span|resource|event|link|instrumentation)\./, "") };
  };
  const wantedKeys = form.attrs.map((a) => attrKeyOf(a)?.bare ?? "").filter(Boolean);
  const wanted = [...new Set(wantedKeys)].join("\u0000");
  useEffect(() => {
    for (const k of wanted ? wanted.split("\u0000") : []) {
      if (values[k]) continue;
      api.attributeValues(k).then(
        (v) => setValues((old) => ({ ...old, [k]: v })),
        () => setValues((old) => ({ ...old, [k]: [] })),
      );
    }
  }, [wanted, values]);
  const attrSuggestions = (text: string): string[] => {
    const a = attrKeyOf(text);
    if (!a) return keys;
    return (values[a.bare] ?? []).map((v) => `${a.key}${a.op}${v}`);
  };

  const sorted = useMemo(() => (results ? [...results].sort(sorts[applied.sort] ?? sorts.recent) : []), [results, applied.sort]);
  const maxDur = Math.max(1, ...sorted.map((t) => t.durationNanos));
  const togglePick = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));

  return (
    <div className="page search-page">
      <form className="search-form panel" onSubmit={submit} aria-label="Search traces">
        <div className="segmented" role="radiogroup" aria-label="Search mode">
          {[
            ["form", "Form"],
            ["traceql", "TraceQL"],
          ].map(([v, l]) => (
            <label key={v}>
              <input type="radio" name="mode" checked={form.mode === v} onChange={() => upd({ mode: v })} data-testid={"mode-" + v} />
              {l}
            </label>
          ))}
        </div>
        {form.mode === "traceql" ? (
          <TraceQLBox value={form.q} onChange={(q) => upd({ q })} error={tqlError && applied.q === form.q ? tqlError : null} />
        ) : (
          <>
          <label>
            Service
            <select value={form.service} onChange={(e) => upd({ service: e.target.value, operation: "" })} name="service">
              <option value="">All services</option>
              {[...new Set([...servicesList, ...(form.service ? [form.service] : [])])].map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Span name
            <input list="ops" value={form.operation} onChange={(e) => upd({ operation: e.target.value })} placeholder="any" name="operation" />
            <datalist id="ops">
              {[...new Set(ops.map((o) => o.name))].map((o) => (
                <option key={o} value={o} />
              ))}
            </datalist>
          </label>
          <fieldset>
            <legend>Attributes</legend>
            {form.attrs.map((a, i) => (
              <div className="attr-row" key={i}>
                <input
                  list={`attr-list-${i}`}
                  value={a}
                  name="attr"
                  placeholder="http.response.status_code>=500"
                  onChange={(e) => upd({ attrs: form.attrs.map((x, j) => (j === i ? e.target.value : x)) })}
                />
                <datalist id={`attr-list-${i}`}>
                  {attrSuggestions(a).slice(0, 200).map((s) => (
                    <option key={s} value={s} />
                  ))}
                </datalist>
                <button type="button" className="icon" title="Remove" onClick={() => upd({ attrs: form.attrs.length > 1 ? form.attrs.filter((_, j) => j !== i) : [""] })}>
                  ×
                </button>
              </div>
            ))}
            <button type="button" className="link-button" onClick={() => upd({ attrs: [...form.attrs, ""] })}>
              + attribute
            </button>
          </fieldset>
          <div className="row2">
            <label>
              Min duration
              <input value={form.minDuration} onChange={(e) => upd({ minDuration: e.target.value })} placeholder="100ms" name="minDuration" />
            </label>
            <label>
              Max duration
              <input value={form.maxDuration} onChange={(e) => upd({ maxDuration: e.target.value })} placeholder="2s" name="maxDuration" />
            </label>
          </div>
          <div className="segmented" role="radiogroup" aria-label="Duration applies to">
            {[
              ["span", "Any span"],
              ["trace", "Whole trace"],
            ].map(([v, l]) => (
              <label key={v}>
                <input type="radio" name="durationScope" checked={form.durationScope === v} onChange={() => upd({ durationScope: v })} />
                {l}
              </label>
            ))}
          </div>
          <label>
            Status
            <select value={form.status} onChange={(e) => upd({ status: e.target.value })} name="status">
              <option value="">Any</option>
              <option value="error">Has errors</option>
              <option value="ok">No errors (OK)</option>
              <option value="unset">No errors (unset)</option>
            </select>
          </label>
          </>
        )}
        <label>
          Time range
          <select value={form.lookback} onChange={(e) => upd({ lookback: e.target.value })} name="lookback">
            {lookbacks.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        {form.lookback === "custom" && (
          <div className="row2">
            <label>
              From
              <input type="datetime-local" step="1" value={form.start} onChange={(e) => upd({ start: e.target.value })} name="start" />
            </label>
            <label>
              To
              <input type="datetime-local" step="1" value={form.end} onChange={(e) => upd({ end: e.target.value })} name="end" />
            </label>
          </div>
        )}
        {!(form.mode === "traceql" && api.isMetricsQuery(form.q)) && (
          <label>
            Limit
            <input type="number" min="1" max="10000" value={form.limit} onChange={(e) => upd({ limit: e.target.value })} name="limit" />
          </label>
        )}
        <button type="submit" className="button primary" data-testid="search-submit">
          Find traces
        </button>
      </form>
      <section className="results">
        {error && (
          <div className="error-box" role="alert">
            {error}
          </div>
        )}
        {metrics && <MetricsResult series={metrics.series} stepSeconds={metrics.stepSeconds} showTotal={/\|\s*count_over_time\s*\(/.test(applied.q)} />}
        {results && sorted.length > 0 && (
          <ScatterPlot traces={sorted} onOpen={(id) => navigate(traceHref(sorted.find((t) => t.traceID === id) ?? { traceID: id }))} />
        )}
        <div className="results-bar">
          <span data-testid="result-count">
            {loading ? "Searching…" : metrics ? `${metrics.series.length} series` : results ? `${sorted.length} trace${sorted.length === 1 ? "" : "s"}` : ""}
          </span>
          <div className="spacer" />
          {!metrics && (
          <>
          <label>
            Sort{" "}
            <select value={applied.sort} onChange={(e) => navigate("/search?" + formToQuery({ ...applied, sort: e.target.value }), { replace: true })} name="sort">
              <option value="recent">Most recent</option>
              <option value="slowest">Slowest first</option>
              <option value="fastest">Fastest first</option>
              <option value="spans">Most spans</option>
              <option value="errors">Most errors</option>
            </select>
          </label>
          <button type="button" className="button" disabled={picked.length !== 2} onClick={() => navigate(`/trace/${picked[0]}...${picked[1]}`)} data-testid="compare-picked">
            Compare {picked.length}/2
          </button>
          </>
          )}
        </div>
        {results && sorted.length === 0 && !error && !tqlError && <div className="message">No traces match. Widen the time range or remove filters.</div>}
        {applied.mode === "traceql" && !applied.q.trim() && <div className="message">Type a TraceQL query, e.g. {"{ status = error }"}, and run it.</div>}
        <ul className="result-list">
          {sorted.map((t) => {
            const startUs = Number(BigInt(t.startTimeUnixNano) / 1000n);
            const href = traceHref(t);
            return (
              <li key={t.traceID} className={"result panel" + (t.errorCount ? " has-error" : "")} data-testid="result" data-trace-id={t.traceID}>
                <div className="result-head">
                  <input type="checkbox" title="Pick for comparison" checked={picked.includes(t.traceID)} onChange={() => togglePick(t.traceID)} />
                  <a href={href} onClick={onLinkClick} className="result-title">
                    <span className="svc-dot" style={{ background: serviceColor(t.rootServiceName) }} />
                    <span>{t.rootServiceName}:</span>
                    <b>{t.rootSpanName}</b>
                    {t.rootMissing && <span className="tag">root missing</span>}
                  </a>
                  <span className="trace-id mono">{t.traceID.slice(0, 8)}</span>
                  <div className="spacer" />
                  <span className="dur">{fmtDuration(t.durationNanos / 1000)}</span>
                </div>
                <div className="dur-bar">
                  <div style={{ width: `${(100 * t.durationNanos) / maxDur}%` }} />
                </div>
                <div className="result-meta">
                  <span>{t.spanCount} spans</span>
                  {t.matchedSpans && <span data-testid="matched-count">{t.matchedSpans.length} matched</span>}
                  {t.errorCount > 0 && <span className="error-text">{t.errorCount} errors</span>}
                  <span className="svc-tags">
                    {t.services.map((s) => (
                      <span key={s.name} className="svc-tag" style={{ borderColor: serviceColor(s.name) }} title={`${s.name}: ${s.spanCount} spans, ${s.errorCount} errors`}>
                        <span className="svc-dot" style={{ background: serviceColor(s.name) }} />
                        {s.name} ({s.spanCount})
                      </span>
                    ))}
                  </span>
                  <div className="spacer" />
                  <span title={fmtTime(startUs)}>{fmtAgo(startUs)}</span>
                </div>
              </li>
            );
          })}
        </ul>
      </section>
    </div>
  );
}
