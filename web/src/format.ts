// Display helpers: durations, times, service colours.

// fmtDuration formats microseconds: 812µs, 12.3ms, 1.52s, 2m3s.
export function fmtDuration(us: number): string {
  if (!isFinite(us)) return "–";
  const a = Math.abs(us);
  const sign = us < 0 ? "-" : "";
  if (a < 1) return sign + Math.round(a * 1000) + "ns";
  if (a < 1000) return sign + trim(a) + "µs";
  if (a < 1e6) return sign + trim(a / 1000) + "ms";
  if (a < 60e6) return sign + trim(a / 1e6) + "s";
  const m = Math.floor(a / 60e6);
  return sign + m + "m" + Math.round((a - m * 60e6) / 1e6) + "s";
}

function trim(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, "");
  return v.toFixed(2).replace(/\.?0+$/, "");
}

// fmtTime formats microseconds since the epoch as local date and time.
export function fmtTime(us: number): string {
  const d = new Date(us / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// fmtAgo formats how long ago a time (microseconds since the epoch) was.
export function fmtAgo(us: number, nowMs = Date.now()): string {
  const s = Math.round(nowMs / 1000 - us / 1e6);
  if (s < 5) return "just now";
  if (s < 90) return s + "s ago";
  if (s < 90 * 60) return Math.round(s / 60) + "m ago";
  if (s < 36 * 3600) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}

const palette = [
  "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#c9a227",
  "#bcbd22", "#9c755f", "#2f9ec4", "#8cd17d", "#d37295", "#6b5bd6",
  "#3f8f8f", "#17a673", "#a05195", "#d4a373", "#5c7cfa", "#94a3b8",
];

// serviceColor gives a service a stable colour derived from its name.
export function serviceColor(service: string): string {
  let h = 2166136261;
  for (let i = 0; i < service.length; i++) {
    h ^= service.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  h ^= h >>> 13;
  h = Math.imul(h, 0x5bd1e995);
  h ^= h >>> 15;
  return palette[(h >>> 0) % palette.length];
}
