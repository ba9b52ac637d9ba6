import { describe, expect, it } from "vitest";
import { crossings, layeredLayout, type Layout, type LayoutEdge } from "./layout";

const e = (s: string): LayoutEdge[] =>
  s
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => {
      const [from, to] = p.split(">");
      return { from, to };
    });

// noOverlap checks that nodes of a layer share x and are at least rowGap apart.
function expectNoOverlap(l: Layout, rowGap = 72) {
  for (const layer of l.layers) {
    const ys = layer.map((id) => l.nodes.get(id)!.y).sort((a, b) => a - b);
    for (let i = 1; i < ys.length; i++) expect(ys[i] - ys[i - 1]).toBeGreaterThanOrEqual(rowGap);
    expect(new Set(layer.map((id) => l.nodes.get(id)!.x)).size).toBeLessThanOrEqual(1);
  }
  const seen = new Set<string>();
  for (const p of l.nodes.values()) {
    const k = p.x + "," + p.y;
    expect(seen.has(k)).toBe(false);
    seen.add(k);
  }
}

function expectLeftToRight(l: Layout, edges: LayoutEdge[]) {
  edges.forEach((ed, i) => {
    if (l.back.has(i)) return;
    expect(l.nodes.get(ed.from)!.x, `${ed.from}>${ed.to}`).toBeLessThan(l.nodes.get(ed.to)!.x);
  });
}

describe("layeredLayout", () => {
  it("lays a DAG out left to right by longest path", () => {
    const edges = e("user>frontend frontend>checkout checkout>payments payments>db frontend>products products>db frontend>db");
    const l = layeredLayout([], edges);
    expect(l.back.size).toBe(0);
    expectLeftToRight(l, edges);
    expectNoOverlap(l);
    expect(l.nodes.get("user")!.layer).toBe(0);
    expect(l.nodes.get("frontend")!.layer).toBe(1);
    // db is after its deepest caller (payments, layer 3).
    expect(l.nodes.get("db")!.layer).toBe(4);
    expect(l.nodes.size).toBe(6);
    expect(l.width).toBe(2 * 40 + 4 * 240);
  });

  it("orders layers by barycentre to remove crossings", () => {
    // Initial order a, b then x, y: a>y and b>x cross until y moves up.
    const edges = e("a>y b>x a>y2 b>x2");
    const l = layeredLayout(["a", "b", "x", "x2", "y", "y2"], edges);
    expect(crossings(l, edges)).toBe(0);
    expect(l.nodes.get("y")!.order).toBeLessThan(l.nodes.get("x")!.order);
    expectNoOverlap(l);
  });

  it("breaks cycles and still places every node", () => {
    const edges = e("a>b b>c c>a c>d d>d b>a");
    const l = layeredLayout(["a"], edges);
    expect(l.nodes.size).toBe(4);
    // c>a and b>a close cycles, d>d is a self loop.
    expect([...l.back].sort()).toEqual([2, 4, 5]);
    expectLeftToRight(l, edges);
    expectNoOverlap(l);
  });

  it("handles a graph that is only a cycle (no source)", () => {
    const edges = e("a>b b>c c>a");
    const l = layeredLayout([], edges);
    expect(l.back.size).toBe(1);
    expect(l.layers.map((x) => x.length)).toEqual([1, 1, 1]);
    expectLeftToRight(l, edges);
  });

  it("places isolated nodes and an empty graph", () => {
    expect(layeredLayout([], []).nodes.size).toBe(0);
    const l = layeredLayout(["x", "y", "z"], []);
    expect(l.layers).toEqual([["x", "y", "z"]]);
    expectNoOverlap(l);
  });

  it("finishes quickly on a large graph full of cycles", () => {
    const edges: LayoutEdge[] = [];
    let seed = 7;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    for (let i = 0; i < 3000; i++) edges.push({ from: "s" + rnd(500), to: "s" + rnd(500) });
    const t = performance.now();
    const l = layeredLayout([], edges);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(l.nodes.size).toBe(new Set(edges.flatMap((x) => [x.from, x.to])).size);
    expectLeftToRight(l, edges);
    expectNoOverlap(l);
  });
});
