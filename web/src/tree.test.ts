import { describe, expect, it } from "vitest";
import { buildTree, compareTrees, criticalPath, findSpans, sampledBy, statistics, visibleRows } from "./tree";
import { nanosToMicros, parseJaeger, parseOTLP, parseTraceFile, toOTLP, type Span } from "./model";

function span(id: string, parent: string, start: number, end: number, extra: Partial<Span> = {}): Span {
  return {
    traceID: "t".repeat(32),
    spanID: id,
    parentID: parent,
    name: "op-" + id,
    service: "svc",
    kind: "internal",
    start,
    end,
    status: "unset",
    statusMessage: "",
    attributes: [],
    resource: [],
    scope: { name: "", version: "", attributes: [] },
    events: [],
    links: [],
    ...extra,
  };
}

describe("buildTree", () => {
  it("links children, orders by start and computes depth and sizes", () => {
    const t = buildTree([span("c", "a", 20, 30), span("a", "", 0, 100), span("b", "a", 10, 50), span("d", "b", 12, 14)]);
    expect(t.roots.map((n) => n.span.spanID)).toEqual(["a"]);
    expect(t.order.map((n) => n.span.spanID)).toEqual(["a", "b", "d", "c"]);
    expect(t.order.map((n) => n.depth)).toEqual([0, 1, 2, 1]);
    expect(t.byID.get("a")!.size).toBe(4);
    expect(t.maxDepth).toBe(2);
    expect(t.start).toBe(0);
    expect(t.end).toBe(100);
  });

  it("makes spans with a missing parent orphan roots", () => {
    const t = buildTree([span("a", "", 0, 10), span("x", "gone", 5, 8), span("y", "x", 6, 7)]);
    expect(t.roots.map((n) => n.span.spanID)).toEqual(["a", "x"]);
    expect(t.byID.get("x")!.orphan).toBe(true);
    expect(t.byID.get("a")!.orphan).toBe(false);
    expect(t.byID.get("y")!.depth).toBe(1);
  });

  it("breaks parent cycles instead of looping", () => {
    const t = buildTree([span("a", "b", 0, 10), span("b", "a", 1, 5)]);
    expect(t.order.length).toBe(2);
    expect(t.roots.length).toBe(1);
  });

  it("handles a 100,000-deep chain without recursion", () => {
    const spans: Span[] = [];
    for (let i = 0; i < 100000; i++) spans.push(span("s" + i, i ? "s" + (i - 1) : "", i, 200000 - i));
    const t = buildTree(spans);
    expect(t.maxDepth).toBe(99999);
    expect(criticalPath(t).size).toBe(100000);
  });

  it("keeps a child that starts before its parent (clock skew) in the tree", () => {
    const t = buildTree([span("a", "", 100, 200), span("b", "a", 90, 150)]);
    expect(t.byID.get("b")!.parent!.span.spanID).toBe("a");
    expect(t.byID.get("b")!.skew).toBe(true);
    expect(t.byID.get("a")!.skew).toBe(false);
    expect(t.start).toBe(90);
    // self time clips the child to the parent: 100..150 covered
    expect(t.byID.get("a")!.selfTime).toBe(50);
  });
});

describe("self time", () => {
  it("subtracts the union of overlapping children", () => {
    const t = buildTree([span("a", "", 0, 100), span("b", "a", 10, 40), span("c", "a", 30, 60), span("d", "a", 80, 90)]);
    expect(t.byID.get("a")!.selfTime).toBe(100 - 50 - 10);
    expect(t.byID.get("b")!.selfTime).toBe(30);
  });
});

describe("criticalPath", () => {
  it("follows the last-finishing child backwards", () => {
    // a: 0..100; b: 10..40; c: 30..90 (finishes last); d: 0..20 under a, before c starts
    const t = buildTree([span("a", "", 0, 100), span("b", "a", 10, 40), span("c", "a", 30, 90), span("e", "c", 40, 60)]);
    const cp = criticalPath(t);
    expect(cp.get("a")).toEqual([
      { start: 90, end: 100 },
      { start: 0, end: 10 },
    ]);
    // b ends at 40 but c starts at 30, so only b's 10..30 is on the path
    expect(cp.get("b")).toEqual([{ start: 10, end: 30 }]);
    expect(cp.get("c")).toEqual([
      { start: 60, end: 90 },
      { start: 30, end: 40 },
    ]);
    expect(cp.get("e")).toEqual([{ start: 40, end: 60 }]);
  });

  it("clips a child that outlives its parent", () => {
    const t = buildTree([span("a", "", 0, 100), span("b", "a", 50, 150)]);
    const cp = criticalPath(t);
    expect(cp.get("b")).toEqual([{ start: 50, end: 100 }]);
    expect(cp.get("a")).toEqual([{ start: 0, end: 50 }]);
  });

  it("leaves out children that ran in parallel with the path", () => {
    const t = buildTree([span("a", "", 0, 100), span("b", "a", 10, 90), span("c", "a", 20, 30)]);
    expect(criticalPath(t).has("c")).toBe(false);
  });
});

describe("statistics", () => {
  it("groups by service and name with count, total, self, min, max, avg", () => {
    const t = buildTree([
      span("a", "", 0, 100, { name: "root" }),
      span("b", "a", 0, 20, { name: "q", service: "db" }),
      span("c", "a", 30, 70, { name: "q", service: "db", status: "error" }),
    ]);
    const s = statistics(t, criticalPath(t));
    const q = s.find((x) => x.name === "q")!;
    // critical path: root 70..100, c 30..70, root 20..30, b 0..20
    expect(q).toMatchObject({ service: "db", count: 2, total: 60, self: 60, min: 20, max: 40, avg: 30, errors: 1, critical: 60 });
    expect(s.find((x) => x.name === "root")!.critical).toBe(40);
    const root = s.find((x) => x.name === "root")!;
    expect(root.self).toBe(40);
  });
});

describe("compareTrees", () => {
  it("marks spans only in A, only in B and the duration difference", () => {
    const a = buildTree([span("a", "", 0, 100, { name: "root" }), span("b", "a", 10, 20, { name: "db" }), span("c", "a", 30, 40, { name: "cache" })]);
    const b = buildTree([span("x", "", 0, 150, { name: "root" }), span("y", "x", 10, 40, { name: "db" }), span("z", "x", 50, 60, { name: "queue" })]);
    const d = compareTrees(a, b);
    expect(d.map((n) => [n.name, !!n.a, !!n.b, n.delta])).toEqual([
      ["root", true, true, 50],
      ["db", true, true, 20],
      ["cache", true, false, 0],
      ["queue", false, true, 0],
    ]);
  });
});

describe("visibleRows and findSpans", () => {
  it("hides collapsed subtrees and finds by attribute", () => {
    const t = buildTree([
      span("a", "", 0, 100),
      span("b", "a", 10, 50, { attributes: [{ key: "http.route", value: "/Checkout" }] }),
      span("c", "b", 12, 14),
      span("d", "a", 60, 70),
    ]);
    expect(visibleRows(t, new Set(["b"])).map((n) => n.span.spanID)).toEqual(["a", "b", "d"]);
    expect(visibleRows(t, new Set(["a"])).map((n) => n.span.spanID)).toEqual(["a"]);
    expect([...findSpans(t, "checkout")]).toEqual(["b"]);
    expect(findSpans(t, " ").size).toBe(0);
    // terms are ORed; a span ID matches whole; "-key" excludes a key
    expect([...findSpans(t, "op-d checkout")].sort()).toEqual(["b", "d"]);
    expect([...findSpans(t, "svc")].sort()).toEqual(["a", "b", "c", "d"]); // the service
    expect([...findSpans(t, "checkout -http")]).toEqual([]);
    expect([...findSpans(t, '"op-c"')]).toEqual(["c"]);
  });
});

describe("parsers", () => {
  it("reads OTLP/JSON with nanosecond strings, kinds and status", () => {
    const spans = parseOTLP({
      resourceSpans: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "cart" } }] },
          scopeSpans: [
            {
              scope: { name: "lib", version: "1.0" },
              spans: [
                {
                  traceId: "AB".repeat(16),
                  spanId: "01".repeat(8),
                  name: "GET /cart",
                  kind: 2,
                  startTimeUnixNano: "1795341662123456789",
                  endTimeUnixNano: "1795341662124456789",
                  attributes: [{ key: "n", value: { intValue: "7" } }, { key: "l", value: { arrayValue: { values: [{ stringValue: "x" }] } } }],
                  status: { code: 2, message: "boom" },
                  events: [{ timeUnixNano: "1795341662123956789", name: "exception" }],
                },
              ],
            },
          ],
        },
      ],
    });
    expect(spans).toHaveLength(1);
    const s = spans[0];
    expect(s.service).toBe("cart");
    expect(s.kind).toBe("server");
    expect(s.status).toBe("error");
    expect(s.traceID).toBe("ab".repeat(16));
    expect(s.end - s.start).toBeCloseTo(1000, 3);
    expect(s.events[0].time - s.start).toBeCloseTo(500, 3);
    expect(s.attributes).toEqual([
      { key: "n", value: "7" },
      { key: "l", value: '["x"]' },
    ]);
    // round trip through toOTLP keeps IDs and times
    const back = parseOTLP(toOTLP(spans));
    expect(back[0].spanID).toBe(s.spanID);
    expect(back[0].end - back[0].start).toBeCloseTo(1000, 3);
  });

  it("converts nanosecond strings to microseconds exactly", () => {
    expect(nanosToMicros("1795341662123456789")).toBe(1795341662123456.789);
    expect(nanosToMicros("999")).toBeCloseTo(0.999);
  });

  it("reads Jaeger JSON with processes and references", () => {
    const spans = parseJaeger({
      data: [
        {
          traceID: "abc",
          spans: [
            { traceID: "abc", spanID: "1", operationName: "root", references: [], startTime: 1000, duration: 500, tags: [{ key: "error", type: "bool", value: true }], processID: "p1" },
            { traceID: "abc", spanID: "2", operationName: "child", references: [{ refType: "CHILD_OF", traceID: "abc", spanID: "1" }], startTime: 1100, duration: 100, processID: "p2" },
          ],
          processes: { p1: { serviceName: "front" }, p2: { serviceName: "back" } },
        },
      ],
    });
    const t = buildTree(spans);
    expect(t.roots).toHaveLength(1);
    expect(t.roots[0].span.service).toBe("front");
    expect(t.roots[0].span.status).toBe("error");
    expect(t.roots[0].children[0].span.service).toBe("back");
  });

  it("rejects files that are neither format", () => {
    expect(() => parseTraceFile('{"foo": 1}')).toThrow(/resourceSpans/);
  });
});

describe("sampledBy", () => {
  const kept = (policy: string, weight: string) => [
    { key: "ariadne.sampling.policy", value: policy },
    { key: "ariadne.sampling.adjusted_count", value: weight },
  ];
  it("reads the root span's tail sampling attributes", () => {
    const t = buildTree([span("b", "a", 10, 20, { attributes: kept("child", "3") }), span("a", "", 0, 100, { attributes: kept("<b>x</b>", "10") })]);
    expect(sampledBy(t)).toEqual({ policy: "<b>x</b>", weight: "10" });
  });
  it("falls back to the first span that has them and rounds the weight", () => {
    const t = buildTree([span("a", "", 0, 100), span("b", "a", 10, 20, { attributes: kept("baseline", "3.3333333333333335") })]);
    expect(sampledBy(t)).toEqual({ policy: "baseline", weight: "3.33333" });
  });
  it("is null for a trace without them", () => {
    expect(sampledBy(buildTree([span("a", "", 0, 100)]))).toBeNull();
  });
});
