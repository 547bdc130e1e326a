// main.tsx — the GraphQL explorer, `graphiql.html` (the server answers a browser's GET /graphql with it): GraphiQL
// with its docs explorer and history, every script, style, font and editor worker served by this server.
// A signed-in member is authenticated by the session cookie; anyone else adds
// {"Authorization": "Bearer ck_…"} in the headers editor (also sent in `connection_init` for subscriptions).
import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import "./page.css";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

const socket = location.protocol === "https:" ? "wss:" : "ws:";

const fetcher = createGraphiQLFetcher({
  url: "/graphql",
  subscriptionUrl: `${socket}//${location.host}/graphql/ws`,
  // The session cookie goes with every request to this origin, never elsewhere.
  fetch: (input, init) => fetch(input, { ...init, credentials: "same-origin" }),
});

// GraphiQL keeps its tabs and history in localStorage; a history entry would keep the headers, and with them an
// API key. This storage drops every `headers` before it is written (and GraphiQL's option to keep them is hidden).
const withoutHeaders = (value: string): string => {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed === null || typeof parsed !== "object") return value;
    return JSON.stringify(parsed, (key, inner: unknown) => (key === "headers" ? undefined : inner));
  } catch {
    return value;
  }
};

const storage: Storage = {
  get length() {
    return localStorage.length;
  },
  key: (index) => localStorage.key(index),
  getItem: (key) => localStorage.getItem(key),
  setItem: (key, value) => {
    if (key.endsWith(":headers")) localStorage.removeItem(key);
    else localStorage.setItem(key, withoutHeaders(value));
  },
  removeItem: (key) => localStorage.removeItem(key),
  clear: () => {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith("graphiql:")) localStorage.removeItem(key);
    }
  },
};

const DEFAULT_QUERY = `# Concierge GraphQL explorer
#
# Signed in to the console, your session authenticates you here. Otherwise
# add your API key under Headers below:  {"Authorization": "Bearer ck_…"}
# then re-fetch the schema (the circling arrows, or Shift-Ctrl-R).
#
# The book icon on the left opens the schema's documentation.

{
  me {
    role
    plan
  }
}
`;

const target = document.getElementById("graphiql");
if (target) {
  createRoot(target).render(
    <StrictMode>
      <GraphiQL
        fetcher={fetcher}
        storage={storage}
        defaultQuery={DEFAULT_QUERY}
        isHeadersEditorEnabled
        shouldPersistHeaders={false}
        showPersistHeadersSettings={false}
      />
    </StrictMode>,
  );
}
