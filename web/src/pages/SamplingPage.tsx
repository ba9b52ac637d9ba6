import { useEffect, useState } from "react";
import { adaptiveSampling, tailSampling, type AdaptiveSampling, type TailSampling } from "../api";

// SamplingPage shows adaptive sampling's probabilities and rates per
// service and root operation, and tail sampling's counters and policies.
// Each part is loaded, refreshed every 10 seconds and says on its own
// when its sampling is off.
export function SamplingPage() {
  return (
    <div className="page sampling-page" data-testid="sampling-page">
      <AdaptiveSection />
      <TailSection />
    </div>
  );
}

// usePoll loads fetcher's answer now and every 10 seconds.
function usePoll<T>(fetcher: (signal: AbortSignal) => Promise<T>): { data: T | null; error: string } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const ctl = new AbortController();
    const load = () =>
      fetcher(ctl.signal)
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
  }, [fetcher]);
  return { data, error };
}

function AdaptiveSection() {
  const { data, error } = usePoll(adaptiveSampling);
  return (
    <section className="sampling-section" data-testid="adaptive-section">
      <h2>Adaptive sampling</h2>
      {error ? (
        <div className="message error-text">{error}</div>
      ) : !data ? (
        <div className="message">Loading…</div>
      ) : !data.enabled ? (
        <div className="muted" data-testid="adaptive-off">
          Adaptive sampling is off. Set sampling.adaptive.enabled: true to compute per-operation probabilities (docs/adaptive-sampling.md).
        </div>
      ) : (
        <AdaptiveView data={data} />
      )}
    </section>
  );
}

function AdaptiveView({ data }: { data: AdaptiveSampling }) {
  const services = data.services ?? [];
  return (
    <>
      <p className="muted" data-testid="adaptive-summary">
        Target {fmt(data.target_traces_per_second ?? 0)} traces/s per operation, recomputed every {data.interval_seconds}s; last at{" "}
        {data.calculated_at ? new Date(data.calculated_at).toLocaleString() : "—"}.
        {data.untracked_traces ? ` ${data.untracked_traces} root spans not tracked (max_operations reached).` : ""}
      </p>
      {services.length === 0 && <div className="message">No root spans counted yet.</div>}
      {services.length > 0 && (
        <div className="panel table-panel">
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
        </div>
      )}
    </>
  );
}

function TailSection() {
  const { data, error } = usePoll(tailSampling);
  return (
    <section className="sampling-section" data-testid="tail-section">
      <h2>Tail sampling</h2>
      {error ? (
        <div className="message error-text">{error}</div>
      ) : !data ? (
        <div className="message">Loading…</div>
      ) : !data.enabled ? (
        <div className="muted" data-testid="tail-off">
          Tail sampling is off. Set sampling.tail.enabled: true and list policies under sampling.tail.policies to keep whole traces by errors, latency or
          conditions (docs/sampling.md).
        </div>
      ) : (
        <TailView data={data} />
      )}
    </section>
  );
}

function TailView({ data }: { data: TailSampling }) {
  const kept = data.tracesKept ?? 0;
  const dropped = data.tracesDropped ?? 0;
  const decided = kept + dropped;
  const policies = data.policies ?? [];
  const maxMem = data.maxMemoryBytes ?? 0;
  const held = data.heldBytes ?? 0;
  return (
    <>
      <p className="muted" data-testid="tail-settings">
        A trace is decided {fmtSeconds(data.idleSeconds ?? 0)} after its last span arrived, or at the latest {fmtSeconds(data.maxWaitSeconds ?? 0)} after its first. Counts
        since the server started.
      </p>
      <div className="tail-stats" data-testid="tail-summary">
        <Stat label="Traces kept" testid="tail-traces-kept">
          <b>{count(kept)}</b> of {count(decided)} ({decided ? pct(kept / decided) : "—"})
        </Stat>
        <Stat label="Traces dropped" testid="tail-traces-dropped">
          <b>{count(dropped)}</b>
        </Stat>
        <Stat label="Spans kept / dropped" testid="tail-spans">
          <b>{count(data.spansKept ?? 0)}</b> / <b>{count(data.spansDropped ?? 0)}</b>
        </Stat>
        <Stat label="Late spans kept / dropped" testid="tail-late" title="Spans that arrived after their trace was decided: they follow its decision">
          <b>{count(data.lateSpansKept ?? 0)}</b> / <b>{count(data.lateSpansDropped ?? 0)}</b>
        </Stat>
        <Stat label="Held now, of max memory" testid="tail-held" title="Undecided traces; their spans wait in the WAL">
          <b>{fmtBytes(held)}</b> of {fmtBytes(maxMem)}
          <div className="meter" aria-hidden="true">
            <div style={{ width: `${maxMem ? Math.min(100, (100 * held) / maxMem) : 0}%` }} />
          </div>
          <div className="muted small">
            {count(data.heldTraces ?? 0)} traces · {count(data.heldSpans ?? 0)} spans
          </div>
        </Stat>
        <Stat label="Early decisions" testid="tail-early" title="Traces decided before they were complete because held memory reached max_memory">
          <b className={data.earlyDecisions ? "error-text" : ""}>{count(data.earlyDecisions ?? 0)}</b>
        </Stat>
      </div>
      {policies.length === 0 ? (
        <div className="message">No policies.</div>
      ) : (
        <>
          <div className="panel table-panel">
            <table className="grid-table tail-policies" data-testid="tail-policies">
              <thead>
                <tr>
                  <th>Policy</th>
                  <th>Type</th>
                  <th className="num">Evaluated</th>
                  <th className="num">Matched</th>
                  <th className="num">Kept</th>
                  <th className="num">Over budget</th>
                  <th className="num" title="Evaluated − kept: traces this policy did not keep (another policy may have kept them)">
                    Dropped
                  </th>
                </tr>
              </thead>
              <tbody>
                {policies.map((p, i) => (
                  <tr key={i + "\u0000" + p.name} data-testid="tail-policy-row">
                    <td>{p.name}</td>
                    <td>{p.type}</td>
                    <td className="num">{count(p.evaluated)}</td>
                    <td className="num">{count(p.matched)}</td>
                    <td className="num">{count(p.kept)}</td>
                    <td className="num">{count(p.overBudget)}</td>
                    <td className="num">{count(Math.max(0, p.evaluated - p.kept))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted small">
            Policies run in order on every trace; a trace is kept by the first policy that matches within its budget, and its spans get ariadne.sampling.policy and
            ariadne.sampling.adjusted_count. Dropped counts the traces a policy evaluated but did not keep; another policy may have kept them.
          </p>
        </>
      )}
    </>
  );
}

function Stat({ label, testid, title, children }: { label: string; testid: string; title?: string; children: React.ReactNode }) {
  return (
    <div className="stat panel" data-testid={testid} title={title}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{children}</div>
    </div>
  );
}

function fmt(v: number): string {
  if (v === 0) return "0";
  if (v >= 100) return v.toFixed(0);
  return v.toPrecision(3).replace(/\.?0+$/, "");
}

function count(v: number): string {
  return v.toLocaleString("en-US");
}

function pct(f: number): string {
  const p = f * 100;
  if (p === 0 || p === 100) return p + "%";
  return (p < 10 ? p.toFixed(2) : p.toFixed(1)) + "%";
}

function fmtSeconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  return `${+s.toFixed(2)} s`;
}

function fmtBytes(b: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return (i === 0 ? b.toFixed(0) : +b.toFixed(1)) + " " + units[i];
}
