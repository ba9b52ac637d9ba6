import { describe, expect, it } from "vitest";
import { suggest } from "./tqlsuggest";

const keys = ["http.route", "http.response.status_code", "db.system", "service.name"];
const values = (k: string) => ({ "db.system": ["postgresql", "redis"], "service.name": ["checkout"] })[k];
const labels = (before: string) => suggest(before, keys, values).map((s) => s.label);

describe("TraceQL completions", () => {
  it("offers scopes and intrinsics after an opening brace or operator", () => {
    expect(labels("{ ")).toEqual(expect.arrayContaining(["span.", "resource.", ".", "name", "status", "trace:rootService"]));
    expect(labels("{ .a = 1 } && ")).toEqual([]);
    expect(labels("{ .a = 1 && ")).toContain("duration");
    expect(labels('{ .a = "}{" && ')).toContain("duration");
    expect(labels("{ } | by(")).toContain("resource.");
  });
  it("completes a partial scope or intrinsic", () => {
    expect(labels("{ res")).toEqual(["resource."]);
    expect(labels("{ trace:root")).toEqual(["trace:rootName", "trace:rootService"]);
  });
  it("offers attribute keys with the typed scope", () => {
    expect(labels("{ span.http.r")).toEqual(["span.http.route", "span.http.response.status_code"]);
    expect(labels("{ .db")).toEqual([".db.system"]);
    const s = suggest("{ resource.serv", keys, values);
    expect(s).toEqual([{ label: "resource.service.name", from: 2 }]);
  });
  it("offers quoted values after a comparison, looked up by the bare key", () => {
    expect(labels('{ span.db.system = ')).toEqual(['"postgresql"', '"redis"']);
    expect(labels('{ .db.system != "red')).toEqual(['"redis"']);
    expect(suggest('{ .db.system = "re', keys, values)[0].from).toBe('{ .db.system = '.length);
    expect(labels("{ resource.service.name =~ ")).toEqual(['"checkout"']);
  });
  it("offers the keywords of status and kind", () => {
    expect(labels("{ status = ")).toEqual(["error", "ok", "unset"]);
    expect(labels("{ kind = c")).toEqual(["client", "consumer"]);
  });
  it("offers nothing for unknown keys or inside numbers", () => {
    expect(labels("{ .nope = ")).toEqual([]);
    expect(labels("{ duration > 10")).toEqual([]);
  });
});
