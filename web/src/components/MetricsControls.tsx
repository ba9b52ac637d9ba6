// Controls shared by the metrics pages: the time-window picker, sortable
// table headers and a loader hook.
import { useEffect, useMemo, useState } from "react";
import { setQuery } from "../router";
import { windowOf, windowParam, windows, type Window } from "../metrics";

// WindowPicker picks the window; its refresh button moves the window to
// the current minute and loads again.
export function WindowPicker({ value, onRefresh }: { value: string; onRefresh: () => void }) {
  return (
    <>
      <button type="button" className="button" onClick={onRefresh} title="Load again, up to now" data-testid="refresh">
        Refresh
      </button>
      <label className="window-picker">
        Window{" "}
        <select name="window" value={value} onChange={(e) => setQuery({ window: e.target.value === "1h" ? null : e.target.value })}>
          {windows.map(([k, l]) => (
            <option key={k} value={k}>
              {l}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

// useWindow is the page's window (URL parameter `window`) and a refresh
// function that recomputes it up to now.
export function useWindow(query: URLSearchParams): { win: string; w: Window; refresh: () => void } {
  const win = windowParam(query);
  const [tick, setTick] = useState(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const w = useMemo(() => windowOf(win), [win, tick]);
  return { win, w, refresh: () => setTick((t) => t + 1) };
}

export interface Sort {
  key: string;
  flip: boolean; // against the column's natural order
}

// SortHeader is a column header that sorts by key; a second click flips
// the order. onSort receives the new sort.
export function SortHeader({ k, label, sort, onSort, num }: { k: string; label: string; sort: Sort; onSort: (s: Sort) => void; num?: boolean }) {
  const on = sort.key === k;
  const arrow = on ? ((num ? !sort.flip : sort.flip) ? " ▼" : " ▲") : "";
  return (
    <th className={(on ? "sorted" : "") + (num ? " num" : "")} onClick={() => onSort({ key: k, flip: on ? !sort.flip : false })} data-sort={k} aria-sort={on ? (arrow.includes("▼") ? "descending" : "ascending") : "none"}>
      {label}
      {arrow}
    </th>
  );
}

export type Loaded<T> = { state: "loading" } | { state: "error"; error: string } | { state: "ok"; data: T };

// useLoad runs load whenever deps change, cancelling the previous run.
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [v, setV] = useState<Loaded<T>>({ state: "loading" });
  useEffect(() => {
    const ac = new AbortController();
    setV({ state: "loading" });
    load(ac.signal).then(
      (data) => !ac.signal.aborted && setV({ state: "ok", data }),
      (e: Error) => !ac.signal.aborted && setV({ state: "error", error: e.message || String(e) }),
    );
    return () => ac.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return v;
}

// Status renders the loading and error states of a Loaded value.
export function Status({ v, what }: { v: Loaded<unknown>; what: string }) {
  if (v.state === "loading") return <div className="message">Loading {what}…</div>;
  if (v.state === "error")
    return (
      <div className="error-box" role="alert" data-testid="metrics-error">
        Could not load {what}: {v.error}
      </div>
    );
  return null;
}
