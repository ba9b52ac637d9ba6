import { useState } from "react";
import type { Attr } from "../model";
import type { Node, Tree } from "../tree";
import { fmtDuration, serviceColor } from "../format";
import { onLinkClick } from "../router";
import { serviceHref } from "../metrics";

function copy(text: string) {
  void navigator.clipboard?.writeText(text).catch(() => {});
}

function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="icon copy"
      title="Copy"
      onClick={(e) => {
        e.stopPropagation();
        copy(text);
        setDone(true);
        setTimeout(() => setDone(false), 1000);
      }}
    >
      {done ? (
        "✓"
      ) : (
        <svg width="11" height="11" viewBox="0 0 12 12" aria-hidden="true">
          <rect x="3.5" y="0.5" width="8" height="8" rx="1" fill="none" stroke="currentColor" />
          <rect x="0.5" y="3.5" width="8" height="8" rx="1" fill="var(--panel)" stroke="currentColor" />
        </svg>
      )}
    </button>
  );
}

function AttrTable({ title, attrs, filter }: { title: string; attrs: Attr[]; filter: string }) {
  const f = filter.toLowerCase();
  const shown = f ? attrs.filter((a) => a.key.toLowerCase().includes(f) || a.value.toLowerCase().includes(f)) : attrs;
  if (attrs.length === 0) return null;
  return (
    <section>
      <h4>
        {title} <span className="muted">({shown.length === attrs.length ? attrs.length : `${shown.length} of ${attrs.length}`})</span>
      </h4>
      <table className="kv" data-testid={"attrs-" + title.toLowerCase().split(" ")[0]}>
        <tbody>
          {shown.map((a, i) => (
            <tr key={a.key + i}>
              <th>{a.key}</th>
              <td>
                <span className="value">{a.value}</span>
                <CopyButton text={a.value} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const hex = /^[0-9a-f]+$/;

// SpanDetail shows everything about one span. Every value is rendered as
// text; the only links are to traces and spans inside this app.
export function SpanDetail({ node, tree, onClose }: { node: Node; tree: Tree; onClose: () => void }) {
  const [filter, setFilter] = useState("");
  const s = node.span;
  return (
    <aside className="span-detail panel" data-testid="span-detail">
      <div className="sd-head">
        <span className="svc-dot" style={{ background: serviceColor(s.service) }} />
        <h3 data-testid="span-detail-name">{s.name}</h3>
        <div className="spacer" />
        <button type="button" className="icon" onClick={onClose} title="Close" data-testid="span-detail-close">
          ×
        </button>
      </div>
      <dl className="facts">
        <dt>Service</dt>
        <dd>
          <a href={serviceHref(s.service)} onClick={onLinkClick} title="Rate, errors and latency of this service" data-testid="span-service-link">
            {s.service}
          </a>
        </dd>
        <dt>Kind</dt>
        <dd>{s.kind}</dd>
        <dt>Status</dt>
        <dd className={s.status === "error" ? "error-text" : ""} data-testid="span-status">
          {s.status}
          {s.statusMessage && `: ${s.statusMessage}`}
        </dd>
        <dt>Start</dt>
        <dd>+{fmtDuration(s.start - tree.start)}</dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(s.end - s.start)}</dd>
        <dt>Self time</dt>
        <dd data-testid="self-time">{fmtDuration(node.selfTime)}</dd>
        <dt>Span ID</dt>
        <dd className="mono">
          {s.spanID} <CopyButton text={s.spanID} />
        </dd>
        <dt>Parent ID</dt>
        <dd className="mono">{s.parentID ? <>{s.parentID}{node.orphan && " (not in trace)"}</> : "none (root)"}</dd>
        <dt>Trace ID</dt>
        <dd className="mono">
          {s.traceID} <CopyButton text={s.traceID} />
        </dd>
        {s.scope.name && (
          <>
            <dt>Scope</dt>
            <dd>
              {s.scope.name} {s.scope.version}
            </dd>
          </>
        )}
      </dl>
      <input className="attr-filter" placeholder="Filter attributes" value={filter} onChange={(e) => setFilter(e.target.value)} data-testid="attr-filter" />
      <AttrTable title="Span attributes" attrs={s.attributes} filter={filter} />
      <AttrTable title="Resource attributes" attrs={s.resource} filter={filter} />
      <AttrTable title="Scope attributes" attrs={s.scope.attributes} filter={filter} />
      {s.events.length > 0 && (
        <section>
          <h4>Events ({s.events.length})</h4>
          <ul className="events">
            {s.events.map((e, i) => (
              <li key={i}>
                <span className="mono">+{fmtDuration(e.time - tree.start)}</span> <b>{e.name}</b>
                {e.attributes.length > 0 && <AttrTable title={"Event attributes"} attrs={e.attributes} filter={filter} />}
              </li>
            ))}
          </ul>
        </section>
      )}
      {s.links.length > 0 && (
        <section>
          <h4>Links ({s.links.length})</h4>
          <ul className="links">
            {s.links.map((l, i) => {
              const ok = l.traceID.length === 32 && hex.test(l.traceID) && hex.test(l.spanID);
              return (
                <li key={i}>
                  {ok ? (
                    <a href={`/trace/${l.traceID}?uiFind=${l.spanID}&span=${l.spanID}`} onClick={onLinkClick} data-testid="span-link">
                      {l.traceID.slice(0, 16)}… / {l.spanID}
                    </a>
                  ) : (
                    <span className="mono">
                      {l.traceID} / {l.spanID}
                    </span>
                  )}
                  {l.attributes.length > 0 && <AttrTable title="Link attributes" attrs={l.attributes} filter={filter} />}
                </li>
              );
            })}
          </ul>
        </section>
      )}
    </aside>
  );
}
