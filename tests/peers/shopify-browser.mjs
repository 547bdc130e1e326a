// Loads a page rendered by shopify-render.mjs in Debian's Chromium (playwright-core) and reports what the
// Concierge widget made of it, for the Rust end-to-end tests of the Shopify plugin.
//
// Reads a job from stdin:
//   {"chromium": "/usr/bin/chromium", "url": "http://127.0.0.1:PORT/product.html",
//    // optional:
//    "viewport": {"width": 1280, "height": 800}, "isMobile": false, "colorScheme": "light" | "dark",
//    "wait": 400,                  // ms after load before looking
//    "open": "launcher" | "button",  // open the chat with the launcher, or with the product block's button
//    "question": "Do they run large?"}  // then ask it, and report the requests the widget sent
// and prints one JSON object on stdout:
//   {launcher: {visible, box: {x, y, width, height}, viewport: {width, height}},
//    theme, position,              // the widget root's data-theme ("light"/"dark") and data-position
//    scriptTag,                    // outerHTML of the embed script, as the browser parsed it
//    pageContext: {title, url, context},  // its data-page-* attributes, decoded (null when absent)
//    productBlock: {present, buttonVisible},  // the product assistant block, and whether its script ran
//    opened, sent: [{method, path, body}],   // with "open"/"question": the widget's requests to /widget/v1
//    consoleErrors, warnings, pageErrors, failedRequests}
// Playwright's CSS selectors pierce the widget's open shadow root.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const job = JSON.parse(readFileSync(0, "utf8"));

const browser = await chromium.launch({
  executablePath: job.chromium ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

async function run() {
  const context = await browser.newContext({
    viewport: job.viewport ?? { width: 1280, height: 800 },
    isMobile: job.isMobile ?? false,
    hasTouch: job.isMobile ?? false,
    colorScheme: job.colorScheme ?? "light",
  });
  const page = await context.newPage();
  const consoleErrors = [];
  const warnings = [];
  const pageErrors = [];
  const failedRequests = [];
  const sent = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
    else if (m.type() === "warning") warnings.push(m.text());
  });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("requestfailed", (r) => failedRequests.push(`${r.failure()?.errorText ?? "failed"} ${r.method()} ${r.url()}`));
  page.on("response", (r) => {
    if (r.status() >= 400) failedRequests.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (!url.pathname.startsWith("/widget/v1/") || r.method() === "GET" || r.method() === "OPTIONS") return;
    let body = r.postData();
    try {
      body = body ? JSON.parse(body) : null;
    } catch {
      // Not JSON: kept as text.
    }
    sent.push({ method: r.method(), path: url.pathname, body });
  });

  await page.goto(job.url, { waitUntil: "load" });
  await page.waitForTimeout(job.wait ?? 400);

  const launcher = page.locator("[data-testid=launcher]");
  const visible = await launcher.isVisible().catch(() => false);
  const box = visible ? await launcher.boundingBox() : null;
  const root = await page
    .locator("[data-concierge-widget] .cw-root")
    .evaluate((el) => ({ theme: el.getAttribute("data-theme"), position: el.getAttribute("data-position") }))
    .catch(() => ({ theme: null, position: null }));

  const script = await page.evaluate(() => {
    const tag = document.querySelector('script[src$="/embed.js"]');
    if (!tag) return null;
    const read = (name) => tag.getAttribute(name);
    return {
      html: tag.outerHTML,
      pageContext: { title: read("data-page-title"), url: read("data-page-url"), context: read("data-page-context") },
    };
  });
  const productBlock = await page.evaluate(() => {
    const block = document.querySelector("[data-concierge-product]");
    const button = document.querySelector("[data-concierge-open]");
    return { present: !!block, buttonVisible: !!button && !button.hidden && button.offsetParent !== null };
  });

  let opened = null;
  if (job.open || job.question) {
    if (job.open === "button") await page.locator("[data-concierge-open]").click();
    else await launcher.click();
    const dialog = page.locator("[role=dialog]");
    opened = await dialog
      .waitFor({ state: "visible", timeout: 10000 })
      .then(() => true)
      .catch(() => false);
    if (opened && job.question) {
      const input = page.locator("[data-testid=input]");
      await input.fill(job.question);
      const posted = page.waitForRequest((r) => r.method() === "POST" && /\/widget\/v1\/conversations\/[^/]+\/messages$/.test(new URL(r.url()).pathname), {
        timeout: 15000,
      });
      await input.press("Enter");
      await posted.catch(() => {});
      // Let the answer start, so that a failure shows in the console.
      await page.waitForTimeout(job.afterQuestion ?? 1000);
    }
  }
  const viewport = page.viewportSize();
  await context.close();
  return {
    launcher: { visible, box, viewport },
    theme: root.theme,
    position: root.position,
    scriptTag: script?.html ?? null,
    pageContext: script?.pageContext ?? null,
    productBlock,
    opened,
    sent,
    consoleErrors,
    warnings,
    pageErrors,
    failedRequests,
  };
}

try {
  process.stdout.write(`${JSON.stringify(await run())}\n`);
} finally {
  await browser.close();
}
