// Client of the metrics API (docs/metrics.md, "Native API") and helpers
// shared by the Services page, the service page and the Service map.
import { get } from "./api";

export interface RED {
  calls: number;
  errors: number;
  rate: number; // calls per second
  errorRate: number; // errors / calls
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface Exemplar {
  traceID: string;
  spanID: string;
  start: string; // RFC 3339
  durationMs: number;
  error: boolean;
}

export interface ServiceRED extends RED {
  service: string;
  kinds: string;
}

export interface Point extends RED {
  time: string;
  exemplars: Exemplar[] | null;
}

export interface OperationRED extends RED {
  service: string;
  operation: string;
  kind: string;
  exemplars: Exemplar[] | null;
}

export interface GraphNode {
  name: string;
  virtual: boolean;
}

export interface GraphEdge {
  client: string;
  server: string;
  connectionType: string;
  calls: number;
  errors: number;
  rate: number;
  errorRate: number;
  clientLatency: { p50Ms: number; p95Ms: number; p99Ms: number };
  serverLatency: { p50Ms: number; p95Ms: number; p99Ms: number };
  exemplars: Exemplar[] | null;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

// A time window, whole minutes, in milliseconds since the epoch.
export interface Window {
  start: number;
  end: number;
}

export const windows: [string, string, number][] = [
  ["15m", "Last 15 minutes", 15],
  ["1h", "Last hour", 60],
  ["6h", "Last 6 hours", 360],
  ["24h", "Last 24 hours", 1440],
];

// windowParam returns a known window name ("1h" for anything else).
export function windowParam(q: URLSearchParams): string {
  const w = q.get("window") ?? "";
  return windows.some(([k]) => k === w) ? w : "1h";
}

// windowOf is the named window ending at the end of the current minute
// (metrics have one-minute resolution).
export function windowOf(name: string, nowMs = Date.now()): Window {
  const minutes = (windows.find(([k]) => k === name) ?? windows[1])[2];
  const end = Math.ceil(nowMs / 60e3) * 60e3;
  return { start: end - minutes * 60e3, end };
}

// stepMinutes divides a window into about `points` steps of whole minutes.
export function stepMinutes(w: Window, points: number): number {
  return Math.max(1, Math.round((w.end - w.start) / 60e3 / points));
}

function range(w: Window): string {
  return `start=${w.start / 1000}&end=${w.end / 1000}`;
}

export async function services(w: Window, signal?: AbortSignal): Promise<ServiceRED[]> {
  return (await get<{ services: ServiceRED[] | null }>(`/api/v1/metrics/services?${range(w)}`, signal)).services ?? [];
}

export async function series(service: string, kind: string, w: Window, stepMin: number, signal?: AbortSignal): Promise<Point[]> {
  const k = kind && kind !== "all" ? `&kind=${encodeURIComponent(kind)}` : "";
  const r = await get<{ points: Point[] | null }>(`/api/v1/metrics/series?service=${encodeURIComponent(service)}${k}&${range(w)}&step=${stepMin}m`, signal);
  return r.points ?? [];
}

export async function operations(service: string, w: Window, signal?: AbortSignal): Promise<OperationRED[]> {
  const r = await get<{ operations: OperationRED[] | null }>(`/api/v1/metrics/operations?service=${encodeURIComponent(service)}&limit=1000&${range(w)}`, signal);
  return r.operations ?? [];
}

export async function graph(w: Window, service?: string, signal?: AbortSignal): Promise<Graph> {
  const s = service ? `service=${encodeURIComponent(service)}&` : "";
  const r = await get<{ nodes: GraphNode[] | null; edges: GraphEdge[] | null }>(`/api/v1/metrics/graph?${s}${range(w)}`, signal);
  return { nodes: r.nodes ?? [], edges: r.edges ?? [] };
}

// Links. Every name is encoded; trace IDs must be hex.

export function serviceHref(name: string, windowName?: string): string {
  return "/services/" + encodeURIComponent(name) + (windowName ? "?window=" + windowName : "");
}

export function traceHref(id: string): string | null {
  return /^[0-9a-fA-F]{1,32}$/.test(id) ? "/trace/" + id.toLowerCase() : null;
}

// searchHref opens the search page for a service (and span name) in the
// window; start and end are Unix microseconds as in Jaeger UI links.
export function searchHref(service: string, w: Window, operation?: string, errorsOnly?: boolean): string {
  const q = new URLSearchParams({ service });
  if (operation) q.set("operation", operation);
  if (errorsOnly) q.set("status", "error");
  q.set("lookback", "custom");
  q.set("start", String(w.start * 1000));
  q.set("end", String(w.end * 1000));
  return "/search?" + q.toString();
}

// Formatting.

export function fmtRate(r: number): string {
  if (!r) return "0/s";
  if (r >= 100) return r.toFixed(0) + "/s";
  if (r >= 10) return r.toFixed(1) + "/s";
  if (r >= 0.01) return r.toFixed(2) + "/s";
  return (r * 60).toFixed(2) + "/min";
}

export function fmtPct(f: number): string {
  if (!f) return "0%";
  const p = f * 100;
  if (p < 0.1) return "<0.1%";
  return (p >= 10 ? p.toFixed(1) : p.toFixed(2)).replace(/\.?0+$/, "") + "%";
}

export function fmtMs(ms: number): string {
  if (!isFinite(ms)) return "–";
  if (ms === 0) return "0";
  if (ms < 1) return Math.round(ms * 1000) + "µs";
  if (ms < 10) return ms.toFixed(2).replace(/\.?0+$/, "") + "ms";
  if (ms < 1000) return ms.toFixed(ms < 100 ? 1 : 0).replace(/\.0$/, "") + "ms";
  return (ms / 1000).toFixed(2).replace(/\.?0+$/, "") + "s";
}

// sortRows sorts by a numeric or string field; strings ascending and
// numbers descending first, `asc` flips that.
export function sortRows<T>(rows: T[], key: keyof T, flip: boolean): T[] {
  const r = [...rows];
  r.sort((a, b) => {
    const x = a[key];
    const y = b[key];
    const c = typeof x === "number" && typeof y === "number" ? y - x : String(x).localeCompare(String(y));
    return flip ? -c : c;
  });
  return r;
}
