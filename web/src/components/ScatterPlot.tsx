import type { TraceSummary } from "../api";
import { fmtDuration, fmtTime } from "../format";

// ScatterPlot draws search results: start time against duration; errors
// in red; a click opens the trace.
export function ScatterPlot({ traces, onOpen }: { traces: TraceSummary[]; onOpen: (id: string) => void }) {
  const W = 900;
  const H = 160;
  const pad = { l: 60, r: 12, t: 10, b: 22 };
  const xs = traces.map((t) => Number(BigInt(t.startTimeUnixNano) / 1000n) / 1000); // ms
  const ys = traces.map((t) => t.durationNanos / 1000); // µs
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x1 - x0 < 1) {
    x0 -= 500;
    x1 += 500;
  }
  const y1 = Math.max(...ys) * 1.1 || 1;
  const sx = (v: number) => pad.l + ((v - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const sy = (v: number) => H - pad.b - (v / y1) * (H - pad.t - pad.b);
  const maxSpans = Math.max(...traces.map((t) => t.spanCount));
  const ticks = [0, 0.5, 1];
  // hh:mm:ss, with milliseconds when the results span less than a minute
  const timeLabel = (ms: number) => fmtTime(ms * 1000).slice(11, x1 - x0 < 60e3 ? 23 : 19);
  return (
    <div className="panel scatter">
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} role="img" aria-label="Trace durations over time" data-testid="scatter">
        {ticks.map((f) => (
          <g key={f}>
            <line x1={pad.l} x2={W - pad.r} y1={sy(y1 * f)} y2={sy(y1 * f)} className="grid" />
            <text x={pad.l - 6} y={sy(y1 * f) + 4} textAnchor="end" className="axis">
              {fmtDuration(y1 * f)}
            </text>
          </g>
        ))}
        {ticks.map((f) => (
          <text key={f} x={pad.l + f * (W - pad.l - pad.r)} y={H - 6} textAnchor={f === 0 ? "start" : f === 1 ? "end" : "middle"} className="axis">
            {timeLabel(x0 + f * (x1 - x0))}
          </text>
        ))}
        {traces.map((t, i) => (
          <circle
            key={t.traceID}
            cx={sx(xs[i])}
            cy={sy(ys[i])}
            r={3 + 5 * Math.sqrt(t.spanCount / maxSpans)}
            className={t.errorCount ? "dot error" : "dot"}
            data-trace-id={t.traceID}
            onClick={() => onOpen(t.traceID)}
          >
            <title>{`${t.rootServiceName}: ${t.rootSpanName}\n${fmtDuration(ys[i])}, ${t.spanCount} spans${t.errorCount ? `, ${t.errorCount} errors` : ""}`}</title>
          </circle>
        ))}
      </svg>
    </div>
  );
}
