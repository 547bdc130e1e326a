// Drives Debian's Chromium (playwright-core) through WordPress with the AI Assistant plugin, as a site owner would,
// for the Rust end-to-end tests.
//
// Reads a job from stdin: {chromium, wordpress, admin, password, server, apiKey, assistantId, out?}. `wordpress`
// is the site's URL (php -S with tests/peers/wordpress/router.php, installed by setup.php with the plugin active),
// `server` the Concierge server's. It signs in at wp-login.php, configures Settings → AI Assistant (server URL and
// API key, then the assistant from the list and "Show on every page" off), publishes a page with
// [ai_assistant theme="dark" position="bottom-left"] and one without it through the REST API, and visits both as a
// signed-out visitor. Prints one JSON object of observations on stdout; the Rust test asserts on them. On failure
// it prints {error, ...what it saw until then} and exits 1. Playwright's CSS selectors pierce the widget's open
// shadow root.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const job = JSON.parse(readFileSync(0, "utf8"));
const site = job.wordpress.replace(/\/+$/, "");
const server = job.server.replace(/\/+$/, "");
const settingsUrl = `${site}/wp-admin/options-general.php?page=ai-assistant`;
const result = {};

const browser = await chromium.launch({
  executablePath: job.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

/** A fresh browser context (its own cookies) whose page records console errors and failed requests. */
async function open() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
  const page = await context.newPage();
  const log = { errors: [], warnings: [], failed: [] };
  page.on("console", (m) => {
    if (m.type() === "error") log.errors.push(m.text());
    if (m.type() === "warning") log.warnings.push(m.text());
  });
  page.on("pageerror", (e) => log.errors.push(String(e)));
  page.on("response", (r) => {
    if (r.status() >= 400) log.failed.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on("requestfailed", (r) => log.failed.push(`${r.failure()?.errorText} ${r.method()} ${r.url()}`));
  return { context, page, log };
}

/** The admin notices of the page, for the report when something is off. */
async function notices(page) {
  return page.locator(".wrap .notice, .wrap .error, .wrap .updated").evaluateAll((nodes) =>
    nodes.map((n) => ({ id: n.id, class: n.className, text: n.innerText.trim().replace(/\s+/g, " ") })),
  );
}

/**
 * Signs in at wp-login.php and lands on the plugin's settings page. A sign-in that WordPress answers with its login
 * form again (under the suite's load, php -S once refused one; its message goes into the report) is tried again,
 * three times at most; the last failure is thrown with every message WordPress showed.
 */
async function signIn(page) {
  result.signInErrors = [];
  for (let attempt = 1; ; attempt += 1) {
    await page.goto(`${site}/wp-login.php?redirect_to=${encodeURIComponent(settingsUrl)}`, { waitUntil: "load" });
    await page.fill("#user_login", job.admin);
    await page.fill("#user_pass", job.password);
    await Promise.all([page.waitForNavigation({ waitUntil: "load", timeout: 60000 }), page.click("#wp-submit")]);
    if (/options-general\.php\?page=ai-assistant/.test(page.url())) return;
    const shown = await page.locator("#login_error, .message, .notice").allInnerTexts().catch(() => []);
    result.signInErrors.push({ attempt, url: page.url(), shown: shown.map((t) => t.trim().replace(/\s+/g, " ")) });
    if (attempt === 3) throw new Error(`WordPress did not sign the admin in: ${JSON.stringify(result.signInErrors)}`);
  }
}

/** Submits the settings form and waits for the page options.php redirects to (a new document, loaded). */
async function save(page) {
  await page.evaluate(() => {
    window.__beforeSave = true;
  });
  await page.click("#submit");
  await page.waitForFunction(() => !window.__beforeSave && document.readyState === "complete", null, { timeout: 30000 });
  const saved = await page.locator("#setting-error-settings_updated").isVisible();
  const errors = await page.locator(".wrap .notice-error.settings-error, .wrap .error.settings-error").count();
  return saved && errors === 0;
}

/** Where and how the widget shows on `page`: launcher box, theme and position of its root, the script tag. */
async function widgetState(page) {
  const launcher = page.locator("[data-testid=launcher]");
  const visible = await launcher
    .waitFor({ state: "visible", timeout: 10000 })
    .then(() => true)
    .catch(() => false);
  const root = await page.evaluate(() => {
    const host = document.querySelector("[data-concierge-widget]");
    const node = host?.shadowRoot?.querySelector(".cw-root");
    return {
      hosts: document.querySelectorAll("[data-concierge-widget]").length,
      theme: node?.getAttribute("data-theme") ?? null,
      position: node?.getAttribute("data-position") ?? null,
      scripts: [...document.querySelectorAll('script[src*="/embed.js"]')].map((s) => s.outerHTML),
    };
  });
  return {
    launcher: {
      visible,
      box: visible ? await launcher.boundingBox() : null,
      viewport: page.viewportSize(),
    },
    theme: root.theme,
    position: root.position,
    hosts: root.hosts,
    scripts: root.scripts,
  };
}

try {
  // ---- The site owner: sign in, configure the plugin ----
  const admin = await open();
  const page = admin.page;
  await signIn(page);
  result.settingsPageTitle = (await page.locator(".wrap h1").first().innerText()).trim();

  // Server URL and API key first: the assistants can only be listed with both saved.
  await page.fill("#ai_assistant_server_url", server);
  await page.fill("#ai_assistant_api_key", job.apiKey);
  const firstSave = await save(page);
  result.keySaved = await page.locator("#ai-assistant-key-saved").isVisible();
  result.keyFieldEmpty = (await page.inputValue("#ai_assistant_api_key")) === "";
  result.keyInPage = (await page.content()).includes(job.apiKey);

  const connection = page.locator("#ai-assistant-connection");
  result.connectionOk = (await connection.count()) > 0 && (await connection.getAttribute("data-status")) === "ok";
  result.connection = (await connection.count()) > 0 ? (await connection.innerText()).trim().replace(/\s+/g, " ") : null;
  const field = page.locator("#ai_assistant_assistant_id");
  result.assistantField = await field.evaluate((el) => el.tagName.toLowerCase());
  result.assistantOptions =
    result.assistantField === "select"
      ? await field.locator("option").evaluateAll((nodes) => nodes.map((n) => ({ value: n.value, label: n.textContent.trim() })))
      : [];
  result.assistantsListed = result.assistantOptions.some((o) => o.value === job.assistantId);

  // Then the assistant, and the widget only where the shortcode is.
  if (result.assistantField === "select") await field.selectOption(job.assistantId);
  else await field.fill(job.assistantId);
  await page.uncheck("#ai_assistant_every_page");
  const secondSave = await save(page);
  result.savedAssistant = await field.inputValue();
  result.savedEveryPage = await page.isChecked("#ai_assistant_every_page");
  result.saves = [firstSave, secondSave];
  result.settingsSaved =
    firstSave && secondSave && result.savedAssistant === job.assistantId && result.savedEveryPage === false;
  result.adminNotices = await notices(page);
  result.adminConsoleErrors = admin.log.errors;
  result.adminFailedRequests = admin.log.failed;
  if (job.out) await page.screenshot({ path: `${job.out}/wordpress-settings.png`, fullPage: true });

  // ---- Two published pages, through the REST API with the signed-in cookie and a REST nonce ----
  const nonceResponse = await page.request.get(`${site}/wp-admin/admin-ajax.php?action=rest-nonce`);
  const nonce = (await nonceResponse.text()).trim();
  if (!nonceResponse.ok() || !/^[0-9a-f]{10}$/.test(nonce)) throw new Error(`no REST nonce: ${nonceResponse.status()} ${nonce}`);
  async function publish(title, content) {
    const response = await page.request.post(`${site}/wp-json/wp/v2/pages`, {
      headers: { "X-WP-Nonce": nonce },
      data: { title, content, status: "publish" },
    });
    const body = await response.json();
    if (response.status() !== 201) throw new Error(`creating the page "${title}": ${response.status()} ${JSON.stringify(body)}`);
    return body.link;
  }
  result.pageUrl = await publish(
    "Help with your order",
    '<!-- wp:paragraph --><p>Questions about your order? Ask our assistant.</p><!-- /wp:paragraph -->\n' +
      '<!-- wp:shortcode -->[ai_assistant theme="dark" position="bottom-left"]<!-- /wp:shortcode -->',
  );
  result.otherPageUrl = await publish(
    "About the shop",
    "<!-- wp:paragraph --><p>A page without the shortcode.</p><!-- /wp:paragraph -->",
  );
  await admin.context.close();

  // ---- A visitor, signed out: the page with the shortcode ----
  const visitor = await open();
  await visitor.page.goto(result.pageUrl, { waitUntil: "load" });
  const state = await widgetState(visitor.page);
  result.launcher = state.launcher;
  result.theme = state.theme;
  result.position = state.position;
  result.widgetHosts = state.hosts;
  result.scriptTag = state.scripts[0] ?? null;
  result.scriptTags = state.scripts.length;
  result.pageTitle = await visitor.page.title();
  if (job.out) await visitor.page.screenshot({ path: `${job.out}/wordpress-page.png` });

  // The other page: "Show on every page" is off and it has no shortcode, so no widget and no script.
  await visitor.page.goto(result.otherPageUrl, { waitUntil: "load" });
  await visitor.page.waitForTimeout(1500);
  const other = await visitor.page.evaluate(() => ({
    hosts: document.querySelectorAll("[data-concierge-widget]").length,
    scripts: document.querySelectorAll('script[src*="/embed.js"]').length,
  }));
  const otherLauncher = await visitor.page.locator("[data-testid=launcher]").isVisible().catch(() => false);
  result.otherPageHasWidget = other.hosts > 0 || other.scripts > 0 || otherLauncher;
  result.consoleErrors = visitor.log.errors;
  result.consoleWarnings = visitor.log.warnings;
  result.failedRequests = visitor.log.failed;
  await visitor.context.close();

  await browser.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  result.error = String(error?.stack ?? error);
  await browser.close().catch(() => {});
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(1);
}
