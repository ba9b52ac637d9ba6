// A minimal history router: the whole view state lives in the URL.
import { useEffect, useState } from "react";

const listeners = new Set<() => void>();

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((l) => l());
}

window.addEventListener("popstate", () => listeners.forEach((l) => l()));

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  const rendered = location.pathname + location.search;
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    // A navigation between this render and the effect found no listener.
    if (location.pathname + location.search !== rendered) l();
    return () => {
      listeners.delete(l);
    };
  }, [rendered]);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

// setQuery replaces (or deletes, for "" / null) URL parameters of the
// current page, keeping the others.
export function setQuery(changes: Record<string, string | null | undefined>, opts: { replace?: boolean } = { replace: true }) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === "") q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(location.pathname + (s ? "?" + s : ""), opts);
}

// Link renders an in-app anchor that navigates without reloading.
export function onLinkClick(e: React.MouseEvent<HTMLAnchorElement>) {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = e.currentTarget.getAttribute("href");
  if (!href || !href.startsWith("/")) return;
  e.preventDefault();
  navigate(href);
}
