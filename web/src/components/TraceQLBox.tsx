// The TraceQL query box: autocomplete of scopes, intrinsics, attribute keys
// and values, and syntax errors shown under the query at their position.
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import * as api from "../api";
import { keywordValues, suggest, type Suggestion } from "../tqlsuggest";

export function TraceQLBox({ value, onChange, error }: { value: string; onChange: (v: string) => void; error: api.TraceQLError | null }) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const [cursor, setCursor] = useState(value.length);
  const [focused, setFocused] = useState(false);
  const [keys, setKeys] = useState<string[]>([]);
  const [vals, setVals] = useState<Record<string, string[]>>({});
  useEffect(() => {
    api.attributeKeys().then(setKeys, () => {});
  }, []);
  const before = value.slice(0, cursor);
  const valueKey = before.match(/([A-Za-z_.][\w.:\-]*)\s*(=|!=|=~|!~)\s*"?[^"\s]*$/)?.[1].replace(/^(span|resource|event|link|instrumentation)?\./, "");
  useEffect(() => {
    if (!valueKey || keywordValues[valueKey] || vals[valueKey]) return;
    api.attributeValues(valueKey).then(
      (v) => setVals((o) => ({ ...o, [valueKey]: v })),
      () => setVals((o) => ({ ...o, [valueKey]: [] })),
    );
  }, [valueKey, vals]);
  const suggestions = focused ? suggest(before, keys, (k) => vals[k]).slice(0, 12) : [];
  const apply = (s: Suggestion) => {
    const next = value.slice(0, s.from) + s.label + value.slice(cursor);
    const pos = s.from + s.label.length;
    caret.current = pos;
    onChange(next);
    setCursor(pos);
  };
  // Put the caret after an applied completion as soon as the new value is
  // in the DOM, before the user's next key.
  const caret = useRef<number | null>(null);
  useLayoutEffect(() => {
    if (caret.current === null || !ref.current) return;
    ref.current.focus();
    ref.current.setSelectionRange(caret.current, caret.current);
    caret.current = null;
  }, [value]);
  const track = (e: React.SyntheticEvent<HTMLTextAreaElement>) => setCursor(e.currentTarget.selectionStart ?? 0);

  let errLine: React.ReactNode = null;
  if (error?.position) {
    const lines = value.split("\n");
    const text = lines[error.position.line - 1] ?? "";
    const col = Math.max(1, Math.min(error.position.column, text.length + 1));
    errLine = (
      <pre className="tql-caret mono" data-testid="traceql-error-caret">
        {text}
        {"\n"}
        {" ".repeat(col - 1)}^
      </pre>
    );
  }
  return (
    <div className="tql-box">
      <textarea
        ref={ref}
        className={"tql-input mono" + (error ? " invalid" : "")}
        value={value}
        name="q"
        rows={3}
        spellCheck={false}
        placeholder='{ resource.service.name = "checkout" } >> { status = error }'
        data-testid="traceql-input"
        onChange={(e) => {
          onChange(e.target.value);
          track(e);
        }}
        onSelect={track}
        onKeyUp={track}
        onFocus={() => setFocused(true)}
        onClick={() => setFocused(true)}
        onBlur={() => setTimeout(() => setFocused(false), 150)}
        onKeyDown={(e) => {
          if (e.key === "Tab" && !e.shiftKey && suggestions.length > 0) {
            e.preventDefault();
            apply(suggestions[0]);
          } else if (e.key === "Escape") {
            setFocused(false);
          } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            e.currentTarget.form?.requestSubmit();
          }
        }}
      />
      {suggestions.length > 0 && (
        <ul className="tql-suggestions panel" role="listbox" aria-label="Completions">
          {suggestions.map((s) => (
            <li key={s.label}>
              <button type="button" className="link-button mono" data-testid="tql-suggestion" onMouseDown={(e) => e.preventDefault()} onClick={() => apply(s)}>
                {s.label}
              </button>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <div className="tql-error" role="alert" data-testid="traceql-error">
          {error.position && (
            <div className="error-text" data-testid="traceql-error-position">
              {error.unsupported ? "Not supported" : "Syntax error"} at line {error.position.line}, column {error.position.column}: {error.detail}
            </div>
          )}
          {!error.position && <div className="error-text">{error.message}</div>}
          {errLine}
        </div>
      )}
      <div className="muted small">Tab takes the first completion; Ctrl+Enter runs the query. Syntax: docs/traceql.md</div>
    </div>
  );
}
