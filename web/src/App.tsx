import { useEffect, useState } from "react";
import { navigate, onLinkClick, useLocation } from "./router";
import { SearchPage } from "./pages/SearchPage";
import { TracePage } from "./pages/TracePage";
import { ComparePage } from "./pages/ComparePage";
import { ServicesPage } from "./pages/ServicesPage";
import { ServicePage } from "./pages/ServicePage";
import { MapPage } from "./pages/MapPage";
import { SamplingPage } from "./pages/SamplingPage";
import { parseTraceFile, type Span } from "./model";

type Theme = "light" | "dark";

function initialTheme(): Theme {
  const q = new URLSearchParams(location.search).get("theme");
  if (q === "dark" || q === "light") return q;
  const saved = localStorage.getItem("ariadne.theme");
  if (saved === "dark" || saved === "light") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

// A trace opened from a file lives in memory only: it is never stored.
let openedFile: { name: string; spans: Span[] } | null = null;

export function App() {
  const { path, query } = useLocation();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [fileError, setFileError] = useState("");
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggleTheme = () => {
    const t = theme === "dark" ? "light" : "dark";
    localStorage.setItem("ariadne.theme", t);
    setTheme(t);
  };
  const openFile = async (f: File | undefined) => {
    if (!f) return;
    try {
      const spans = parseTraceFile(await f.text());
      if (spans.length === 0) throw new Error("the file holds no spans");
      openedFile = { name: f.name, spans };
      setFileError("");
      navigate("/file");
    } catch (e) {
      setFileError(`${f.name}: ${(e as Error).message}`);
    }
  };

  let page: React.ReactNode;
  const m = path.match(/^\/trace\/([^/]+)\/?$/);
  if (path === "/" || path === "") {
    navigate("/search" + location.search, { replace: true });
    page = null;
  } else if (path === "/search") {
    page = <SearchPage query={query} />;
  } else if (m && m[1].includes("...")) {
    const [a, b] = decodeURIComponent(m[1]).split("...");
    page = <ComparePage a={a} b={b} />;
  } else if (m) {
    page = <TracePage key={m[1]} traceID={decodeURIComponent(m[1])} query={query} />;
  } else if (path === "/services" || path === "/services/") {
    page = <ServicesPage query={query} />;
  } else if (path.startsWith("/services/")) {
    let name = path.slice("/services/".length);
    try {
      name = decodeURIComponent(name);
    } catch {
      /* malformed escape: use the path as it is */
    }
    page = <ServicePage key={name} service={name} query={query} />;
  } else if (path === "/map") {
    page = <MapPage query={query} />;
  } else if (path === "/compare") {
    page = <ComparePage a={query.get("a") ?? ""} b={query.get("b") ?? ""} />;
  } else if (path === "/sampling") {
    page = <SamplingPage />;
  } else if (path === "/file") {
    page = openedFile ? (
      <TracePage key={"file:" + openedFile.name} file={openedFile} query={query} />
    ) : (
      <div className="page message">No file is open. Use “Open JSON” to view an OTLP/JSON or Jaeger JSON file.</div>
    );
  } else {
    page = <div className="page message">Page not found: {path}</div>;
  }

  return (
    <div className="app">
      <header className="topbar">
        <a href="/search" className="brand" onClick={onLinkClick}>
          <svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">
            <path d="M2 9c3-6 5 6 7 0s4 6 7 0" fill="none" stroke="currentColor" strokeWidth="2" />
          </svg>
          Ariadne
        </a>
        <nav>
          <a href="/search" onClick={onLinkClick} className={path === "/search" ? "active" : ""}>
            Search
          </a>
          <a href="/services" onClick={onLinkClick} className={path.startsWith("/services") ? "active" : ""}>
            Services
          </a>
          <a href="/map" onClick={onLinkClick} className={path === "/map" ? "active" : ""}>
            Service map
          </a>
          <a href="/compare" onClick={onLinkClick} className={path === "/compare" ? "active" : ""}>
            Compare
          </a>
          <a href="/sampling" onClick={onLinkClick} className={path === "/sampling" ? "active" : ""}>
            Sampling
          </a>
        </nav>
        <div className="spacer" />
        {fileError && (
          <span className="error-text" role="alert">
            {fileError}
          </span>
        )}
        <label className="button" title="View an OTLP/JSON or Jaeger JSON file without storing it">
          Open JSON
          <input type="file" accept=".json,application/json" data-testid="open-file" hidden onChange={(e) => openFile(e.target.files?.[0])} />
        </label>
        <button type="button" className="button" onClick={toggleTheme} data-testid="theme-toggle" title="Toggle light/dark theme">
          {theme === "dark" ? "Light" : "Dark"}
        </button>
      </header>
      <main>{page}</main>
    </div>
  );
}
