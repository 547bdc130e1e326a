// vite.config.ts — builds the console into ../dist/console, which the server embeds and serves under /console:
// hashed file names under assets/ (cached for a year), index.html (never cached) naming them.
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

// `npm run dev` serves the console with hot reload against a server started by `make run`.
const server = process.env.CONCIERGE_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/console/",
  plugins: [svelte()],
  build: {
    outDir: "../dist/console",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    // The server's Content-Security-Policy allows no inline script: no polyfill is inlined.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      "/api": server,
      "/sso": server,
      "/graphql": { target: server, ws: true },
      "/embed.js": server,
      "/widget": server,
    },
  },
});
