import { useEffect, useState } from "react";
import { adaptiveSampling, type AdaptiveSampling } from "../api";

// SamplingPage lists adaptive sampling's probabilities and rates per
// service and root operation, refreshed every 10 seconds.
export function SamplingPage() {
  const [data, setData] = useState<AdaptiveSampling | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const ctl = new AbortController();
    const load = () =>
      adaptiveSampling(ctl.signal)
        .then((d) => {
          setData(d);
          setError("");
        })
        .catch((e: Error) => {
          if (!ctl.signal.aborted) setError(e.message);
        });
    load();
    const id = setInterval(load, 10_000);
    return () => {
      ctl.abort();
      clearInterval(id);
    };
  }, []);

  if (error) return <div className="page message error-text">{error}</div>;
  if (!data) return <div className="page message">Loading…</div>;
  if (!data.enabled)
    return (
      <div className="page message" data-testid="adaptive-off">
        Adaptive sampling is off. Set sampling.adaptive.enabled: true to compute per-operation probabilities (docs/adaptive-sampling.md).
      </div>
    );
  const services = data.services ?? [];
  return (
    <div className="page" data-testid="sampling-page">
      <h2>Adaptive sampling</h2>
      <p className="muted" data-testid="adaptive-summary">
        Target {fmt(data.target_traces_per_second ?? 0)} traces/s per operation, recomputed every {data.interval_seconds}s; last at{" "}
        {data.calculated_at ? new Date(data.calculated_at).toLocaleString() : "—"}.
        {data.untracked_traces ? ` ${data.untracked_traces} root spans not tracked (max_operations reached).` : ""}
      </p>
      {services.length === 0 && <div className="message">No root spans counted yet.</div>}
      {services.length > 0 && (
        <table className="grid-table" data-testid="adaptive-table">
          <thead>
            <tr>
              <th>Service</th>
              <th>Operation</th>
              <th>Probability</th>
              <th>Received traces/s</th>
              <th>Estimated traces/s before sampling</th>
              <th>Error traces/s</th>
            </tr>
          </thead>
          <tbody>
            {services.flatMap((s) =>
              s.operations.map((o) => (
                <tr key={s.service + "\u0000" + o.operation} data-testid="adaptive-row">
                  <td>{s.service}</td>
                  <td>{o.operation === "" ? <span className="muted">(other operations)</span> : o.operation}</td>
                  <td>{fmt(o.probability)}</td>
                  <td>{fmt(o.observed_traces_per_second)}</td>
                  <td>{fmt(o.estimated_traces_per_second)}</td>
                  <td>{fmt(o.error_traces_per_second)}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}

function fmt(v: number): string {
  if (v === 0) return "0";
  if (v >= 100) return v.toFixed(0);
  return v.toPrecision(3).replace(/\.?0+$/, "");
}
