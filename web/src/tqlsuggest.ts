// Completions for the TraceQL query box: scopes, intrinsics, attribute keys
// and values, from the text before the cursor.

const scopes = ["span.", "resource.", "event.", "link.", "instrumentation.", "."];
const intrinsics = [
  "name", "status", "statusMessage", "kind", "duration", "span:id", "span:parentID", "trace:id", "trace:duration",
  "trace:rootName", "trace:rootService", "event:name", "link:traceID", "instrumentation:name",
];
export const keywordValues: Record<string, string[]> = {
  status: ["error", "ok", "unset"],
  kind: ["server", "client", "producer", "consumer", "internal", "unspecified"],
};

export interface Suggestion {
  label: string;
  from: number; // replace text[from:cursor] with label
}

// suggest returns completions for the text before the cursor.
export function suggest(before: string, keys: string[], values: (key: string) => string[] | undefined): Suggestion[] {
  // Attributes only appear inside a spanset filter { } or a pipeline
  // function's parentheses, e.g. by( ).
  const code = before.replace(/"(?:[^"\\]|\\.)*"?/g, '""');
  const depth = (c: string) => code.split(c).length - 1;
  if (depth("{") <= depth("}") && depth("(") <= depth(")")) return [];
  // A value after a comparison: key op "partial
  const v = before.match(/([A-Za-z_:][\w.:\-]*)\s*(=|!=|=~|!~)\s*("?)([^"\s]*)$/);
  if (v) {
    const key = v[1];
    const from = before.length - v[3].length - v[4].length;
    const typed = v[4].toLowerCase();
    if (keywordValues[key]) return keywordValues[key].filter((x) => x.startsWith(typed)).map((x) => ({ label: x, from }));
    const bare = key.replace(/^(span|resource|event|link|instrumentation)?\./, "");
    return (values(bare) ?? []).filter((x) => x.toLowerCase().includes(typed)).map((x) => ({ label: JSON.stringify(x), from }));
  }
  const w = before.match(/([A-Za-z_.:][\w.:\-]*)$/);
  if (!w) return /[{(&|!]\s*$/.test(before) ? [...scopes, ...intrinsics].map((label) => ({ label, from: before.length })) : [];
  const word = w[1];
  const from = before.length - word.length;
  const scope = word.match(/^(span|resource|event|link|instrumentation)?\./);
  if (scope) {
    const prefix = scope[0];
    const rest = word.slice(prefix.length).toLowerCase();
    return keys.filter((k) => k.toLowerCase().startsWith(rest)).map((k) => ({ label: prefix + k, from }));
  }
  const l = word.toLowerCase();
  return [...scopes, ...intrinsics].filter((s) => s.toLowerCase().startsWith(l) && s !== word).map((label) => ({ label, from }));
}
