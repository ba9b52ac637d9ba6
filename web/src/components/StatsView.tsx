import { useMemo, useState } from "react";
import { statistics, type OpStats, type Segment, type Tree } from "../tree";
import { fmtDuration, serviceColor } from "../format";

const cols: [keyof OpStats, string][] = [
  ["service", "Service"],
  ["name", "Span name"],
  ["count", "Count"],
  ["total", "Total"],
  ["self", "Self time"],
  ["avg", "Avg"],
  ["min", "Min"],
  ["max", "Max"],
  ["critical", "On critical path"],
  ["errors", "Errors"],
];

// StatsView tabulates the trace per service and span name.
export function StatsView({ tree, critical }: { tree: Tree; critical: Map<string, Segment[]> | null }) {
  const stats = useMemo(() => statistics(tree, critical ?? undefined), [tree, critical]);
  const [sort, setSort] = useState<keyof OpStats>("self");
  const rows = useMemo(() => {
    const r = [...stats];
    r.sort((a, b) => {
      const x = a[sort];
      const y = b[sort];
      return typeof x === "number" && typeof y === "number" ? y - x : String(x).localeCompare(String(y));
    });
    return r;
  }, [stats, sort]);
  const shown = critical ? cols : cols.filter(([k]) => k !== "critical");
  const timeCols = (["total", "self", "avg", "min", "max", "critical"] as const).filter((k) => critical || k !== "critical");
  return (
    <div className="stats panel">
      <table className="grid-table" data-testid="stats-table">
        <thead>
          <tr>
            {shown.map(([k, l]) => (
              <th key={k} onClick={() => setSort(k)} className={sort === k ? "sorted" : ""}>
                {l}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.service + "\u0000" + r.name}>
              <td>
                <span className="svc-dot" style={{ background: serviceColor(r.service) }} />
                {r.service}
              </td>
              <td>{r.name}</td>
              <td className="num">{r.count}</td>
              {timeCols.map((k) => (
                <td key={k} className="num">
                  {fmtDuration(r[k])}
                </td>
              ))}
              <td className={"num" + (r.errors ? " error-text" : "")}>{r.errors}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
