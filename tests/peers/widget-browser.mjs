// Drives Debian's Chromium (playwright-core) through the website widget for the Rust end-to-end tests.
//
// Reads a job from stdin: {chromium, scenario, site, server, out, apiKey?, ...}, runs the scenario against
// the test site (a second loopback origin whose pages carry the embed script), and prints one JSON object of
// observations on stdout; the Rust test asserts on them and on what the server recorded. Playwright's CSS
// selectors pierce the widget's open shadow root.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const job = JSON.parse(readFileSync(0, "utf8"));

const browser = await chromium.launch({
  executablePath: job.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

/** A page that records the console, CSP violations and every request to the server. */
async function open(options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 800 },
    isMobile: options.isMobile ?? false,
    hasTouch: options.isMobile ?? false,
    colorScheme: options.colorScheme ?? "light",
  });
  const page = await context.newPage();
  const log = { console: [], errors: [], requests: [], csp: [], failed: [], bodies: [] };
  page.on("console", (m) => log.console.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => log.errors.push(String(e)));
  page.on("response", (r) => {
    if (r.status() >= 400) log.failed.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(job.server)) return;
    const path = new URL(r.url()).pathname;
    log.requests.push(`${r.method()} ${path}`);
    if (r.method() === "POST" || r.method() === "PATCH") {
      let body = null;
      try {
        body = JSON.parse(r.postData() ?? "null");
      } catch {
        body = r.postData();
      }
      log.bodies.push({ method: r.method(), path, body });
    }
  });
  await page.exposeFunction("__cspViolation", (v) => log.csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolation(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return { context, page, log };
}

const launcher = (page) => page.locator("[data-testid=launcher]");

/** Where and how the launcher shows: its box, colour and the host's stacking order. */
/** Records in the page (`window.__texts`) every text the widget's first `selector` shows, in order, as it
 *  changes: a short-lived one is kept that a poll from here could miss. */
async function recordTexts(page, selector) {
  await page.evaluate((selector) => {
    window.__texts = [];
    const root = document.querySelector("[data-concierge-widget]").shadowRoot;
    const record = () => {
      const element = root.querySelector(selector);
      const text = element ? element.textContent.trim() : "";
      if (text && window.__texts[window.__texts.length - 1] !== text) window.__texts.push(text);
    };
    new MutationObserver(record).observe(root, { subtree: true, childList: true, characterData: true });
  }, selector);
}

async function launcherState(page) {
  const button = launcher(page);
  const visible = await button.isVisible().catch(() => false);
  if (!visible) return { visible: false };
  const box = await button.boundingBox();
  const style = await button.evaluate((el) => {
    const s = getComputedStyle(el);
    const host = el.getRootNode().host;
    let z = "";
    for (let node = el; node; node = node.parentElement ?? node.getRootNode().host) {
      const value = getComputedStyle(node).zIndex;
      if (value !== "auto") {
        z = value;
        break;
      }
      if (node === host) break;
    }
    return { background: s.backgroundColor, zIndex: z, label: el.getAttribute("aria-label") };
  });
  return { visible: true, box, ...style, viewport: page.viewportSize() };
}

/** Opens the widget, asks `question`, and waits for the assistant's answer. */
async function ask(page, question) {
  const input = page.locator("[data-testid=input]");
  await input.fill(question);
  const before = await page.locator("[data-testid=message][data-author=assistant]").count();
  const sent = Date.now();
  await input.press("Enter");
  const answer = page.locator("[data-testid=message][data-author=assistant]").nth(before);
  await answer.waitFor({ state: "visible", timeout: 15000 });
  const firstPiece = Date.now() - sent;
  // The pending bubble becomes the stored message, with its id, when the stream ends.
  await page.waitForFunction(
    (n) => {
      const host = document.querySelector("[data-concierge-widget]");
      const bubbles = host?.shadowRoot?.querySelectorAll("[data-testid=message][data-author=assistant]");
      return bubbles && bubbles.length > n && bubbles[n].getAttribute("data-message-id");
    },
    before,
    { timeout: 15000 },
  );
  return { text: (await answer.innerText()).trim(), id: await answer.getAttribute("data-message-id"), firstPieceMs: firstPiece };
}

async function messages(page) {
  return page.locator("[data-testid=message]").evaluateAll((nodes) =>
    nodes.map((n) => ({ author: n.getAttribute("data-author"), id: n.getAttribute("data-message-id"), text: n.innerText.trim() })),
  );
}

const scenarios = {
  /** Each page's launcher (position, colour, stacking, visibility), and the requests made before any click. */
  async appearance() {
    const pages = [];
    for (const spec of job.pages) {
      const { context, page, log } = await open({ viewport: spec.viewport, isMobile: spec.isMobile });
      await page.goto(job.site + spec.path, { waitUntil: "load" });
      // Before an auto-open delay runs out, the panel is still closed.
      const panelEarly = spec.early
        ? await page.waitForTimeout(spec.early).then(() => page.locator("[data-testid=panel]").isVisible().catch(() => false))
        : null;
      await page.waitForTimeout(spec.wait ?? 400);
      const state = await launcherState(page);
      const panel = await page.locator("[data-testid=panel]").isVisible().catch(() => false);
      pages.push({ path: spec.path, ...state, panelEarly, panelOpen: panel, requests: log.requests, console: log.console, errors: log.errors });
      await context.close();
    }
    return { pages };
  },

  /** A conversation across pages and a reload, answered, rated, and an agent's reply arriving live. */
  async conversation() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}/`, { waitUntil: "load" });
    const beforeClick = [...log.requests];
    await launcher(page).click();
    const dialog = page.locator("[role=dialog]");
    await dialog.waitFor({ state: "visible" });
    const focusedInput = await page.locator("[data-testid=input]").evaluate((el) => el.getRootNode().activeElement === el);
    const first = await ask(page, job.question);
    await page.locator("[data-testid=rate-up]").first().click();
    await page.waitForTimeout(300);
    const rated = await page.locator("[data-testid=rate-up]").first().getAttribute("aria-pressed");
    await page.screenshot({ path: `${job.out}/widget-light.png` });

    // The next page of the site: the history is there, and the question is asked with this page's context.
    await page.goto(`${job.site}/products/boots`, { waitUntil: "load" });
    await launcher(page).click();
    await page.locator("[data-testid=message]").first().waitFor({ state: "visible" });
    const onSecondPage = await messages(page);
    const second = await ask(page, job.secondQuestion);
    await page.goto(`${job.site}/contact`, { waitUntil: "load" });
    await page.reload({ waitUntil: "load" });
    await launcher(page).click();
    await page.locator("[data-testid=message]").first().waitFor({ state: "visible" });
    const afterReload = await messages(page);

    // A person of the team answers: the reply arrives without a reload.
    const agentText = "A person here: I have checked your order.";
    const list = await fetch(`${job.server}/api/v1/conversations?limit=1`, { headers: { Authorization: `Bearer ${job.apiKey}` } });
    const conversation = (await list.json()).data[0];
    await fetch(`${job.server}/api/v1/conversations/${conversation.id}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${job.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ author: "agent", body: agentText }),
    });
    await page.locator("[data-testid=message][data-author=agent]").first().waitFor({ state: "visible", timeout: 15000 });
    const live = await messages(page);

    // The visitor ends the chat and rates it four stars of five.
    await page.locator(".cw-end").click();
    await page.locator("[data-testid=rating]").waitFor({ state: "visible" });
    await page.locator("[data-testid=rating] label").nth(3).click();
    await page.locator(".cw-rating-send").click();
    await page.waitForTimeout(500);

    // Escape closes and gives the focus back to the launcher.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    const focusBack = await launcher(page).evaluate((el) => el.getRootNode().activeElement === el);
    await context.close();
    return {
      beforeClick,
      focusedInput,
      first,
      second,
      rated,
      onSecondPage,
      afterReload,
      live,
      conversationId: conversation.id,
      focusBack,
      bodies: log.bodies,
      failed: log.failed,
      console: log.console,
      errors: log.errors,
    };
  },

  /** axe-core over the page with the widget open, in light and dark. */
  async axe() {
    const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    const results = {};
    // Dark: the page asks for the dark theme, and the browser prefers it too.
    for (const scheme of ["light", "dark"]) {
      const { context, page } = await open({ colorScheme: scheme });
      await page.goto(`${job.site}${scheme === "dark" ? job.darkPath : job.path}`, { waitUntil: "load" });
      await launcher(page).click();
      await page.locator("[role=dialog]").waitFor({ state: "visible" });
      await ask(page, job.question);
      await page.screenshot({ path: `${job.out}/widget-${scheme}-axe.png` });
      await page.evaluate(source);
      const found = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
      });
      results[scheme] = found;
      await context.close();
    }
    return results;
  },

  /** A page under a strict Content-Security-Policy: the widget works, nothing is blocked. */
  async csp() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}${job.path}`, { waitUntil: "load" });
    await launcher(page).click();
    const answer = await ask(page, job.question);
    await context.close();
    return { answer, csp: log.csp, errors: log.errors, console: log.console };
  },

  /** The launcher on a single-page site as it navigates with the History API. */
  async spa() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}${job.path}`, { waitUntil: "load" });
    await page.waitForTimeout(300);
    const steps = [];
    for (const path of job.navigate) {
      if (path === "back") await page.evaluate(() => history.back());
      else await page.evaluate((p) => history.pushState({}, "", p), path);
      await page.waitForTimeout(300);
      steps.push({ path: await page.evaluate(() => location.pathname), visible: await launcher(page).isVisible().catch(() => false) });
    }
    // A question here, then another after the site moved on without a page load: each carries its page.
    await launcher(page).click();
    await ask(page, "hello");
    await page.evaluate((p) => history.pushState({}, "", p), job.then);
    await ask(page, "and now?");
    await context.close();
    return { steps, bodies: log.bodies, errors: log.errors };
  },

  /** The server is unreachable when the visitor opens the chat, and comes back: a clear message, retries, then
   * the conversation works. */
  async outage() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}${job.path}`, { waitUntil: "load" });
    await page.evaluate(() => {
      window.__ready = new Promise((resolve) => window.AIAssistant.on("ready", resolve));
    });
    await launcher(page).waitFor({ state: "visible" });
    // The status line clears itself as soon as a retry gets through, which on a fast machine can be before a
    // poll from here would read it.
    await recordTexts(page, "[data-testid=status]");
    await launcher(page).click();
    await page.waitForFunction(() => window.__texts.length > 0, null, { timeout: job.statusTimeout ?? 10000 });
    const whileDown = (await page.evaluate(() => window.__texts))[0];
    // The server comes back on its own (the test's proxy lets requests through after a few seconds): the
    // widget's retries get a session, and the visitor can ask.
    await page.evaluate(() => window.__ready);
    const answer = await ask(page, job.question);
    const sessionAttempts = log.requests.filter((r) => r === "POST /widget/v1/sessions").length;
    await context.close();
    return { whileDown, answer, sessionAttempts, errors: log.errors, console: log.console };
  },

  /** An answer written piece by piece: what the visitor's answer bubble showed as it grew. */
  async stream() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}/`, { waitUntil: "load" });
    await launcher(page).click();
    await page.locator("[data-testid=input]").waitFor({ state: "visible" });
    await recordTexts(page, "[data-testid=message][data-author=assistant]");
    const answer = await ask(page, job.question);
    const texts = await page.evaluate(() => window.__texts);
    await context.close();
    return { answer, texts, errors: log.errors };
  },

  /** Size, welcome message, avatar and theme of the open panel, per page. */
  async panels() {
    const pages = [];
    for (const spec of job.pages) {
      const { context, page, log } = await open({ colorScheme: spec.colorScheme });
      await page.goto(`${job.site}${spec.path}`, { waitUntil: "load" });
      await launcher(page).click();
      const panel = page.locator("[data-testid=panel]");
      await panel.waitFor({ state: "visible" });
      await page.locator("[data-testid=input]").waitFor({ state: "visible" });
      await page.waitForTimeout(300);
      const box = await panel.boundingBox();
      const welcome = (await page.locator("[data-testid=welcome]").innerText().catch(() => "")).trim();
      const avatar = await page
        .locator(".cw-avatar")
        .first()
        .evaluate((img) => ({ src: img.getAttribute("src"), visible: !img.hidden && img.getBoundingClientRect().width > 0, loaded: img.naturalWidth > 0 }))
        .catch(() => null);
      const theme = await page.locator(".cw-root").evaluate((root) => root.getAttribute("data-theme"));
      pages.push({ path: spec.path, box, welcome, avatar, theme, errors: log.errors });
      await context.close();
    }
    return { pages };
  },

  /** The site owner's JavaScript API: identify, setPageContext, on, close/toggle, shutdown; and messages the
   * server refuses. */
  async api() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}/`, { waitUntil: "load" });
    await page.evaluate(() => {
      window.__events = [];
      for (const name of ["ready", "open", "close", "message"]) {
        window.AIAssistant.on(name, (data) => window.__events.push({ name, author: data?.author ?? null }));
      }
      window.__ready = new Promise((resolve) => window.AIAssistant.on("ready", resolve));
      // Called before the chat has loaded: queued, then sent.
      window.AIAssistant.identify({ name: "Ann Example", email: "ann@example.com" });
      window.AIAssistant.setPageContext({ title: "Checkout help", context: "A cart with two pairs of boots" });
      window.AIAssistant.open();
    });
    await page.evaluate(() => window.__ready);
    const answer = await ask(page, job.question);
    await page.evaluate(() => window.AIAssistant.close());
    const closed = await page.locator("[data-testid=panel]").isVisible();
    await page.evaluate(() => window.AIAssistant.toggle());
    await page.locator("[data-testid=panel]").waitFor({ state: "visible" });
    // A message over the server's limit: the visitor reads why.
    const input = page.locator("[data-testid=input]");
    await input.fill("x".repeat(job.oversized));
    await input.press("Enter");
    await page.waitForTimeout(800);
    const refusal = (await page.locator("[data-testid=status]").innerText().catch(() => "")).trim();
    // Only blanks: refused by the server too, and the reason shown.
    await input.fill("   ");
    await input.press("Enter");
    await page.waitForTimeout(800);
    const blank = (await page.locator("[data-testid=status]").innerText().catch(() => "")).trim();
    const shown = await messages(page);
    const token = await page.evaluate((key) => localStorage.getItem(key), job.tokenKey);
    await page.evaluate(() => window.AIAssistant.shutdown());
    await page.waitForTimeout(500);
    const tokenAfter = await page.evaluate((key) => localStorage.getItem(key), job.tokenKey);
    const events = await page.evaluate(() => window.__events);
    await context.close();
    return { answer, closed, refusal, blank, shown, token, tokenAfter, events, errors: log.errors, failed: log.failed };
  },

  /** The contact form: opened after a question, Escape closes it, a submit without email or phone is refused
   * beside the field the server names, then name, email and phone are saved and confirmed. axe runs on the panel
   * with the form open (its field error showing) and again after the confirmation. */
  async contactForm() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}${job.path ?? "/"}`, { waitUntil: "load" });
    await launcher(page).click();
    await page.locator("[role=dialog]").waitFor({ state: "visible" });
    const answer = await ask(page, job.question ?? "Do you ship to Austria?");
    const focused = (selector) => page.locator(selector).evaluate((el) => el.getRootNode().activeElement === el);
    const opener = page.locator("[data-testid=contact-open]");
    const form = page.locator("[data-testid=contact-form]");
    await opener.click();
    await form.waitFor({ state: "visible" });
    const focusedName = await focused("[data-testid=contact-name]");
    const expanded = await opener.getAttribute("aria-expanded");
    // Escape closes the form only (the panel stays) and gives the focus back to the button that opened it.
    await page.keyboard.press("Escape");
    await form.waitFor({ state: "hidden" });
    const escape = {
      formClosed: !(await form.isVisible()),
      panelOpen: await page.locator("[data-testid=panel]").isVisible(),
      focusBack: await focused("[data-testid=contact-open]"),
    };
    await opener.click();
    await form.waitFor({ state: "visible" });

    // No way to reach the visitor: the server's refusal shows beside the field it names.
    await page.locator("[data-testid=contact-name]").fill("Ann Lee");
    await page.locator("[data-testid=contact-email]").fill("");
    await page.locator("[data-testid=contact-phone]").fill("");
    await page.locator("[data-testid=contact-send]").click();
    const shownError = page.locator(".cw-field-error:visible").first();
    await shownError.waitFor({ state: "visible", timeout: 10000 });
    const fieldError = (await shownError.innerText()).trim();
    const fieldErrorFor = ((await shownError.getAttribute("data-testid")) ?? "").replace(/^contact-|-error$/g, "");
    const invalid = await page.locator(`[data-testid=contact-${fieldErrorFor}]`).evaluate((el) => ({
      ariaInvalid: el.getAttribute("aria-invalid"),
      describedBy: el.getAttribute("aria-describedby"),
      errorId: el.getRootNode().querySelector(`#${el.id}-error`)?.id ?? null,
      focused: el.getRootNode().activeElement === el,
    }));

    await page.locator("[data-testid=contact-name]").fill("Ann Lee");
    await page.locator("[data-testid=contact-email]").fill("ann@example.test");
    await page.locator("[data-testid=contact-phone]").fill("+43 1 234 5678");
    await page.screenshot({ path: `${job.out}/widget-contact-form-open.png` });
    const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    await page.evaluate(source);
    const runAxe = () =>
      page.evaluate(async () => {
        // The panel inside the widget's shadow root (fromShadowDom: nested arrays would mean iframes).
        const r = await window.axe.run(
          { include: [{ fromShadowDom: ["[data-concierge-widget]", "[data-testid=panel]"] }] },
          { resultTypes: ["violations"] },
        );
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
      });
    const axe = await runAxe();

    await page.locator("[data-testid=contact-send]").click();
    const status = page.locator("[data-testid=status]").filter({ hasText: "Thanks" });
    await status.waitFor({ state: "visible", timeout: 10000 });
    const confirmation = (await status.innerText()).trim();
    const formClosed = !(await form.isVisible());
    const focusBack = await focused("[data-testid=contact-open]");
    await page.screenshot({ path: `${job.out}/widget-contact-form.png` });
    const axeAfter = await runAxe();
    const contactBodies = log.bodies.filter((b) => b.path.endsWith("/contact"));
    await context.close();
    return {
      answer,
      focusedName,
      expanded,
      escape,
      fieldError,
      fieldErrorFor,
      invalid,
      confirmation,
      formClosed,
      focusBack,
      contactBodies,
      axe,
      axeAfter,
      failed: log.failed,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
    };
  },

  /** The contact form's marketing-consent checkbox: after a question the visitor opens the form; when the
   * organization keeps a mailing list the checkbox shows, unticked, with its words; it is reached with Tab and ticked
   * with Space; the form is sent with an email. What the page showed and sent, axe on the panel with the form open and
   * after the confirmation; screenshots `widget-consent-<name>-form.png` and `widget-consent-<name>.png`. */
  async consent() {
    const name = job.name ?? "consent";
    const { context, page, log } = await open();
    await page.goto(`${job.site}${job.path ?? "/"}`, { waitUntil: "load" });
    await launcher(page).click();
    await page.locator("[role=dialog]").waitFor({ state: "visible" });
    const answer = await ask(page, job.question ?? "Do you ship boots to Austria?");
    const focused = (selector) => page.locator(selector).evaluate((el) => el.getRootNode().activeElement === el);
    const form = page.locator("[data-testid=contact-form]");
    await page.locator("[data-testid=contact-open]").click();
    await form.waitFor({ state: "visible" });
    const box = page.locator("[data-testid=contact-consent]");
    const shown = await box.isVisible();
    const seen = { answer, shown, boxes: await form.locator("input[type=checkbox]:visible").count() };
    await page.locator("[data-testid=contact-name]").fill(job.visitorName ?? "Ivy Lane");
    await page.locator("[data-testid=contact-email]").fill(job.visitorEmail ?? "ivy@example.test");
    if (shown) {
      seen.label = (await page.locator("[data-testid=contact-consent-label]").innerText()).trim();
      seen.checkedAtFirst = await box.isChecked();
      // Its name is its label's words, for assistive technology.
      seen.named = await page.getByRole("checkbox", { name: seen.label, exact: true }).count();
      // The keyboard: Tab from the phone field reaches it, Space ticks it.
      await page.locator("[data-testid=contact-phone]").focus();
      await page.keyboard.press("Tab");
      seen.tabReaches = await focused("[data-testid=contact-consent]");
      await page.keyboard.press("Space");
      seen.checkedAfterSpace = await box.isChecked();
    }
    await page.screenshot({ path: `${job.out}/widget-${name}-form.png` });
    const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    await page.evaluate(source);
    const runAxe = () =>
      page.evaluate(async () => {
        const r = await window.axe.run(
          { include: [{ fromShadowDom: ["[data-concierge-widget]", "[data-testid=panel]"] }] },
          { resultTypes: ["violations"] },
        );
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
      });
    seen.axe = await runAxe();

    await page.locator("[data-testid=contact-send]").click();
    const status = page.locator("[data-testid=status]").filter({ hasText: "Thanks" });
    await status.waitFor({ state: "visible", timeout: 10000 });
    seen.confirmation = (await status.innerText()).trim();
    seen.formClosed = !(await form.isVisible());
    // Opened again: unticked again (consent is never assumed).
    await page.locator("[data-testid=contact-open]").click();
    await form.waitFor({ state: "visible" });
    seen.checkedOnReopen = shown ? await box.isChecked() : null;
    await page.keyboard.press("Escape");
    await form.waitFor({ state: "hidden" });
    await page.screenshot({ path: `${job.out}/widget-${name}.png` });
    seen.axeAfter = await runAxe();
    seen.contactBodies = log.bodies.filter((b) => b.path.endsWith("/contact"));
    await context.close();
    return { ...seen, failed: log.failed, errors: log.errors, csp: log.csp, console: log.console };
  },

  /** Screenshots on a message: a PNG drawn in the page (200×120) attached through "Attach a screenshot" (the file
   * chooser it opens), a text file named shot.png refused with an alert, a second PNG removed with the keyboard,
   * then the message sent: the visitor's bubble shows the image from the server's signed URL, and again after a
   * reload. axe runs on the panel with the preview and the alert showing, and again with the image in the log. */
  async screenshot() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}${job.path ?? "/"}`, { waitUntil: "load" });
    await launcher(page).click();
    await page.locator("[role=dialog]").waitFor({ state: "visible" });
    await page.locator("[data-testid=input]").waitFor({ state: "visible" });
    const png = Buffer.from(
      await page.evaluate(() => {
        const canvas = document.createElement("canvas");
        canvas.width = 200;
        canvas.height = 120;
        const g = canvas.getContext("2d");
        g.fillStyle = "#f5f5f7";
        g.fillRect(0, 0, 200, 120);
        g.fillStyle = "#b3261e";
        g.fillRect(0, 0, 200, 30);
        g.fillStyle = "#ffffff";
        g.font = "bold 16px sans-serif";
        g.fillText("Error 500", 10, 21);
        g.fillStyle = "#1d1d1f";
        g.font = "14px sans-serif";
        g.fillText("Checkout failed.", 10, 62);
        g.fillText("Please try again later.", 10, 86);
        return canvas.toDataURL("image/png").split(",")[1];
      }),
      "base64",
    );
    const shadowImages = (selector) =>
      page.evaluate((sel) => {
        const root = document.querySelector("[data-concierge-widget]")?.shadowRoot;
        return [...(root?.querySelectorAll(sel) ?? [])].map((img) => ({
          complete: img.complete,
          naturalWidth: img.naturalWidth,
          src: img.currentSrc || img.src,
        }));
      }, selector);
    // Every image `sel` finds has loaded (from the server's http(s) URL, when `fromServer`); false after 15 s.
    const waitImages = (sel, fromServer) =>
      page
        .waitForFunction(
          ({ sel, fromServer }) => {
            const root = document.querySelector("[data-concierge-widget]")?.shadowRoot;
            const imgs = [...(root?.querySelectorAll(sel) ?? [])];
            return (
              imgs.length > 0 &&
              imgs.every((img) => img.complete && img.naturalWidth > 0 && (!fromServer || /^https?:/.test(img.src)))
            );
          },
          { sel, fromServer },
          { timeout: 15000 },
        )
        .then(
          () => true,
          () => false,
        );

    // Through the button: it opens the browser's file chooser.
    const attach = page.locator("[data-testid=attach]");
    const attachLabel = await attach.getAttribute("aria-label");
    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), attach.click()]);
    const chooserMultiple = chooser.isMultiple();
    await chooser.setFiles({ name: "problem.png", mimeType: "image/png", buffer: png });
    const previews = page.locator("[data-testid=shot]");
    await previews.first().waitFor({ state: "visible" });
    await waitImages("[data-testid=shot] img", false);
    const preview = await shadowImages("[data-testid=shot] img");

    // A text file named like a screenshot: refused in the browser, said in an alert; the preview stays.
    const alert = page.locator("[data-testid=attach-error]");
    await page.locator("[data-testid=attach-input]").setInputFiles({
      name: "shot.png",
      mimeType: "image/png",
      buffer: Buffer.from("This is a text file, not a screenshot.\n"),
    });
    await alert.filter({ hasText: /\S/ }).waitFor({ state: "visible", timeout: 5000 });
    const errorText = (await alert.innerText()).trim();
    const errorRole = await alert.getAttribute("role");
    const pendingAfterInvalid = await previews.count();
    await page.screenshot({ path: `${job.out}/widget-screenshot-pending.png` });
    const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    await page.evaluate(source);
    const runAxe = () =>
      page.evaluate(async () => {
        const r = await window.axe.run(
          { include: [{ fromShadowDom: ["[data-concierge-widget]", "[data-testid=panel]"] }] },
          { resultTypes: ["violations"] },
        );
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
      });
    const axe = await runAxe();

    // A second screenshot, removed again with the keyboard: the focus moves to the remaining remove button.
    await page.locator("[data-testid=attach-input]").setInputFiles({ name: "second.png", mimeType: "image/png", buffer: png });
    await page.waitForFunction(() => {
      const root = document.querySelector("[data-concierge-widget]")?.shadowRoot;
      return root?.querySelectorAll("[data-testid=shot]").length === 2;
    });
    const removeLabels = await page
      .locator("[data-testid=remove-shot]")
      .evaluateAll((buttons) => buttons.map((b) => b.getAttribute("aria-label")));
    await page.locator("[data-testid=remove-shot]").nth(1).focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => {
      const root = document.querySelector("[data-concierge-widget]")?.shadowRoot;
      return root?.querySelectorAll("[data-testid=shot]").length === 1;
    });
    const focusAfterRemove = await page.evaluate(() => {
      const active = document.querySelector("[data-concierge-widget]")?.shadowRoot?.activeElement;
      return active ? active.getAttribute("aria-label") || active.getAttribute("data-testid") : null;
    });
    const pendingBeforeSend = await previews.count();

    // Sent with the text: the bubble shows the image, first from the file, then from the server's signed URL.
    const answer = await ask(page, job.message ?? "Here is the problem");
    const own = "[data-testid=message][data-author=visitor][data-message-id] img[data-testid=shot-image]";
    const loaded = await waitImages(own, true);
    const bubble = page.locator("[data-testid=message][data-author=visitor]").last();
    const shown = await bubble.locator("img[data-testid=shot-image]").evaluateAll((imgs) =>
      imgs.map((img) => {
        const link = img.closest("a");
        const box = img.getBoundingClientRect();
        const bubbleBox = img.closest(".cw-bubble").getBoundingClientRect();
        return {
          alt: img.alt,
          naturalWidth: img.naturalWidth,
          naturalHeight: img.naturalHeight,
          width: Math.round(box.width),
          fitsBubble: box.width <= bubbleBox.width,
          src: img.currentSrc || img.src,
          href: link?.href ?? null,
          target: link?.target ?? null,
          rel: link?.rel ?? null,
        };
      }),
    );
    const messageId = await bubble.getAttribute("data-message-id");
    const pendingAfterSend = await previews.count();
    await page.screenshot({ path: `${job.out}/widget-screenshot.png` });
    const axeAfter = await runAxe();

    // After a reload the history brings the image again, with a fresh signed URL.
    await page.reload({ waitUntil: "load" });
    await launcher(page).click();
    await page.locator("[data-testid=message]").first().waitFor({ state: "visible" });
    const reloadedOk = await waitImages(own, true);
    const reloaded = await shadowImages(own);

    const messageBodies = log.bodies.filter((b) => b.path.endsWith("/messages")).map((b) => b.body);
    const uploads = log.requests.filter((r) => r.endsWith("/attachments"));
    await context.close();
    return {
      attachLabel,
      chooserMultiple,
      previewNaturalWidth: preview[0]?.naturalWidth ?? 0,
      errorText,
      errorRole,
      pendingAfterInvalid,
      removeLabels,
      focusAfterRemove,
      pendingBeforeSend,
      answer,
      messageId,
      loaded,
      images: shown.length,
      naturalWidths: shown.map((i) => i.naturalWidth),
      shown,
      pendingAfterSend,
      afterReload: {
        loaded: reloadedOk,
        images: reloaded.length,
        naturalWidths: reloaded.map((i) => i.naturalWidth),
        srcs: reloaded.map((i) => i.src),
      },
      uploads,
      messageBodies,
      axe,
      axeAfter,
      failed: log.failed,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
    };
  },

  /** A site that may not use the assistant: what the visitor and the console see after a click. */
  async refused() {
    const { context, page, log } = await open();
    await page.goto(`${job.site}${job.path}`, { waitUntil: "load" });
    // A page whose script names no assistant never draws the launcher: there is nothing to click.
    await launcher(page).click({ timeout: 3000 }).catch(() => {});
    await page.waitForTimeout(1500);
    const visible = await launcher(page).isVisible().catch(() => false);
    await context.close();
    return { visible, console: log.console, errors: log.errors, requests: log.requests, failed: log.failed };
  },
};

try {
  const result = await scenarios[job.scenario]();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await browser.close();
}
