import { useEffect, useRef } from "react";
import type { Tree } from "../tree";
import { fmtDuration, serviceColor } from "../format";

const ROW = 18;
const MAX_DEPTH = 400;

// FlameGraph draws the trace as an icicle: time across, depth down, one
// box per span (canvas, so 100,000 spans draw in one pass). A click selects
// the span under the pointer.
export function FlameGraph({ tree, view, onSelect, selected }: { tree: Tree; view: [number, number]; onSelect: (id: string) => void; selected: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const depth = Math.min(tree.maxDepth, MAX_DEPTH) + 1;
  const dur = tree.end - tree.start || 1;
  const vFrom = tree.start + view[0] * dur;
  const vDur = (view[1] - view[0]) * dur || 1;

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const w = c.clientWidth || 800;
    const dpr = window.devicePixelRatio || 1;
    c.width = w * dpr;
    c.height = depth * ROW * dpr;
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.scale(dpr, dpr);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (const n of tree.order) {
      if (n.depth >= depth) continue;
      const s = n.span;
      const x = ((s.start - vFrom) / vDur) * w;
      const bw = ((s.end - s.start) / vDur) * w;
      if (x + bw < 0 || x > w) continue;
      const y = n.depth * ROW;
      ctx.fillStyle = s.status === "error" ? "#d62728" : serviceColor(s.service);
      ctx.fillRect(x, y, Math.max(bw - 0.5, 0.5), ROW - 1);
      if (s.spanID === selected) {
        ctx.strokeStyle = "#000";
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1, y + 1, Math.max(bw - 2, 1), ROW - 3);
      }
      if (bw > 40) {
        ctx.fillStyle = "#fff";
        const label = `${s.name} (${fmtDuration(s.end - s.start)})`;
        ctx.save();
        ctx.beginPath();
        ctx.rect(Math.max(x, 0), y, bw, ROW);
        ctx.clip();
        ctx.fillText(label, Math.max(x, 0) + 4, y + ROW / 2);
        ctx.restore();
      }
    }
  }, [tree, depth, vFrom, vDur, selected]);

  // spanAt finds the span drawn under the pointer.
  const spanAt = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const d = Math.floor((e.clientY - r.top) / ROW);
    const t = vFrom + ((e.clientX - r.left) / r.width) * vDur;
    return tree.order.find((n) => n.depth === d && n.span.start <= t && n.span.end >= t);
  };
  const onClick = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const n = spanAt(e);
    if (n) onSelect(n.span.spanID);
  };
  const onMove = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const n = spanAt(e);
    e.currentTarget.title = n ? `${n.span.service}: ${n.span.name}\n${fmtDuration(n.span.end - n.span.start)}, self ${fmtDuration(n.selfTime)}` : "";
  };
  return (
    <div className="flame panel" data-testid="flame">
      <canvas ref={canvas} style={{ width: "100%", height: depth * ROW }} onClick={onClick} onMouseMove={onMove} />
      {tree.maxDepth >= MAX_DEPTH && <div className="muted">Deeper than {MAX_DEPTH} levels: the rest is not drawn.</div>}
    </div>
  );
}
