// Client of the native query API (docs/api.md).
import { parseOTLP, type Span } from "./model";

export interface ServiceCount {
  name: string;
  spanCount: number;
  errorCount: number;
}

export interface TraceSummary {
  traceID: string;
  rootServiceName: string;
  rootSpanName: string;
  rootMissing?: boolean;
  startTime: string;
  startTimeUnixNano: string;
  durationNanos: number;
  spanCount: number;
  errorCount: number;
  services: ServiceCount[];
}

export class APIError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const r = await fetch(path, { signal, headers: { Accept: "application/json" } });
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new APIError(r.status, `${r.status} ${r.statusText}: ${text.slice(0, 200)}`);
  }
  if (!r.ok) {
    const msg = (body as { error?: string })?.error ?? r.statusText;
    throw new APIError(r.status, msg);
  }
  return body as T;
}

export async function search(params: URLSearchParams, signal?: AbortSignal): Promise<TraceSummary[]> {
  const r = await get<{ traces: TraceSummary[] }>("/api/v1/search?" + params.toString(), signal);
  return r.traces ?? [];
}

export async function services(): Promise<string[]> {
  return (await get<{ services: string[] }>("/api/v1/services")).services ?? [];
}

export async function operations(service: string): Promise<{ name: string; kind: string }[]> {
  return (await get<{ operations: { name: string; kind: string }[] }>(`/api/v1/services/${encodeURIComponent(service)}/operations`)).operations ?? [];
}

export async function attributeKeys(): Promise<string[]> {
  return (await get<{ keys: string[] }>("/api/v1/attributes")).keys ?? [];
}

export async function attributeValues(key: string): Promise<string[]> {
  const r = await get<{ values: { value: string }[] }>(`/api/v1/attributes/${encodeURIComponent(key)}/values?limit=20`);
  return (r.values ?? []).map((v) => v.value);
}

// fetchTrace returns the trace's spans, the raw OTLP/JSON text and when
// the response body had arrived (performance.now()).
export async function fetchTrace(id: string, signal?: AbortSignal): Promise<{ spans: Span[]; raw: string; arrived: number; parseMs: number }> {
  const r = await fetch(`/api/v1/traces/${encodeURIComponent(id)}`, { signal });
  const raw = await r.text();
  const arrived = performance.now();
  if (!r.ok) {
    let msg = r.statusText;
    try {
      msg = JSON.parse(raw).error ?? msg;
    } catch {
      /* not JSON */
    }
    throw new APIError(r.status, msg);
  }
  const spans = parseOTLP(JSON.parse(raw));
  return { spans, raw, arrived, parseMs: performance.now() - arrived };
}

export interface TraceQLResult extends TraceSummary {
  matchedSpans: string[];
}

// TraceQLError is an invalid query; position locates it in the query text.
export class TraceQLError extends APIError {
  constructor(
    message: string,
    public detail: string,
    public position?: { line: number; column: number; offset: number },
    public unsupported = false,
  ) {
    super(400, message);
  }
}

// MetricsSeries is one series of a TraceQL metrics query: labels (as
// text) and [unix ms, value] samples, oldest first.
export interface MetricsSeries {
  labels: Record<string, string>;
  samples: [number, number][];
}

// isMetricsQuery tells a TraceQL metrics query ("{ } | rate()") from a
// search, to ask /api/v1/traceql for series instead of traces.
export function isMetricsQuery(q: string): boolean {
  return /\|\s*(rate|count_over_time|min_over_time|max_over_time|sum_over_time|avg_over_time|quantile_over_time|histogram_over_time)\s*\(/.test(q);
}

type TraceQLBody = {
  traces?: TraceQLResult[];
  series?: MetricsSeries[];
  stepSeconds?: number;
  error?: string;
  message?: string;
  position?: { line: number; column: number; offset: number };
  unsupported?: boolean;
};

// traceql calls /api/v1/traceql; a 400 becomes a TraceQLError with the
// error's position.
async function traceql(params: URLSearchParams, signal?: AbortSignal): Promise<TraceQLBody> {
  const r = await fetch("/api/v1/traceql?" + params.toString(), { signal, headers: { Accept: "application/json" } });
  const text = await r.text();
  let body: TraceQLBody;
  try {
    body = JSON.parse(text);
  } catch {
    throw new APIError(r.status, `${r.status} ${r.statusText}: ${text.slice(0, 200)}`);
  }
  if (r.status === 400) throw new TraceQLError(body.error ?? "invalid query", body.message ?? body.error ?? "", body.position, body.unsupported === true);
  if (!r.ok) throw new APIError(r.status, body.error ?? r.statusText);
  return body;
}

export async function traceqlMetrics(params: URLSearchParams, signal?: AbortSignal): Promise<{ series: MetricsSeries[]; stepSeconds: number }> {
  const body = await traceql(params, signal);
  if (!body.series) throw new APIError(200, "the server answered a metrics query without series");
  return { series: body.series, stepSeconds: body.stepSeconds ?? 60 };
}

export async function traceqlSearch(params: URLSearchParams, signal?: AbortSignal): Promise<TraceQLResult[]> {
  return (await traceql(params, signal)).traces ?? [];
}

// Adaptive sampling's last calculation (docs/adaptive-sampling.md).
export interface AdaptiveOperation {
  operation: string;
  probability: number;
  observed_traces_per_second: number;
  estimated_traces_per_second: number;
  error_traces_per_second: number;
}

export interface AdaptiveSampling {
  enabled: boolean;
  calculated_at?: string;
  interval_seconds?: number;
  target_traces_per_second?: number;
  untracked_traces?: number;
  services?: { service: string; default_probability: number; operations: AdaptiveOperation[] }[];
}

export async function adaptiveSampling(signal?: AbortSignal): Promise<AdaptiveSampling> {
  return get<AdaptiveSampling>("/api/v1/sampling/adaptive", signal);
}

// Tail sampling's counters (docs/sampling.md). Counters are totals since
// the server started.
export interface TailPolicy {
  name: string;
  type: string;
  evaluated: number;
  matched: number;
  kept: number;
  overBudget: number;
}

export interface TailSampling {
  enabled: boolean;
  idleSeconds?: number;
  maxWaitSeconds?: number;
  maxMemoryBytes?: number;
  heldTraces?: number;
  heldSpans?: number;
  heldBytes?: number;
  tracesKept?: number;
  tracesDropped?: number;
  spansKept?: number;
  spansDropped?: number;
  lateSpansKept?: number;
  lateSpansDropped?: number;
  earlyDecisions?: number;
  policies?: TailPolicy[];
}

export async function tailSampling(signal?: AbortSignal): Promise<TailSampling> {
  return get<TailSampling>("/api/v1/sampling/tail", signal);
}
