// Calls the API from a page of another origin in Debian's Chromium (playwright-core), for the Rust tests of
// CONCIERGE_CORS_ORIGINS: what a partner's browser page can and cannot do.
//
// Reads a job from stdin:
//   {"chromium": "/usr/bin/chromium", "pagePort": 41234,   // the page's origin: http://127.0.0.1:PORT
//    "calls": [{"url": "http://127.0.0.1:APP/graphql", "method": "POST",
//               "headers": {"authorization": "Bearer ck_…", "content-type": "application/json"},
//               "body": "{\"query\": \"{ __typename }\"}", "credentials": "omit" | "include"}]}
// and prints one JSON object on stdout:
//   {origin, results: [{ok, status, body, remaining, error}], consoleErrors}
// where `error` is the browser's refusal (a CORS failure is a TypeError the page cannot see past) and
// `remaining` the RateLimit-Remaining header as the page can read it.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const job = JSON.parse(readFileSync(0, "utf8"));

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end("<!doctype html><html lang=en><title>Partner</title><p>partner page</p></html>");
});
await new Promise((resolve) => server.listen(job.pagePort, "127.0.0.1", resolve));

const browser = await chromium.launch({
  executablePath: job.chromium ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  await page.goto(`http://127.0.0.1:${job.pagePort}/`);
  const results = [];
  for (const call of job.calls) {
    results.push(
      await page.evaluate(async (call) => {
        try {
          const response = await fetch(call.url, {
            method: call.method ?? "GET",
            headers: call.headers ?? {},
            body: call.body,
            credentials: call.credentials ?? "omit",
          });
          return {
            ok: response.ok,
            status: response.status,
            body: await response.text(),
            remaining: response.headers.get("ratelimit-remaining"),
            error: null,
          };
        } catch (e) {
          return { ok: false, status: 0, body: null, remaining: null, error: String(e) };
        }
      }, call),
    );
  }
  console.log(JSON.stringify({ origin: await page.evaluate(() => location.origin), results, consoleErrors }));
} finally {
  await browser.close();
  server.close();
}
