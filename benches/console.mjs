// The team console's benchmark: the first page's JavaScript and CSS (gzipped); in Chromium on loopback, the time
// to an interactive inbox as a ratio to a blank page's load; and the inbox's update latency (a visitor message
// until the open conversation shows it) as a ratio to the same message reaching a plain subscription client (a
// bare WebSocket speaking graphql-transport-ws opened in the same page), sent, received and shown on one clock.
//
// Usage (what `make console-bench` runs): node benches/console.mjs --server URL --key ck_… --email E
//   --password P [--runs 20] [--chromium /usr/bin/chromium]
// The server must be running; the key is an owner's key of a premium organization (its subscriptions are the
// plain client's), the email and password a member's of the same organization.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";

const require = createRequire(new URL("../tests/peers/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a, i, all) => (a.startsWith("--") ? [a.slice(2), all[i + 1]] : null))
    .filter(Boolean),
);
const { server, key, email, password } = args;
const runs = Number(args.runs ?? 20);
if (!server || !key || !email || !password) {
  console.error("usage: node benches/console.mjs --server URL --key ck_… --email E --password P [--runs 20]");
  process.exit(2);
}

async function api(path, body, token = key) {
  const response = await fetch(`${server}${path}`, {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

const graphql = async (query, variables = {}) => {
  const { data, errors } = await api("/graphql", { query, variables });
  if (errors) throw new Error(JSON.stringify(errors));
  return data;
};

// 1. What the first page loads: the files index.html names, gzipped.
const html = await (await fetch(`${server}/console/`)).text();
const files = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]);
const sizes = { js: 0, css: 0 };
for (const file of files) {
  const bytes = Buffer.from(await (await fetch(`${server}${file}`, { headers: { "accept-encoding": "identity" } })).arrayBuffer());
  sizes[file.endsWith(".css") ? "css" : "js"] += gzipSync(bytes, { level: 9 }).length;
}

// The baseline page, on loopback like the server.
const site = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end('<!doctype html><html lang="en"><title>Blank</title><body><h1>Blank</h1></body></html>');
});
await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
const blankUrl = `http://127.0.0.1:${site.address().port}/`;

const browser = await chromium.launch({ executablePath: args.chromium ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const signedIn = await (
  await fetch(`${server}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  })
).json();
if (!signedIn.token) throw new Error(`sign-in failed: ${JSON.stringify(signedIn)}`);
const cookie = { name: "concierge_session", value: signedIn.token, url: server, httpOnly: true, sameSite: "Lax" };

async function blankLoad() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(blankUrl, { waitUntil: "load" });
  const ms = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
  await context.close();
  return ms;
}

/** Milliseconds from navigation to the inbox listing its conversations with its live feed connected. */
async function inboxRun() {
  const context = await browser.newContext();
  await context.addCookies([cookie]);
  const page = await context.newPage();
  await page.goto(`${server}/console/inbox`);
  const ms = await page.waitForFunction(
    () => {
      const listed = document.querySelector("[data-testid=conversation-row]");
      const live = [...document.querySelectorAll("[role=status]")].some((e) => e.textContent === "Live");
      return listed && live ? performance.now() : false;
    },
    null,
    { polling: "raf", timeout: 15000 },
  );
  const value = await ms.jsonValue();
  await context.close();
  return value;
}

// 2. A conversation to follow, open in the console and followed by a plain client.
const { createConversation } = await graphql(
  "mutation($a: ID!) { createConversation(input: {assistantId: $a, initialMessage: \"Hello\"}) { conversation { id } userErrors { message } } }",
  { a: args.assistant ?? (await graphql("{ assistants { id } }")).assistants[0].id },
);
const conversationId = createConversation.conversation.id;

const context = await browser.newContext();
await context.addCookies([cookie]);
const page = await context.newPage();
await page.addInitScript(() => {
  window.__seen = {};
  new MutationObserver(() => {
    for (const el of document.querySelectorAll("[data-testid=message][data-author=VISITOR] .body")) {
      const text = el.textContent;
      if (!(text in window.__seen)) window.__seen[text] = performance.now();
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
});
await page.goto(`${server}/console/inbox/${conversationId}`);
await page.locator("[data-testid=conversation]").waitFor();
// The plain client: a bare WebSocket speaking graphql-transport-ws, opened in the same page, so that the message
// is sent, received and shown on one clock (performance.now()).
await page.evaluate(
  ({ key, conversationId }) =>
    new Promise((resolve, reject) => {
      window.__plain = {};
      const url = new URL("/graphql/ws", location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(url, "graphql-transport-ws");
      socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${key}` } }));
      socket.onerror = reject;
      socket.onmessage = (frame) => {
        const message = JSON.parse(frame.data);
        if (message.type === "connection_ack") {
          socket.send(
            JSON.stringify({
              id: "1",
              type: "subscribe",
              payload: {
                query: "subscription($c: ID!) { messageAdded(conversationId: $c) { id body } }",
                variables: { c: conversationId },
              },
            }),
          );
          setTimeout(resolve, 300);
        } else if (message.type === "next") {
          const body = message.payload.data.messageAdded.body;
          if (!(body in window.__plain)) window.__plain[body] = performance.now();
        }
      };
    }),
  { key, conversationId },
);
await page.waitForTimeout(1000);

async function updateRun(i) {
  const body = `Run ${i}: where is my parcel ${Date.now()}?`;
  // Posted from the page (same origin, the member's session) as the visitor's message, stamped on the page's clock.
  const sent = await page.evaluate(
    async ({ conversationId, body }) => {
      const at = performance.now();
      const response = await fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query:
            "mutation($c: ID!, $b: String!) { sendMessage(input: {conversationId: $c, author: VISITOR, body: $b}) { userErrors { message } } }",
          variables: { c: conversationId, b: body },
        }),
      });
      if (!response.ok) throw new Error(`sendMessage: ${response.status}`);
      return at;
    },
    { conversationId, body },
  );
  const shownAt = await (
    await page.waitForFunction((b) => window.__seen[b] ?? false, body, { polling: "raf", timeout: 15000 })
  ).jsonValue();
  const plainAt = await (
    await page.waitForFunction((b) => window.__plain[b] ?? false, body, { polling: "raf", timeout: 15000 })
  ).jsonValue();
  return { console: shownAt - sent, plain: plainAt - sent };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};

// Warm-up, then the runs interleaved so that drift hits both alike.
await blankLoad();
await inboxRun();
await updateRun(0);
const blank = [];
const inbox = [];
const updates = [];
for (let i = 1; i <= runs; i++) {
  blank.push(await blankLoad());
  inbox.push(await inboxRun());
  updates.push(await updateRun(i));
}
await context.close();
await browser.close();
site.close();

const base = median(blank);
const plainMs = median(updates.map((u) => u.plain));
const consoleMs = median(updates.map((u) => u.console));
const ratios = updates.map((u) => u.console / Math.max(u.plain, 0.5));
console.log(`console benchmark: ${runs} runs each, Chromium headless on loopback, medians`);
console.log(`first page: ${sizes.js} bytes of JavaScript, ${sizes.css} bytes of CSS, gzipped (${files.length} files)`);
console.log("| measure | median ms | ratio to its baseline |");
console.log("|---|---:|---:|");
console.log(`| blank page load (baseline of the next row) | ${base.toFixed(1)} | 1.00 |`);
console.log(`| navigation → inbox listed and live | ${median(inbox).toFixed(1)} | ${(median(inbox) / base).toFixed(2)} |`);
console.log(`| visitor message → plain subscription client (baseline of the next row) | ${plainMs.toFixed(1)} | 1.00 |`);
console.log(`| visitor message → shown in the open conversation | ${consoleMs.toFixed(1)} | ${median(ratios).toFixed(2)} (median of per-message ratios) |`);
console.log(`per-message ratios: ${ratios.map((r) => r.toFixed(2)).join(" ")}`);
