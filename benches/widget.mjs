// The website widget's benchmark: sizes, and in Chromium on loopback the time to the launcher, to a ready chat and
// to the first piece of an answer, each as a ratio to a blank page's load measured in the same run.
//
// Usage (what `make widget-bench` runs): node benches/widget.mjs --server URL --key ck_… --assistant asst_…
//   [--runs 20] [--chromium /usr/bin/chromium]
// The server must be running, with a knowledge-base entry that answers "how much is shipping".
import { readFileSync } from "node:fs";
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
const server = args.server;
const runs = Number(args.runs ?? 20);
if (!server || !args.assistant) {
  console.error("usage: node benches/widget.mjs --server URL --assistant asst_… [--runs 20]");
  process.exit(2);
}

// The test site: a blank page (the baseline) and the same page with the widget, on another origin.
const body = "<h1>Shop</h1><p>A page of a shop.</p>";
const pages = {
  "/blank": `<!doctype html><html lang="en"><title>Blank</title><body>${body}</body></html>`,
  "/widget": `<!doctype html><html lang="en"><title>Widget</title><body>${body}<script src="${server}/embed.js" data-assistant-id="${args.assistant}" defer></script></body></html>`,
};
const site = createServer((req, res) => {
  const page = pages[new URL(req.url, "http://x").pathname];
  res.writeHead(page ? 200 : 404, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(page ?? "");
});
await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
const origin = `http://localhost:${site.address().port}`;

const browser = await chromium.launch({ executablePath: args.chromium ?? "/usr/bin/chromium", args: ["--no-sandbox"] });

/** Milliseconds from navigation start to the load event, of a fresh context (nothing cached). */
async function blankLoad() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/blank`, { waitUntil: "load" });
  const ms = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
  await context.close();
  return ms;
}

/** The widget's timings in a fresh context: launcher visible, chat ready after the click, first answer piece. */
async function widgetRun() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(() => {
    // Stamps the moment the launcher is in the page.
    const seen = () => {
      const host = document.querySelector("[data-concierge-widget]");
      const button = host?.shadowRoot?.querySelector("[data-testid=launcher]");
      if (button && button.getBoundingClientRect().width > 0) {
        window.__launcherAt = performance.now();
        return true;
      }
      return false;
    };
    const poll = () => {
      if (!seen()) requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  });
  await page.goto(`${origin}/widget`, { waitUntil: "load" });
  await page.waitForFunction(() => window.__launcherAt !== undefined);
  const launcher = await page.evaluate(() => window.__launcherAt);
  const ready = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const start = performance.now();
        window.AIAssistant.on("ready", () => resolve(performance.now() - start));
        window.AIAssistant.open();
      }),
  );
  const input = page.locator("[data-testid=input]");
  await input.fill("how much is shipping");
  const firstPiece = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const root = document.querySelector("[data-concierge-widget]").shadowRoot;
        const before = root.querySelectorAll("[data-testid=message][data-author=assistant]").length;
        const start = performance.now();
        const check = () => {
          const bubbles = root.querySelectorAll("[data-testid=message][data-author=assistant]");
          if (bubbles.length > before && bubbles[before].textContent.trim().length > 0) resolve(performance.now() - start);
          else requestAnimationFrame(check);
        };
        root.querySelector("[data-testid=send]").click();
        requestAnimationFrame(check);
      }),
  );
  await context.close();
  return { launcher, ready, firstPiece };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};

// Warm-up, then the runs interleaved so that drift hits both alike.
await blankLoad();
await widgetRun();
const blank = [];
const widget = [];
for (let i = 0; i < runs; i++) {
  blank.push(await blankLoad());
  widget.push(await widgetRun());
}
await browser.close();
site.close();

const manifest = JSON.parse(readFileSync(new URL("../web/dist/manifest.json", import.meta.url), "utf8"));
const loaderRaw = readFileSync(new URL(`../web/dist/${manifest.loader}`, import.meta.url));
const widgetRaw = readFileSync(new URL(`../web/dist/${manifest.widget}`, import.meta.url));
const base = median(blank);
const rows = [
  ["blank page load (baseline)", base],
  ["page load → launcher visible", median(widget.map((w) => w.launcher))],
  ["open → chat ready (session started)", median(widget.map((w) => w.ready))],
  ["question sent → first piece of the answer", median(widget.map((w) => w.firstPiece))],
];
console.log(`widget benchmark: ${runs} runs each, Chromium headless on loopback, medians`);
console.log(`loader embed.js: ${loaderRaw.length} bytes, ${gzipSync(loaderRaw, { level: 9 }).length} gzipped`);
console.log(`widget ${manifest.widget}: ${widgetRaw.length} bytes, ${gzipSync(widgetRaw, { level: 9 }).length} gzipped`);
console.log("| measure | median ms | ratio to blank page load |");
console.log("|---|---:|---:|");
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(1)} | ${(ms / base).toFixed(2)} |`);
