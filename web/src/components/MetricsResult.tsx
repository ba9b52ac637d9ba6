// The answer to a TraceQL metrics query on the search page: the series
// over time (the first ten in a chart) and a table of every series.
import { useMemo } from "react";
import type { MetricsSeries } from "../api";
import { TimeChart, Sparkline, type Line } from "./Charts";

const maxLines = 10;

function labelText(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return "{" + keys.map((k) => `${k}="${labels[k]}"`).join(", ") + "}";
}

// shortLabel is the label values alone, for the chart's legend.
function shortLabel(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? keys.map((k) => labels[k]).join(", ") : "{}";
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return "-";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 1) return String(Number(v.toPrecision(4)));
  return String(Number(v.toPrecision(3)));
}

export function MetricsResult({ series, stepSeconds, showTotal }: { series: MetricsSeries[]; stepSeconds: number; showTotal: boolean }) {
  const stepMs = stepSeconds * 1000;
  const { times, rows } = useMemo(() => {
    const all = new Set<number>();
    for (const s of series) for (const [t] of s.samples) all.add(t);
    const times = [...all].sort((a, b) => a - b);
    const rows = series.map((s) => {
      const vals = s.samples.map(([, v]) => v);
      const sum = vals.reduce((a, b) => a + b, 0);
      return {
        label: labelText(s.labels),
        short: shortLabel(s.labels),
        byTime: new Map(s.samples),
        min: vals.length ? Math.min(...vals) : NaN,
        max: vals.length ? Math.max(...vals) : NaN,
        avg: vals.length ? sum / vals.length : NaN,
        last: vals.length ? vals[vals.length - 1] : NaN,
        total: sum,
      };
    });
    rows.sort((a, b) => (b.max || 0) - (a.max || 0) || a.label.localeCompare(b.label));
    return { times, rows };
  }, [series]);
  if (series.length === 0) return <div className="message">No spans matched: the query returned no series.</div>;
  // Fill the grid from the first sample to the last, one point per step.
  const grid: number[] = [];
  if (times.length) for (let t = times[0]; t <= times[times.length - 1]; t += stepMs) grid.push(t);
  const lines: Line[] = rows.slice(0, maxLines).map((r, i) => ({
    name: r.short,
    className: "l-s" + i,
    values: grid.map((t) => r.byTime.get(t) ?? null),
  }));
  return (
    <div className="tql-metrics" data-testid="tql-metrics">
      <TimeChart title={`${series.length} series, one point per ${stepSeconds >= 60 ? stepSeconds / 60 + "m" : stepSeconds + "s"}`} times={grid} stepMs={stepMs} lines={lines} fmt={fmtNum} testid="tql-chart" />
      {rows.length > maxLines && <div className="message">The chart shows the {maxLines} series with the highest maximum; the table lists all.</div>}
      <table className="grid-table metrics-table" data-testid="tql-series">
        <thead>
          <tr>
            <th>Series</th>
            <th className="num">Min</th>
            <th className="num">Avg</th>
            <th className="num">Max</th>
            <th className="num">Last</th>
            {showTotal && <th className="num">Total</th>}
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.label} data-series={r.label}>
              <td className="mono">
                {i < maxLines && <span className={"legend-swatch l-s" + i} />} {r.label}
              </td>
              <td className="num">{fmtNum(r.min)}</td>
              <td className="num">{fmtNum(r.avg)}</td>
              <td className="num">{fmtNum(r.max)}</td>
              <td className="num">{fmtNum(r.last)}</td>
              {showTotal && (
                <td className="num" data-testid="series-total">
                  {fmtNum(r.total)}
                </td>
              )}
              <td>
                <Sparkline values={grid.map((t) => r.byTime.get(t) ?? 0)} width={120} height={20} title={r.label} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
