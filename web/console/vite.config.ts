// vite.config.ts — builds the console into ../dist/console, which the server embeds and serves under /console:
// hashed file names under assets/ (cached for a year), index.html (never cached) naming them. A second entry,
// graphiql.html, is the GraphQL explorer (GraphiQL: React and Monaco, with Monaco's editor workers); the console's
// pages load none of its chunks (the two share only graphql-ws and Rolldown's runtime).
import { fileURLToPath } from "node:url";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig, type Plugin } from "vite";

// `npm run dev` serves the console with hot reload against a server started by `make run`.
const server = process.env.CONCIERGE_URL ?? "http://127.0.0.1:8080";

// GraphiQL's icons take their <title> (an SVG's accessible name) from their function's name, which minifying
// shortens to "l4 icon": the name is set explicitly before that happens.
const graphiqlIconTitles: Plugin = {
  name: "concierge:graphiql-icon-titles",
  transform: {
    filter: { id: /@graphiql[\\/]react[\\/]dist[\\/]icons[\\/]index\.js$/ },
    handler(code) {
      return code.replace(
        /generateIcon\((Svg\w+)\)/g,
        (_, name: string) => `generateIcon(Object.defineProperty(${name}, "name", { value: "${name}" }))`,
      );
    },
  },
};

export default defineConfig({
  base: "/console/",
  plugins: [svelte(), graphiqlIconTitles],
  build: {
    outDir: "../dist/console",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    // The server's Content-Security-Policy allows no inline script: no polyfill is inlined.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    // GraphiQL and Monaco are megabytes, loaded only by the explorer; the console's first page is measured by
    // `make console-bench`.
    chunkSizeWarningLimit: 3000,
    rolldownOptions: {
      input: {
        index: fileURLToPath(new URL("index.html", import.meta.url)),
        graphiql: fileURLToPath(new URL("graphiql.html", import.meta.url)),
      },
      // GraphiQL's React libraries start with "use client" (meaningful to server components only): not a problem.
      onLog(level, log, handler) {
        if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
        handler(level, log);
      },
    },
  },
  // Monaco's workers (graphiql/setup-workers/vite): module workers, files under assets/ (worker-src 'self').
  worker: { format: "es" },
  // `npm run dev`: the worker setup is served as it is, not pre-bundled (the optimizer cannot bundle `?worker`).
  optimizeDeps: { exclude: ["graphiql/setup-workers/vite", "@graphiql/react/setup-workers/vite"] },
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
