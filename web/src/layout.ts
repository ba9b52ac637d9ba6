// A layered ("Sugiyama-style") layout for the Service map: callers on the
// left, callees on the right.
//
// 1. Cycles are broken by a depth-first search from the sources: an edge
//    to a node still on the search stack is a back edge and is left out
//    of the layering (the map draws it curving back).
// 2. Layers by longest path: a node's layer is one more than the highest
//    layer of its callers, so every forward edge goes left to right.
// 3. Order within a layer by barycenters: sweeps down and up the layers
//    put each node at the mean position of its neighbours in the layers
//    before (or after) it, which removes most edge crossings.
// 4. Coordinates: layers are columns colGap apart, nodes rowGap apart,
//    each column centred vertically.

export interface LayoutEdge {
  from: string;
  to: string;
}

export interface Placed {
  id: string;
  layer: number;
  order: number; // position within its layer
  x: number; // centre
  y: number; // centre
}

export interface Layout {
  nodes: Map<string, Placed>;
  back: Set<number>; // indices into edges of the edges left out of the layering
  layers: string[][];
  width: number;
  height: number;
}

export interface LayoutOptions {
  colGap: number;
  rowGap: number;
  margin: number;
  sweeps: number;
}

const defaults: LayoutOptions = { colGap: 240, rowGap: 72, margin: 40, sweeps: 6 };

export function layeredLayout(ids: string[], edges: LayoutEdge[], options: Partial<LayoutOptions> = {}): Layout {
  const o = { ...defaults, ...options };
  // Nodes in first-seen order (ids, then edge endpoints not in ids).
  const index = new Map<string, number>();
  const names: string[] = [];
  const add = (id: string) => {
    if (!index.has(id)) {
      index.set(id, names.length);
      names.push(id);
    }
  };
  ids.forEach(add);
  edges.forEach((e) => {
    add(e.from);
    add(e.to);
  });
  const n = names.length;
  const out: number[][] = names.map(() => []);
  const outEdge: number[][] = names.map(() => []);
  const indeg = new Array<number>(n).fill(0);
  edges.forEach((e, i) => {
    const a = index.get(e.from)!;
    const b = index.get(e.to)!;
    out[a].push(b);
    outEdge[a].push(i);
    if (a !== b) indeg[b]++;
  });

  // 1. Back edges by an iterative DFS, sources first.
  const back = new Set<number>();
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const starts = [...names.keys()].sort((a, b) => Number(indeg[a] > 0) - Number(indeg[b] > 0) || a - b);
  for (const s of starts) {
    if (state[s]) continue;
    const stack: [number, number][] = [[s, 0]];
    state[s] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [v, k] = top;
      if (k === out[v].length) {
        state[v] = 2;
        stack.pop();
        continue;
      }
      top[1]++;
      const w = out[v][k];
      if (state[w] === 1) back.add(outEdge[v][k]);
      else if (state[w] === 0) {
        state[w] = 1;
        stack.push([w, 0]);
      }
    }
  }

  // 2. Longest-path layers over the forward edges (Kahn's order).
  const fwdIn = new Array<number>(n).fill(0);
  const preds: number[][] = names.map(() => []);
  const succs: number[][] = names.map(() => []);
  edges.forEach((e, i) => {
    if (back.has(i)) return;
    const a = index.get(e.from)!;
    const b = index.get(e.to)!;
    fwdIn[b]++;
    preds[b].push(a);
    succs[a].push(b);
  });
  const layer = new Array<number>(n).fill(0);
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (fwdIn[v] === 0) queue.push(v);
  const topo: number[] = [];
  for (let qi = 0; qi < queue.length; qi++) {
    const v = queue[qi];
    topo.push(v);
    for (const w of succs[v]) {
      if (layer[v] + 1 > layer[w]) layer[w] = layer[v] + 1;
      if (--fwdIn[w] === 0) queue.push(w);
    }
  }
  // Without back edges the forward graph is acyclic, so topo has every
  // node; this guard only keeps a bug from losing nodes.
  if (topo.length < n) for (let v = 0; v < n; v++) if (!topo.includes(v)) topo.push(v);

  const nLayers = n ? Math.max(...layer) + 1 : 0;
  const layers: number[][] = Array.from({ length: nLayers }, () => []);
  for (const v of topo) layers[layer[v]].push(v);

  // 3. Barycentre ordering.
  const pos = new Float64Array(n);
  const setPos = () => layers.forEach((l) => l.forEach((v, i) => (pos[v] = i)));
  setPos();
  const sortBy = (l: number[], nb: number[][]) => {
    const bary = new Map<number, number>();
    for (const v of l) {
      const ns = nb[v];
      bary.set(v, ns.length ? ns.reduce((s, u) => s + pos[u], 0) / ns.length : pos[v]);
    }
    l.sort((a, b) => bary.get(a)! - bary.get(b)! || pos[a] - pos[b]);
    l.forEach((v, i) => (pos[v] = i));
  };
  for (let s = 0; s < o.sweeps; s++) {
    for (let i = 1; i < nLayers; i++) sortBy(layers[i], preds);
    for (let i = nLayers - 2; i >= 0; i--) sortBy(layers[i], succs);
  }

  // 4. Coordinates.
  const tallest = Math.max(0, ...layers.map((l) => l.length));
  const nodes = new Map<string, Placed>();
  layers.forEach((l, li) => {
    const offset = ((tallest - l.length) * o.rowGap) / 2;
    l.forEach((v, i) => {
      nodes.set(names[v], { id: names[v], layer: li, order: i, x: o.margin + li * o.colGap, y: o.margin + offset + i * o.rowGap });
    });
  });
  return {
    nodes,
    back,
    layers: layers.map((l) => l.map((v) => names[v])),
    width: 2 * o.margin + Math.max(0, nLayers - 1) * o.colGap,
    height: 2 * o.margin + Math.max(0, tallest - 1) * o.rowGap,
  };
}

// crossings counts pairs of edges between adjacent layers that cross (for
// tests and for judging an ordering).
export function crossings(l: Layout, edges: LayoutEdge[]): number {
  const seg = edges
    .map((e) => [l.nodes.get(e.from)!, l.nodes.get(e.to)!])
    .filter(([a, b]) => b.layer === a.layer + 1);
  let c = 0;
  for (let i = 0; i < seg.length; i++)
    for (let j = i + 1; j < seg.length; j++) {
      const [a, b] = seg[i];
      const [p, q] = seg[j];
      if (a.layer === p.layer && (a.order - p.order) * (b.order - q.order) < 0) c++;
    }
  return c;
}
