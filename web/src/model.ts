// The trace model the UI works on, and parsers from OTLP/JSON (what the
// native API returns) and Jaeger JSON (files users open).

export interface Attr {
  key: string;
  value: string;
}

export interface SpanEvent {
  time: number; // microseconds since the Unix epoch
  name: string;
  attributes: Attr[];
}

export interface SpanLink {
  traceID: string;
  spanID: string;
  attributes: Attr[];
}

export type Status = "unset" | "ok" | "error";

export interface Span {
  traceID: string;
  spanID: string;
  parentID: string; // "" for a root span
  name: string;
  service: string;
  kind: string;
  start: number; // microseconds since the Unix epoch (fractional)
  end: number;
  status: Status;
  statusMessage: string;
  attributes: Attr[];
  resource: Attr[];
  scope: { name: string; version: string; attributes: Attr[] };
  events: SpanEvent[];
  links: SpanLink[];
}

const kinds = ["unspecified", "internal", "server", "client", "producer", "consumer"];

// nanosToMicros converts a decimal string of Unix nanoseconds to
// microseconds without losing precision to float64 in the integer part.
export function nanosToMicros(v: unknown): number {
  if (typeof v === "number") return v / 1000;
  if (typeof v !== "string" || v === "") return 0;
  if (v.length <= 3) return Number(v) / 1000;
  return Number(v.slice(0, -3)) + Number(v.slice(-3)) / 1000;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  bytesValue?: string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: { key: string; value?: AnyValue }[] };
}

// anyValueText renders an OTLP AnyValue as display text.
export function anyValueText(v: AnyValue | undefined): string {
  if (!v) return "";
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue) return JSON.stringify((v.arrayValue.values ?? []).map(anyValueText));
  if (v.kvlistValue) {
    const o: Record<string, string> = {};
    for (const kv of v.kvlistValue.values ?? []) o[kv.key] = anyValueText(kv.value);
    return JSON.stringify(o);
  }
  return "";
}

function attrs(list: { key: string; value?: AnyValue }[] | undefined): Attr[] {
  if (!list) return [];
  return list.map((a) => ({ key: a.key, value: anyValueText(a.value) }));
}

function statusOf(code: unknown): Status {
  if (code === 2 || code === "STATUS_CODE_ERROR") return "error";
  if (code === 1 || code === "STATUS_CODE_OK") return "ok";
  return "unset";
}

function kindOf(k: unknown): string {
  if (typeof k === "number") return kinds[k] ?? "unspecified";
  if (typeof k === "string") return k.replace(/^SPAN_KIND_/, "").toLowerCase() || "unspecified";
  return "unspecified";
}

// The parsers walk untyped JSON.

// OTLPSpan is a span decoded from OTLP/JSON. Attributes, events and links
// are decoded on first use: the waterfall of a 100,000-span trace needs
// none of them, and decoding them up front doubles the allocations.
class OTLPSpan implements Span {
  traceID: string;
  spanID: string;
  parentID: string;
  name: string;
  kind: string;
  status: Status;
  statusMessage: string;
  private raw: any;
  private attrCache: Attr[] | undefined = undefined;
  private eventCache: SpanEvent[] | undefined = undefined;
  private linkCache: SpanLink[] | undefined = undefined;

  constructor(
    s: any,
    public service: string,
    public start: number,
    public end: number,
    public resource: Attr[],
    public scope: { name: string; version: string; attributes: Attr[] },
  ) {
    this.traceID = String(s.traceId ?? "").toLowerCase();
    this.spanID = String(s.spanId ?? "").toLowerCase();
    this.parentID = String(s.parentSpanId ?? "").toLowerCase();
    this.name = String(s.name ?? "");
    this.kind = kindOf(s.kind);
    this.status = statusOf(s.status?.code);
    this.statusMessage = String(s.status?.message ?? "");
    this.raw = s;
  }

  get attributes(): Attr[] {
    return (this.attrCache ??= attrs(this.raw.attributes));
  }

  get events(): SpanEvent[] {
    return (this.eventCache ??= (this.raw.events ?? []).map((e: any) => ({
      time: nanosToMicros(e.timeUnixNano),
      name: String(e.name ?? ""),
      attributes: attrs(e.attributes),
    })));
  }

  get links(): SpanLink[] {
    return (this.linkCache ??= (this.raw.links ?? []).map((l: any) => ({
      traceID: String(l.traceId ?? "").toLowerCase(),
      spanID: String(l.spanId ?? "").toLowerCase(),
      attributes: attrs(l.attributes),
    })));
  }
}

// parseOTLP reads an OTLP/JSON ExportTraceServiceRequest body.
export function parseOTLP(doc: any): Span[] {
  const out: Span[] = [];
  for (const rs of doc?.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    const service = resource.find((a) => a.key === "service.name")?.value ?? "unknown_service";
    for (const ss of rs.scopeSpans ?? rs.instrumentationLibrarySpans ?? []) {
      const sc = ss.scope ?? ss.instrumentationLibrary ?? {};
      const scope = { name: sc.name ?? "", version: sc.version ?? "", attributes: attrs(sc.attributes) };
      for (const s of ss.spans ?? []) {
        const start = nanosToMicros(s.startTimeUnixNano);
        let end = nanosToMicros(s.endTimeUnixNano);
        if (end < start) end = start;
        out.push(new OTLPSpan(s, service, start, end, resource, scope));
      }
    }
  }
  return out;
}

function jaegerTags(tags: any[] | undefined): Attr[] {
  return (tags ?? []).map((t) => ({ key: String(t.key), value: typeof t.value === "string" ? t.value : JSON.stringify(t.value) }));
}

// parseJaeger reads Jaeger's JSON trace format ({"data": [{traceID, spans,
// processes}]}); every trace in it is returned, concatenated.
export function parseJaeger(doc: any): Span[] {
  const out: Span[] = [];
  for (const t of doc?.data ?? []) {
    const procs: Record<string, any> = t.processes ?? {};
    for (const s of t.spans ?? []) {
      const proc = procs[s.processID] ?? s.process ?? {};
      const tags = jaegerTags(s.tags);
      const parent = (s.references ?? []).find((r: any) => r.refType === "CHILD_OF") ?? (s.references ?? [])[0];
      const get = (k: string) => tags.find((a) => a.key === k)?.value;
      const isErr = get("error") === "true" || get("otel.status_code") === "ERROR";
      out.push({
        traceID: String(s.traceID ?? t.traceID ?? "").toLowerCase().padStart(32, "0"),
        spanID: String(s.spanID ?? "").toLowerCase().padStart(16, "0"),
        parentID: parent ? String(parent.spanID).toLowerCase().padStart(16, "0") : "",
        name: String(s.operationName ?? ""),
        service: String(proc.serviceName ?? "unknown_service"),
        kind: get("span.kind") ?? "unspecified",
        start: Number(s.startTime ?? 0),
        end: Number(s.startTime ?? 0) + Number(s.duration ?? 0),
        status: isErr ? "error" : get("otel.status_code") === "OK" ? "ok" : "unset",
        statusMessage: get("otel.status_description") ?? "",
        attributes: tags,
        resource: [{ key: "service.name", value: String(proc.serviceName ?? "") }, ...jaegerTags(proc.tags)],
        scope: { name: get("otel.library.name") ?? get("otel.scope.name") ?? "", version: "", attributes: [] },
        events: (s.logs ?? []).map((l: any) => {
          const f = jaegerTags(l.fields);
          return { time: Number(l.timestamp ?? 0), name: f.find((a) => a.key === "event")?.value ?? "log", attributes: f };
        }),
        links: (s.references ?? [])
          .filter((r: any) => r.refType === "FOLLOWS_FROM" || String(r.traceID) !== String(s.traceID))
          .map((r: any) => ({ traceID: String(r.traceID).toLowerCase().padStart(32, "0"), spanID: String(r.spanID).toLowerCase().padStart(16, "0"), attributes: [] })),
      });
    }
  }
  return out;
}

// parseTraceFile accepts OTLP/JSON or Jaeger JSON text and returns the spans.
export function parseTraceFile(text: string): Span[] {
  const doc = JSON.parse(text);
  if (doc && Array.isArray(doc.resourceSpans)) return parseOTLP(doc);
  if (doc && Array.isArray(doc.data)) return parseJaeger(doc);
  throw new Error("not an OTLP/JSON or Jaeger JSON trace: expected a top-level resourceSpans or data array");
}

function encodeAttrs(list: Attr[]) {
  return list.map((a) => ({ key: a.key, value: { stringValue: a.value } }));
}

function microsToNanos(us: number): string {
  const whole = Math.floor(us);
  const frac = Math.round((us - whole) * 1000);
  return String(whole) + String(frac).padStart(3, "0");
}

// toOTLP encodes spans as an OTLP/JSON document (attribute values as
// strings), for spans that did not come from the API verbatim.
export function toOTLP(spans: Span[]): unknown {
  const byRes = new Map<string, Span[]>();
  for (const s of spans) {
    const k = JSON.stringify(s.resource) + "\u0000" + s.scope.name;
    const l = byRes.get(k);
    if (l) l.push(s);
    else byRes.set(k, [s]);
  }
  return {
    resourceSpans: [...byRes.values()].map((group) => ({
      resource: { attributes: encodeAttrs(group[0].resource) },
      scopeSpans: [
        {
          scope: { name: group[0].scope.name, version: group[0].scope.version },
          spans: group.map((s) => ({
            traceId: s.traceID,
            spanId: s.spanID,
            parentSpanId: s.parentID,
            name: s.name,
            kind: Math.max(0, kinds.indexOf(s.kind)),
            startTimeUnixNano: microsToNanos(s.start),
            endTimeUnixNano: microsToNanos(s.end),
            attributes: encodeAttrs(s.attributes),
            events: s.events.map((e) => ({ timeUnixNano: microsToNanos(e.time), name: e.name, attributes: encodeAttrs(e.attributes) })),
            links: s.links.map((l) => ({ traceId: l.traceID, spanId: l.spanID, attributes: encodeAttrs(l.attributes) })),
            status: { code: s.status === "error" ? 2 : s.status === "ok" ? 1 : 0, message: s.statusMessage },
          })),
        },
      ],
    })),
  };
}
