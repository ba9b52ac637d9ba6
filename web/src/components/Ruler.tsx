import { fmtDuration } from "../format";

// Ruler labels the visible time window (microseconds from trace start).
export function Ruler({ from, to }: { from: number; to: number }) {
  const n = 5;
  return (
    <div className="ruler">
      {Array.from({ length: n + 1 }, (_, i) => (
        <span key={i} className="tick" style={{ left: `${(i / n) * 100}%` }}>
          {i === n ? "" : fmtDuration(from + ((to - from) * i) / n)}
        </span>
      ))}
      <span className="tick-end">{fmtDuration(to)}</span>
    </div>
  );
}
