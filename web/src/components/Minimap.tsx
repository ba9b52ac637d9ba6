import { useEffect, useRef } from "react";
import type { Tree } from "../tree";
import { serviceColor } from "../format";

// Minimap draws every span of the trace in a small canvas (time across,
// spans down) with the visible time window on top; drag the window to move
// it, drag elsewhere to select a new window, double-click to reset.
export function Minimap({ tree, view, onView }: { tree: Tree; view: [number, number]; onView: (v: [number, number], done: boolean) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const box = useRef<HTMLDivElement>(null);
  // The drag in progress (a ref: pointer events can come faster than renders).
  const dragRef = useRef<null | { mode: "move" | "select"; x0: number; v0: [number, number] }>(null);
  const H = 56;

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const w = c.clientWidth || 800;
    const dpr = window.devicePixelRatio || 1;
    c.width = w * dpr;
    c.height = H * dpr;
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, w, H);
    const n = tree.order.length;
    const dur = tree.end - tree.start || 1;
    const rowH = Math.max(H / Math.max(n, 1), 0.5);
    for (let i = 0; i < n; i++) {
      const s = tree.order[i].span;
      ctx.fillStyle = s.status === "error" ? "#d62728" : serviceColor(s.service);
      const x = ((s.start - tree.start) / dur) * w;
      const bw = Math.max(((s.end - s.start) / dur) * w, 1);
      ctx.fillRect(x, (i / n) * H, bw, Math.max(rowH, 1));
    }
  }, [tree]);

  const frac = (clientX: number) => {
    const r = box.current!.getBoundingClientRect();
    return Math.min(1, Math.max(0, (clientX - r.left) / r.width));
  };
  const onDown = (e: React.PointerEvent) => {
    const f = frac(e.clientX);
    try {
      (e.target as Element).setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events have no active pointer */
    }
    const whole = view[0] === 0 && view[1] === 1;
    dragRef.current = { mode: !whole && f >= view[0] && f <= view[1] ? "move" : "select", x0: f, v0: view };
  };
  const next = (clientX: number): [number, number] => {
    const drag = dragRef.current;
    if (!drag) return view;
    const f = frac(clientX);
    if (drag.mode === "move") {
      const w = drag.v0[1] - drag.v0[0];
      const s = Math.min(1 - w, Math.max(0, drag.v0[0] + f - drag.x0));
      return [s, s + w];
    }
    const a = Math.min(f, drag.x0);
    const b = Math.max(f, drag.x0);
    return b - a < 0.002 ? view : [a, b];
  };
  return (
    <div
      className="minimap"
      ref={box}
      data-testid="minimap"
      onPointerDown={onDown}
      onPointerMove={(e) => dragRef.current && onView(next(e.clientX), false)}
      onPointerUp={(e) => {
        if (dragRef.current) onView(next(e.clientX), true);
        dragRef.current = null;
      }}
      onDoubleClick={() => onView([0, 1], true)}
      title="Drag to select a time window; drag the window to move it; double-click to reset"
    >
      <canvas ref={canvas} style={{ width: "100%", height: H }} />
      <div className="mm-shade" style={{ left: 0, width: `${view[0] * 100}%` }} />
      <div className="mm-shade" style={{ left: `${view[1] * 100}%`, right: 0 }} />
      <div className="mm-window" data-testid="minimap-window" style={{ left: `${view[0] * 100}%`, width: `${(view[1] - view[0]) * 100}%` }} />
    </div>
  );
}
