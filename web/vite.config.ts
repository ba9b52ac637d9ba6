import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build is committed in dist/ and embedded in the Go binary
// (web/embed.go); keep it deterministic: no timestamps, content-hashed names.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:16686" },
  },
});
