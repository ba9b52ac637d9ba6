// Trace analysis in the browser: the span tree, self time, the critical
// path, per-operation statistics and the comparison of two traces. Every
// walk is iterative so that deep traces (100,000 spans in one chain) do not
// overflow the stack.
import type { Attr, Span } from "./model";

export interface Node {
  span: Span;
  index: number; // position in Tree.order (pre-order)
  depth: number;
  parent: Node | null;
  children: Node[];
  size: number; // nodes in this subtree, including itself
  selfTime: number; // microseconds not covered by children
  orphan: boolean; // has a parent ID whose span is not in the trace
  skew: boolean; // starts before or ends after its parent (clock skew between hosts?)
}

export interface Tree {
  roots: Node[];
  order: Node[]; // every node in pre-order (depth first, children by start)
  byID: Map<string, Node>;
  start: number;
  end: number;
  maxDepth: number;
  services: string[]; // by first appearance in pre-order
  errors: number;
}

const byStart = (a: Node, b: Node) => a.span.start - b.span.start || a.span.end - b.span.end;

// buildTree links spans to their parents. Spans whose parent is missing
// become extra roots (marked orphan); a parent cycle is broken by making
// the unreachable spans roots too.
export function buildTree(spans: Span[]): Tree {
  const byID = new Map<string, Node>();
  const nodes: Node[] = spans.map((span) => ({ span, index: 0, depth: 0, parent: null, children: [], size: 1, selfTime: 0, orphan: false, skew: false }));
  for (const n of nodes) if (!byID.has(n.span.spanID)) byID.set(n.span.spanID, n);
  const roots: Node[] = [];
  for (const n of nodes) {
    const p = n.span.parentID ? byID.get(n.span.parentID) : undefined;
    if (p && p !== n) {
      n.parent = p;
      p.children.push(n);
    } else {
      n.orphan = n.span.parentID !== "";
      roots.push(n);
    }
  }
  for (const n of nodes) if (n.children.length > 1) n.children.sort(byStart);
  roots.sort(byStart);
  const order: Node[] = [];
  const visit = (rootList: Node[]) => {
    const stack: Node[] = [];
    for (let i = rootList.length - 1; i >= 0; i--) stack.push(rootList[i]);
    while (stack.length) {
      const n = stack.pop()!;
      n.index = order.length;
      n.depth = n.parent ? n.parent.depth + 1 : 0;
      order.push(n);
      for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
    }
  };
  visit(roots);
  if (order.length < nodes.length) {
    // Cycles: spans never reached from a root. Cut each cycle at its
    // earliest unvisited span.
    const seen = new Set(order);
    for (const n of [...nodes].sort(byStart)) {
      if (seen.has(n)) continue;
      if (n.parent) n.parent.children = n.parent.children.filter((c) => c !== n);
      n.parent = null;
      n.orphan = true;
      roots.push(n);
      const before = order.length;
      visit([n]);
      for (let i = before; i < order.length; i++) seen.add(order[i]);
    }
  }
  let start = Infinity;
  let end = -Infinity;
  let maxDepth = 0;
  let errors = 0;
  const services: string[] = [];
  const seenSvc = new Set<string>();
  for (const n of order) {
    start = Math.min(start, n.span.start);
    end = Math.max(end, n.span.end);
    maxDepth = Math.max(maxDepth, n.depth);
    if (n.span.status === "error") errors++;
    if (!seenSvc.has(n.span.service)) {
      seenSvc.add(n.span.service);
      services.push(n.span.service);
    }
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    n.selfTime = selfTime(n);
    const p = n.parent;
    if (p) {
      p.size += n.size;
      n.skew = n.span.start < p.span.start || n.span.end > p.span.end;
    }
  }
  if (order.length === 0) start = end = 0;
  return { roots, order, byID, start, end, maxDepth, services, errors };
}

// selfTime is the part of a span's duration that none of its children
// covers (children are clipped to the span, overlaps counted once).
export function selfTime(n: Node): number {
  const s = n.span;
  let covered = 0;
  let curStart = 0;
  let curEnd = -Infinity;
  for (const c of n.children) {
    const cs = Math.max(c.span.start, s.start);
    const ce = Math.min(c.span.end, s.end);
    if (ce <= cs) continue;
    if (cs > curEnd) {
      if (curEnd > curStart) covered += curEnd - curStart;
      curStart = cs;
      curEnd = ce;
    } else if (ce > curEnd) curEnd = ce;
  }
  if (curEnd > curStart) covered += curEnd - curStart;
  return Math.max(0, s.end - s.start - covered);
}

export interface Segment {
  start: number;
  end: number;
}

// criticalPath returns, per span ID, the time segments of that span that
// lie on the critical path: walking back from the end of each root, the
// path follows the child that finished last, then the child that finished
// last before that child started, and so on; time no child covers belongs
// to the span itself. Children are clipped to their parent (clock skew).
export function criticalPath(tree: Tree): Map<string, Segment[]> {
  const out = new Map<string, Segment[]>();
  const add = (n: Node, start: number, end: number) => {
    if (end <= start) return;
    const l = out.get(n.span.spanID);
    if (l) l.push({ start, end });
    else out.set(n.span.spanID, [{ start, end }]);
  };
  const work: { node: Node; limit: number }[] = tree.roots.map((node) => ({ node, limit: node.span.end }));
  while (work.length) {
    const { node, limit } = work.pop()!;
    const s = node.span;
    let cursor = Math.min(s.end, limit);
    const kids = [...node.children].sort((a, b) => b.span.end - a.span.end);
    for (const c of kids) {
      if (cursor <= s.start) break;
      const cStart = Math.max(c.span.start, s.start);
      if (cStart >= cursor) continue;
      const cEnd = Math.min(c.span.end, cursor);
      add(node, cEnd, cursor);
      work.push({ node: c, limit: cEnd });
      cursor = cStart;
    }
    add(node, s.start, cursor);
  }
  return out;
}

export interface OpStats {
  service: string;
  name: string;
  count: number;
  total: number;
  self: number;
  min: number;
  max: number;
  avg: number;
  errors: number;
  critical: number; // microseconds of these spans on the critical path
}

// statistics groups spans by service and span name, sorted by total self
// time, descending. With the critical path, it also sums each group's time
// on it.
export function statistics(tree: Tree, critical?: Map<string, Segment[]>): OpStats[] {
  const m = new Map<string, OpStats>();
  for (const n of tree.order) {
    const d = n.span.end - n.span.start;
    const k = n.span.service + "\u0000" + n.span.name;
    let st = m.get(k);
    if (!st) {
      st = { service: n.span.service, name: n.span.name, count: 0, total: 0, self: 0, min: Infinity, max: -Infinity, avg: 0, errors: 0, critical: 0 };
      m.set(k, st);
    }
    st.count++;
    st.total += d;
    st.self += n.selfTime;
    st.min = Math.min(st.min, d);
    st.max = Math.max(st.max, d);
    if (n.span.status === "error") st.errors++;
    for (const g of critical?.get(n.span.spanID) ?? []) st.critical += g.end - g.start;
  }
  const out = [...m.values()];
  for (const s of out) s.avg = s.total / s.count;
  out.sort((a, b) => b.self - a.self || a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
  return out;
}

export interface DiffNode {
  key: string; // service + span name
  service: string;
  name: string;
  depth: number;
  a: Node | null;
  b: Node | null;
  // duration in B minus duration in A (microseconds); 0 when in one only
  delta: number;
}

// compareTrees merges two trees into one list (pre-order): children of a
// merged node are matched by service and span name, the n-th occurrence in
// A with the n-th in B.
export function compareTrees(a: Tree, b: Tree): DiffNode[] {
  const out: DiffNode[] = [];
  // Pending entries are expanded depth-first; to keep pre-order, each
  // merged level is pushed in reverse.
  const pending: { a: Node | null; b: Node | null; depth: number }[] = [];
  const expand = (la: Node[], lb: Node[], depth: number) => {
    const keyOf = (n: Node) => n.span.service + "\u0000" + n.span.name;
    const usedB = new Set<Node>();
    const byKeyB = new Map<string, Node[]>();
    for (const n of lb) {
      const k = keyOf(n);
      const l = byKeyB.get(k);
      if (l) l.push(n);
      else byKeyB.set(k, [n]);
    }
    const level: { a: Node | null; b: Node | null; depth: number }[] = [];
    for (const n of la) {
      const l = byKeyB.get(keyOf(n));
      const m = l && l.length ? l.shift()! : null;
      if (m) usedB.add(m);
      level.push({ a: n, b: m, depth });
    }
    for (const n of lb) if (!usedB.has(n)) level.push({ a: null, b: n, depth });
    const offset = (x: { a: Node | null; b: Node | null }) => (x.a ? x.a.span.start - a.start : x.b!.span.start - b.start);
    level.sort((x, y) => offset(x) - offset(y));
    for (let i = level.length - 1; i >= 0; i--) pending.push(level[i]);
  };
  expand(a.roots, b.roots, 0);
  while (pending.length) {
    const p = pending.pop()!;
    const n = (p.a ?? p.b)!;
    out.push({
      key: n.span.service + "\u0000" + n.span.name,
      service: n.span.service,
      name: n.span.name,
      depth: p.depth,
      a: p.a,
      b: p.b,
      delta: p.a && p.b ? p.b.span.end - p.b.span.start - (p.a.span.end - p.a.span.start) : 0,
    });
    expand(p.a?.children ?? [], p.b?.children ?? [], p.depth + 1);
  }
  return out;
}

// visibleRows lists the nodes shown when the given span IDs are collapsed.
export function visibleRows(tree: Tree, collapsed: Set<string>): Node[] {
  if (collapsed.size === 0) return tree.order;
  const out: Node[] = [];
  const order = tree.order;
  for (let i = 0; i < order.length; ) {
    const n = order[i];
    out.push(n);
    i += collapsed.has(n.span.spanID) ? n.size : 1;
  }
  return out;
}

// findSpans returns the IDs of spans that match a find query, with the
// semantics of Jaeger UI's uiFind so that existing links keep working: the
// query is split into terms at whitespace ("double quotes" keep a phrase
// together); a span matches when any term occurs (case-insensitive) in its
// name, service, an attribute key or value (span, resource, event), or an
// event name, or when a term is its span ID (leading zeros ignored). A term
// "-key" stops attributes whose key contains "key" from matching.
export function findSpans(tree: Tree, query: string): Set<string> {
  const out = new Set<string>();
  const include: string[] = [];
  const exclude: string[] = [];
  for (const m of query.toLowerCase().matchAll(/"([^"]*)"|(\S+)/g)) {
    const term = m[1] ?? m[2];
    if (!term) continue;
    if (m[2] && term.startsWith("-") && term.length > 1) exclude.push(term.slice(1));
    else include.push(term);
  }
  if (include.length === 0) return out;
  const has = (s: string) => {
    const l = s.toLowerCase();
    return include.some((t) => l.includes(t));
  };
  const attrMatch = (list: Attr[]) => list.some((a) => !exclude.some((x) => a.key.toLowerCase().includes(x)) && (has(a.key) || has(a.value)));
  const ids = include.map((t) => t.replace(/^0+/, ""));
  for (const n of tree.order) {
    const s = n.span;
    if (
      has(s.name) ||
      has(s.service) ||
      ids.includes(s.spanID.replace(/^0+/, "")) ||
      attrMatch(s.attributes) ||
      attrMatch(s.resource) ||
      s.events.some((e) => has(e.name) || attrMatch(e.attributes))
    )
      out.add(s.spanID);
  }
  return out;
}

// sampledBy is the tail sampling policy that kept the trace and its weight,
// from the ariadne.sampling.* attributes the server puts on every span of a
// kept trace: the root spans' first, else the first spans in order (only a
// few: attributes are decoded on demand, and a huge trace without them
// should not pay for decoding all).
export function sampledBy(tree: Tree): { policy: string; weight: string } | null {
  const candidates = [...tree.roots.slice(0, 8), ...tree.order.slice(0, 64)];
  for (const n of candidates) {
    const attrs = n.span.attributes;
    const policy = attrs.find((a) => a.key === "ariadne.sampling.policy");
    if (!policy) continue;
    const weight = attrs.find((a) => a.key === "ariadne.sampling.adjusted_count")?.value ?? "";
    const w = Number(weight);
    return { policy: policy.value, weight: weight === "" ? "?" : Number.isFinite(w) ? String(+w.toPrecision(6)) : weight };
  }
  return null;
}
