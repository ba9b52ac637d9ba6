import { useMemo, useState } from "react";
import { statistics, type OpStats, type Tree } from "../tree";
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
  ["errors", "Errors"],
];

// StatsView tabulates the trace per service and span name.
export function StatsView({ tree }: { tree: Tree }) {
  const stats = useMemo(() => statistics(tree), [tree]);
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
  const time = new Set(["total", "self", "avg", "min", "max"]);
  return (
    <div className="stats panel">
      <table className="grid-table" data-testid="stats-table">
        <thead>
          <tr>
            {cols.map(([k, l]) => (
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
              {(["total", "self", "avg", "min", "max"] as const).map((k) => (
                <td key={k} className="num">
                  {time.has(k) ? fmtDuration(r[k]) : r[k]}
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
