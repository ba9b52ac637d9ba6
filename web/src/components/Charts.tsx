// Small SVG charts for the metrics pages: a sparkline and a time chart
// with several lines and clickable exemplar dots.
import { useLayoutEffect, useRef, useState } from "react";

// Sparkline draws values as a line scaled to its own maximum.
export function Sparkline({ values, width = 120, height = 24, className = "", title }: { values: number[]; width?: number; height?: number; className?: string; title?: string }) {
  const max = Math.max(0, ...values);
  const n = values.length;
  const x = (i: number) => (n <= 1 ? width / 2 : (i / (n - 1)) * (width - 2) + 1);
  const y = (v: number) => height - 2 - (max > 0 ? (v / max) * (height - 4) : 0);
  const d = values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
  return (
    <svg className={"sparkline " + className} width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
      {title && <title>{title}</title>}
      {n > 0 && <path d={`${d}L${x(n - 1).toFixed(1)},${height - 1}L${x(0).toFixed(1)},${height - 1}Z`} className="spark-area" />}
      {n > 0 && <path d={d} className="spark-line" fill="none" />}
    </svg>
  );
}

export interface Line {
  name: string;
  className: string; // colour class, e.g. "l-p50"
  values: (number | null)[];
}

export interface Dot {
  time: number; // ms since epoch
  value: number;
  error: boolean;
  title: string;
  traceID: string;
}

// niceStep picks 1, 2 or 5 × 10^k so that max/step is about `ticks`.
export function niceStep(max: number, ticks: number): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function clockLabel(ms: number, spanMs: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return spanMs > 20 * 3600e3 && d.getHours() === 0 && d.getMinutes() === 0 ? `${d.getMonth() + 1}/${d.getDate()}` : hm;
}

// TimeChart plots lines over time (points at `times`, ms) with a y axis
// formatted by fmt, and exemplar dots that call onDot when clicked.
export function TimeChart({
  title,
  times,
  stepMs,
  lines,
  dots = [],
  fmt,
  onDot,
  onPoint,
  pointTitle,
  testid,
}: {
  title: string;
  times: number[];
  stepMs: number;
  lines: Line[];
  dots?: Dot[];
  fmt: (v: number) => string;
  onDot?: (d: Dot) => void;
  onPoint?: (i: number) => void; // a click on the column of point i
  pointTitle?: (i: number) => string;
  testid: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(600);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(200, el.clientWidth));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const height = 180;
  const left = 56;
  const right = 10;
  const top = 8;
  const bottom = 22;
  const t0 = times[0] ?? 0;
  const t1 = (times[times.length - 1] ?? 0) + stepMs;
  let max = 0;
  for (const l of lines) for (const v of l.values) if (v !== null && v > max) max = v;
  for (const d of dots) if (d.value > max) max = d.value;
  const step = niceStep(max, 4);
  const ymax = max > 0 ? Math.ceil(max / step) * step : 1;
  const x = (t: number) => left + ((t - t0) / Math.max(1, t1 - t0)) * (width - left - right);
  const y = (v: number) => top + (1 - v / ymax) * (height - top - bottom);
  // A point summarises [time, time+step): draw it in the middle.
  const mid = (i: number) => x(times[i] + stepMs / 2);
  const yTicks: number[] = [];
  for (let v = 0; v <= ymax + step / 2; v += step) yTicks.push(v);
  const xTickEvery = niceMinutes((t1 - t0) / 60e3 / 6);
  const xTicks: number[] = [];
  for (let t = Math.ceil(t0 / (xTickEvery * 60e3)) * xTickEvery * 60e3; t <= t1; t += xTickEvery * 60e3) xTicks.push(t);
  return (
    <div className="chart panel" ref={ref} data-testid={testid}>
      <div className="chart-head">
        <h3>{title}</h3>
        <span className="chart-legend">
          {lines.map((l) => (
            <span key={l.name} className={"legend-item " + l.className}>
              <span className="legend-swatch" />
              {l.name}
            </span>
          ))}
          {dots.length > 0 && (
            <span className="legend-item">
              <span className="legend-dot" />
              exemplar (click: open trace)
            </span>
          )}
        </span>
      </div>
      <svg width={width} height={height} className="time-chart">
        {yTicks.map((v) => (
          <g key={v}>
            <line x1={left} x2={width - right} y1={y(v)} y2={y(v)} className="grid" />
            <text x={left - 6} y={y(v) + 4} textAnchor="end" className="axis">
              {fmt(v)}
            </text>
          </g>
        ))}
        {xTicks.filter((t) => x(t) > left + 12 && x(t) < width - 18).map((t) => (
          <text key={t} x={x(t)} y={height - 6} textAnchor="middle" className="axis">
            {clockLabel(t, t1 - t0)}
          </text>
        ))}
        {onPoint &&
          times.map((t, i) => (
            <rect key={t} x={x(t)} y={top} width={Math.max(1, x(t + stepMs) - x(t))} height={height - top - bottom} className="point-col" data-index={i} onClick={() => onPoint(i)}>
              {pointTitle && <title>{pointTitle(i)}</title>}
            </rect>
          ))}
        {lines.map((l) => (
          <path key={l.name} d={linePath(l.values, mid, y)} className={"chart-line " + l.className} fill="none" />
        ))}
        {dots.map((d, i) => (
          <circle
            key={d.traceID + i}
            cx={x(Math.min(Math.max(d.time, t0), t1))}
            cy={y(d.value)}
            r={4}
            className={"exemplar" + (d.error ? " error" : "")}
            data-trace-id={d.traceID}
            onClick={() => onDot?.(d)}
          >
            <title>{d.title}</title>
          </circle>
        ))}
      </svg>
    </div>
  );
}

function niceMinutes(m: number): number {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720]) if (s >= m) return s;
  return 1440;
}

// linePath joins consecutive non-null values; a null breaks the line.
function linePath(values: (number | null)[], x: (i: number) => number, y: (v: number) => number): string {
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    // "l0.1,0" after a move makes an isolated point visible (round caps).
    d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}${pen ? "" : "l0.1,0"}`;
    pen = true;
  });
  return d;
}
