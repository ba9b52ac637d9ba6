import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { Node, Segment, Tree } from "../tree";
import { fmtDuration, serviceColor } from "../format";
import { Ruler } from "./Ruler";

export const ROW_HEIGHT = 24;

interface Props {
  tree: Tree;
  rows: Node[];
  collapsed: Set<string>;
  onToggle: (n: Node) => void;
  selected: string;
  onSelect: (id: string) => void;
  matches: Set<string>;
  critical: Map<string, Segment[]> | null;
  view: [number, number];
  scrollTo: { id: string; seq: number } | null;
  onKeyDown?: (e: React.KeyboardEvent) => void;
}

// Waterfall shows the span tree as rows with timeline bars. Only the rows
// in (and near) the scrolled viewport are in the DOM, so a trace of
// 100,000 spans scrolls as smoothly as one of ten.
export function Waterfall({ tree, rows, collapsed, onToggle, selected, onSelect, matches, critical, view, scrollTo, onKeyDown }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (!scrollTo) return;
    const el = scroller.current;
    const i = rows.findIndex((r) => r.span.spanID === scrollTo.id);
    if (!el || i < 0) return;
    const top = i * ROW_HEIGHT;
    if (top < el.scrollTop || top + ROW_HEIGHT > el.scrollTop + el.clientHeight) {
      el.scrollTop = Math.max(0, top - el.clientHeight / 3);
    }
    // rows is deliberately not a dependency: scroll only when asked.
  }, [scrollTo]);

  const overscan = 10;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - overscan);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + overscan);
  const dur = tree.end - tree.start || 1;
  const vFrom = tree.start + view[0] * dur;
  const vTo = tree.start + view[1] * dur;
  const vDur = vTo - vFrom || 1;
  const pct = (t: number) => ((t - vFrom) / vDur) * 100;

  const visible: React.ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const n = rows[i];
    const s = n.span;
    const left = pct(s.start);
    const width = Math.max(((s.end - s.start) / vDur) * 100, 0.05);
    const segs = critical?.get(s.spanID);
    const isCollapsed = collapsed.has(s.spanID);
    const color = serviceColor(s.service);
    // The duration label goes right of the bar, else left of it, else
    // inside it when the bar fills the row.
    const labelPos: React.CSSProperties =
      left + width < 75
        ? { left: `calc(${Math.max(left + width, 0)}% + 4px)` }
        : left > 25
          ? { right: `calc(${100 - left}% + 4px)` }
          : { left: `calc(${Math.max(left, 0)}% + 6px)`, color: "#fff", fontWeight: 600 };
    visible.push(
      <div
        key={s.spanID + ":" + n.index}
        className={
          "row" +
          (s.spanID === selected ? " selected" : "") +
          (matches.has(s.spanID) ? " match" : "") +
          (s.status === "error" ? " error" : "") +
          (segs ? " critical" : "")
        }
        style={{ top: i * ROW_HEIGHT }}
        data-testid="span-row"
        data-span-id={s.spanID}
        data-row={i}
        onClick={() => onSelect(s.spanID)}
      >
        <div className="name-col" style={{ paddingLeft: 4 + Math.min(n.depth, 40) * 12 }} title={`${s.service}: ${s.name}`}>
          {n.children.length > 0 ? (
            <button
              type="button"
              className="toggle"
              aria-label={isCollapsed ? "Expand" : "Collapse"}
              data-testid="toggle"
              onClick={(e) => {
                e.stopPropagation();
                onToggle(n);
              }}
            >
              {isCollapsed ? "▸" : "▾"}
            </button>
          ) : (
            <span className="toggle-space" />
          )}
          <span className="svc-bar" style={{ background: color }} />
          {s.status === "error" && (
            <span className="err-icon" title="Error" data-testid="error-mark">
              !
            </span>
          )}
          <span className="svc-name">{s.service}</span>
          <span className="span-name">{s.name}</span>
          {isCollapsed && <span className="hidden-count">+{n.size - 1}</span>}
          {n.orphan && (
            <span className="tag" title="The parent span is not in this trace">
              orphan
            </span>
          )}
          {n.skew && (
            <span className="tag" title="Starts before or ends after its parent: clock skew between hosts, or an asynchronous child" data-testid="skew">
              skew
            </span>
          )}
        </div>
        <div className="time-col" title={`${s.name}: ${fmtDuration(s.end - s.start)} at +${fmtDuration(s.start - tree.start)}`}>
          <div className="bar" style={{ left: `${left}%`, width: `${width}%`, background: color }} />
          {segs?.map((g, j) => (
            <div
              key={j}
              className="cp-seg"
              style={{ left: `${pct(g.start)}%`, width: `${Math.max(((g.end - g.start) / vDur) * 100, 0.05)}%` }}
            />
          ))}
          <span className="bar-label" style={labelPos}>
            {fmtDuration(s.end - s.start)}
          </span>
        </div>
      </div>,
    );
  }

  return (
    <div className={"waterfall" + (critical ? " cp-on" : "")}>
      <div className="wf-header">
        <div className="name-col">Service and span name</div>
        <div className="time-col">
          <Ruler from={vFrom - tree.start} to={vTo - tree.start} />
        </div>
      </div>
      <div
        className="wf-scroll"
        ref={scroller}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        data-testid="waterfall"
        tabIndex={0}
        onKeyDown={onKeyDown}
        aria-label="Spans: arrow keys move and fold"
      >
        <div className="wf-inner" style={{ height: rows.length * ROW_HEIGHT }} data-rows={rows.length}>
          {visible}
        </div>
      </div>
    </div>
  );
}
