import { useMemo, useState } from "react";
import { compareTrees } from "../tree";
import { fmtDuration, serviceColor } from "../format";
import { navigate } from "../router";
import { useTrace } from "./TracePage";

const MAX_ROWS = 5000;

// ComparePage merges two traces into one tree: spans only in A, only in B,
// and the duration difference of spans in both.
export function ComparePage({ a, b }: { a: string; b: string }) {
  const [ia, setA] = useState(a);
  const [ib, setB] = useState(b);
  const ta = useTrace(a || undefined);
  const tb = useTrace(b || undefined);
  const diff = useMemo(() => (ta.data && tb.data ? compareTrees(ta.data.tree, tb.data.tree) : null), [ta.data, tb.data]);
  const counts = useMemo(() => {
    const c = { onlyA: 0, onlyB: 0, both: 0 };
    for (const d of diff ?? []) c[d.a && d.b ? "both" : d.a ? "onlyA" : "onlyB"]++;
    return c;
  }, [diff]);
  return (
    <div className="page compare-page">
      <form
        className="panel compare-form"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/trace/${ia.trim()}...${ib.trim()}`);
        }}
      >
        <label>
          Trace A <input value={ia} onChange={(e) => setA(e.target.value)} placeholder="trace ID" data-testid="compare-a" />
        </label>
        <label>
          Trace B <input value={ib} onChange={(e) => setB(e.target.value)} placeholder="trace ID" data-testid="compare-b" />
        </label>
        <button type="submit" className="button primary">
          Compare
        </button>
      </form>
      {(ta.error || tb.error) && (
        <div className="error-box" role="alert">
          {ta.error && `A: ${ta.error} `}
          {tb.error && `B: ${tb.error}`}
        </div>
      )}
      {diff && (
        <div className="panel">
          <div className="legend" data-testid="compare-summary">
            <span className="only-a">only in A: {counts.onlyA}</span> <span className="only-b">only in B: {counts.onlyB}</span> <span>in both: {counts.both}</span>
          </div>
          <table className="grid-table diff" data-testid="compare-table">
            <thead>
              <tr>
                <th>Service and span name</th>
                <th className="num">A</th>
                <th className="num">B</th>
                <th className="num">B − A</th>
              </tr>
            </thead>
            <tbody>
              {diff.slice(0, MAX_ROWS).map((d, i) => (
                <tr key={i} className={d.a && d.b ? "both" : d.a ? "only-a" : "only-b"} data-testid="diff-row">
                  <td style={{ paddingLeft: 6 + Math.min(d.depth, 40) * 12 }}>
                    <span className="svc-dot" style={{ background: serviceColor(d.service) }} />
                    {d.service}: {d.name}
                    {!d.b && <span className="tag">only A</span>}
                    {!d.a && <span className="tag">only B</span>}
                  </td>
                  <td className="num">{d.a ? fmtDuration(d.a.span.end - d.a.span.start) : ""}</td>
                  <td className="num">{d.b ? fmtDuration(d.b.span.end - d.b.span.start) : ""}</td>
                  <td className={"num " + (d.delta > 0 ? "slower" : d.delta < 0 ? "faster" : "")}>{d.a && d.b ? (d.delta > 0 ? "+" : "") + fmtDuration(d.delta) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {diff.length > MAX_ROWS && <div className="muted">First {MAX_ROWS} of {diff.length} rows.</div>}
        </div>
      )}
      {!a && !b && <div className="message">Enter two trace IDs, or pick two traces in the search results.</div>}
    </div>
  );
}
