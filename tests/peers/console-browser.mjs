// Drives Debian's Chromium (playwright-core) through the team console for the Rust end-to-end tests.
//
// Reads a job from stdin: {chromium, scenario, server, out, ...}, runs the scenario against the console at
// `${server}/console`, and prints one JSON object of observations on stdout: what a member saw, axe-core's
// findings on every page visited, console errors and Content-Security-Policy violations. Screenshots go to
// `${out}/console-<name>.png` for a person to look at.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const job = JSON.parse(readFileSync(0, "utf8"));
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const browser = await chromium.launch({
  executablePath: job.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true };

/** A page that records console messages, page errors, failed responses and CSP violations. */
async function open(options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1366, height: 860 },
    isMobile: options.isMobile ?? false,
    hasTouch: options.isMobile ?? false,
  });
  const page = await context.newPage();
  const log = { console: [], errors: [], csp: [], failed: [] };
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") log.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => log.errors.push(String(e)));
  page.on("response", (r) => {
    if (r.status() >= 400) log.failed.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  await page.exposeFunction("__cspViolation", (v) => log.csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolation(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return { context, page, log };
}

/** axe-core's violations on the page as it is now, and a screenshot of it. */
async function check(page, name, found) {
  await page.screenshot({ path: `${job.out}/console-${name}.png`, fullPage: true });
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  found[name] = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
}

const heading = (page) => page.locator("h1").first().innerText();

/** Signs in through the form: the email first, then the password. */
async function signIn(page, email, password) {
  await page.getByLabel("Work email").fill(email);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

const path = (page) => new URL(page.url()).pathname + new URL(page.url()).search;

const scenarios = {
  /** The invitation link, a password set, a wrong then a right sign-in, the account page, sign-out. */
  async invitation() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(job.invitationUrl);
    await page.getByRole("heading", { name: "Set your password" }).waitFor();
    await check(page, "invitation", found);
    await page.getByLabel("New password").fill("short");
    await page.getByLabel("Repeat the password").fill("short");
    await page.getByRole("button", { name: "Set password" }).click();
    seen.shortPassword = await page.locator("#password-error").innerText();
    await page.getByLabel("New password").fill(job.password);
    await page.getByLabel("Repeat the password").fill(job.password);
    await page.getByRole("button", { name: "Set password" }).click();
    seen.accepted = await page.getByRole("status").innerText();
    seen.urlAfterAccepting = page.url();
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Sign in to Concierge" }).waitFor();
    await check(page, "sign-in", found);

    await signIn(page, job.email, "not the password at all");
    seen.wrongPassword = await page.getByRole("alert").innerText();
    await page.getByLabel("Password", { exact: true }).fill(job.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Inbox" }).waitFor();
    seen.landed = path(page);
    seen.nav = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allInnerTexts();
    seen.plan = await page.getByTestId("plan").innerText();
    await check(page, "inbox-empty", found);
    seen.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }));
    seen.storage = await page.evaluate(() => ({ local: Object.keys(localStorage), session: Object.keys(sessionStorage) }));

    await page.getByRole("link", { name: "Your account" }).click();
    await page.getByRole("heading", { name: "Where you are signed in" }).waitFor();
    await page.getByTestId("session").first().waitFor();
    seen.sessions = await page.getByTestId("session").count();
    await check(page, "account", found);

    // A reload keeps the session (the cookie), and the app reads its anti-CSRF token again.
    await page.reload();
    await page.getByRole("heading", { name: "Where you are signed in" }).waitFor();
    await page.getByTestId("sign-out").click();
    await page.getByRole("heading", { name: "Sign in to Concierge" }).waitFor();
    await page.goto(`${job.server}/console/inbox`);
    await page.getByRole("heading", { name: "Sign in to Concierge" }).waitFor();
    seen.afterSignOut = path(page);

    // A phone: the navigation folds into a menu.
    const phone = await open(PHONE);
    await phone.page.goto(`${job.server}/console/`);
    await phone.page.getByRole("heading", { name: "Sign in to Concierge" }).waitFor();
    await signIn(phone.page, job.email, job.password);
    await phone.page.getByRole("heading", { name: "Inbox" }).waitFor();
    seen.phoneNavHidden = !(await phone.page.getByRole("link", { name: "Your account" }).isVisible());
    await phone.page.getByRole("button", { name: "Menu" }).click();
    seen.phoneNavShown = await phone.page.getByRole("link", { name: "Your account" }).isVisible();
    await check(phone.page, "inbox-phone-menu", found);
    await phone.context.close();
    await context.close();
    return { ...seen, axe: found, errors: log.errors, csp: log.csp, console: log.console, failed: log.failed };
  },

  /** Single sign-on from the sign-in page through the identity provider's pages back into the console. */
  async sso() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console${job.target}`);
    await page.getByRole("heading", { name: "Sign in to Concierge" }).waitFor();
    seen.signInPath = path(page);
    await page.getByLabel("Work email").fill(job.email);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByTestId("continue-sso").waitFor();
    seen.passwordOffered = await page.getByRole("button", { name: "Use a password instead" }).isVisible();
    seen.ssoText = await page.locator("form").innerText();
    await check(page, "sign-in-sso", found);
    if (job.lookOnly) {
      await context.close();
      return { ...seen, axe: found, errors: log.errors, csp: log.csp, console: log.console };
    }
    await page.getByTestId("continue-sso").click();
    // oidc-provider's development pages: its login form (any password), then its consent form.
    await page.locator("input[name=login]").waitFor();
    await page.locator("input[name=login]").fill(job.login);
    await page.locator("input[name=password]").fill("any password");
    await page.locator("button[type=submit]").click();
    await page.locator("button[type=submit]").waitFor();
    if (!page.url().startsWith(job.server)) await page.locator("button[type=submit]").click();
    await page.waitForURL(`${job.server}/console/**`);
    await page.locator("main h1").first().waitFor();
    seen.landed = path(page);
    seen.heading = await heading(page);
    seen.nav = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allInnerTexts();
    await page.getByTestId("session").first().waitFor();
    seen.sessionMethod = await page.getByTestId("session").first().innerText();
    await check(page, "account-after-sso", found);
    await context.close();
    return { ...seen, axe: found, errors: log.errors, csp: log.csp, console: log.console };
  },

  /** A visitor on a website and an agent in the inbox: each sees the other live. */
  async live() {
    const found = {};
    const seen = {};
    const agent = await open();
    await agent.page.goto(`${job.server}/console/inbox`);
    await signIn(agent.page, job.email, job.password);
    await agent.page.getByRole("heading", { name: "Inbox" }).waitFor();
    await agent.page.getByText("Live", { exact: true }).waitFor();

    const visitor = await open();
    await visitor.page.goto(job.site);
    await visitor.page.locator("[data-testid=launcher]").click();
    const input = visitor.page.locator("[data-testid=input]");
    await input.fill(job.question);
    let sent = Date.now();
    await input.press("Enter");
    // The only conversation: its preview is the newest message, the question or already its answer.
    const row = agent.page.getByTestId("conversation-row").first();
    await row.waitFor({ timeout: 15000 });
    seen.rowAfterMs = Date.now() - sent;
    await visitor.page.locator("[data-testid=message][data-author=assistant]").first().waitFor({ timeout: 15000 });

    await row.click();
    const conversation = agent.page.getByTestId("conversation");
    await conversation.waitFor();
    seen.conversationPath = path(agent.page);
    await conversation.locator("[data-testid=message][data-author=VISITOR]").filter({ hasText: job.question }).waitFor();
    await conversation.locator("[data-testid=message][data-author=ASSISTANT]").first().waitFor();
    seen.sources = await conversation.getByTestId("sources").allInnerTexts();
    seen.facts = await conversation.locator("dl").innerText();
    await check(agent.page, "inbox-conversation", found);

    // A second visitor message while the agent reads: it shows in the open conversation.
    await input.fill(job.followUp);
    sent = Date.now();
    await input.press("Enter");
    await conversation.locator("[data-testid=message][data-author=VISITOR]").filter({ hasText: job.followUp }).waitFor();
    seen.messageAfterMs = Date.now() - sent;

    // The agent takes over and answers; the visitor sees it live.
    await agent.page.getByRole("button", { name: "Take over" }).click();
    await agent.page.locator("[data-testid=conversation][data-status=HANDED_OFF]").waitFor();
    seen.statusAfterTakeover = await conversation.getByTestId("status").innerText();
    await agent.page.getByLabel(/^Reply to/).fill(job.reply);
    sent = Date.now();
    await agent.page.getByRole("button", { name: "Send" }).click();
    const answered = visitor.page.locator("[data-testid=message][data-author=agent]").filter({ hasText: job.reply });
    await answered.waitFor({ timeout: 15000 });
    seen.replyReachedVisitorMs = Date.now() - sent;
    await check(agent.page, "inbox-handed-off", found);

    // An empty reply is refused with words, in place.
    await agent.page.getByRole("button", { name: "Send" }).click();
    seen.emptyReply = await agent.page.locator("#reply-error").innerText();

    await agent.page.getByRole("button", { name: "Resolve" }).click();
    await agent.page.locator("[data-testid=conversation][data-status=RESOLVED]").waitFor();
    // The list follows, through the live events.
    await row.locator(".badge", { hasText: "Resolved" }).waitFor({ timeout: 5000 }).catch(() => {});
    seen.rowStatus = await row.locator(".badge").innerText();

    // Filtered to handed-off conversations, the resolved one is gone.
    await agent.page.getByLabel("Status").selectOption("HANDED_OFF");
    await agent.page.getByText(/No conversations with the status handed off/).waitFor();
    seen.filteredPath = path(agent.page);

    // A phone shows the conversation alone, with a way back.
    const phone = await open(PHONE);
    await phone.page.goto(`${job.server}/console${seen.conversationPath.replace(/^\/console/, "")}`);
    await signIn(phone.page, job.email, job.password);
    await phone.page.getByTestId("conversation").waitFor();
    seen.phoneBack = await phone.page.getByRole("link", { name: "← All conversations" }).isVisible();
    await check(phone.page, "inbox-conversation-phone", found);
    await phone.context.close();

    const result = {
      ...seen,
      axe: found,
      errors: [...agent.log.errors, ...visitor.log.errors],
      csp: agent.log.csp,
      console: agent.log.console,
      failed: agent.log.failed,
    };
    await agent.context.close();
    await visitor.context.close();
    return result;
  },

  /**
   * Screenshots in the inbox: the visitor's screenshot in the conversation `conversationId` shows (its signed URL
   * loads), then the agent attaches a PNG made in the page (160×100) to a reply, sends it, and the reply shows with
   * its image; axe-core and a screenshot of the conversation at the end.
   */
  async attachments() {
    const found = {};
    const seen = {};
    const text = job.reply ?? "We see it, fixing now";
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/inbox/${encodeURIComponent(job.conversationId)}`);
    await signIn(page, job.email, job.password);
    const conversation = page.getByTestId("conversation");
    await conversation.waitFor();
    seen.conversationPath = path(page);

    /** Waits until every image `selector` finds has loaded (or 15 s pass), and answers their natural widths. */
    const widths = async (selector) => {
      await page
        .waitForFunction(
          (s) => {
            const images = [...document.querySelectorAll(s)];
            return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
          },
          selector,
          { timeout: 15000 },
        )
        .catch(() => {});
      return page.$$eval(selector, (images) => images.map((img) => img.naturalWidth));
    };

    // The visitor's screenshot: a thumbnail that loaded, a link to the full image in a new tab, its size in words.
    const visitorShots = "[data-testid=message][data-author=VISITOR] [data-testid=attachment] img";
    await page.locator(visitorShots).first().waitFor({ timeout: 15000 });
    await page.locator(visitorShots).first().scrollIntoViewIfNeeded();
    seen.visitorImageWidth = (await widths(visitorShots))[0] ?? 0;
    const shot = conversation.locator("[data-testid=message][data-author=VISITOR] [data-testid=attachment]").first();
    seen.visitorImageAlt = await shot.locator("img").getAttribute("alt");
    seen.visitorImageLink = {
      target: await shot.locator("a").getAttribute("target"),
      rel: await shot.locator("a").getAttribute("rel"),
      title: await shot.locator("a").getAttribute("title"),
    };
    seen.visitorImageSize = await shot.locator(".size").innerText();

    // A PNG drawn on a canvas in the page, attached to the reply: a preview with its remove button.
    const png = await page.evaluate(() => {
      const canvas = document.createElement("canvas");
      canvas.width = 160;
      canvas.height = 100;
      const g = canvas.getContext("2d");
      g.fillStyle = "#2454c5";
      g.fillRect(0, 0, 160, 100);
      g.fillStyle = "#ffffff";
      g.fillRect(20, 20, 120, 60);
      return canvas.toDataURL("image/png").split(",")[1];
    });
    await page
      .getByLabel("Attach a screenshot")
      .setInputFiles({ name: "fix.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") });
    await page.getByTestId("reply-shot").first().locator("img").waitFor({ timeout: 5000 });
    seen.pendingPreviews = await page.getByTestId("reply-shot").count();
    seen.removeButton = await page.getByRole("button", { name: "Remove screenshot 1" }).count();
    await page.getByTestId("reply-attachments").screenshot({ path: `${job.out}/console-inbox-attachments-pending.png` });

    // Sent with its text: the reply shows in the conversation with its image, and the composer is empty again.
    await page.getByLabel(/^Reply to/).fill(text);
    await page.getByRole("button", { name: "Send", exact: true }).click();
    const reply = conversation.locator("[data-testid=message][data-author=AGENT]").filter({ hasText: text }).last();
    await reply.waitFor({ timeout: 15000 });
    await reply.locator("[data-testid=attachment] img").first().waitFor({ timeout: 15000 });
    const replyId = await reply.getAttribute("data-message-id");
    const replyWidths = await widths(`[data-message-id="${replyId}"] [data-testid=attachment] img`);
    seen.replyImages = replyWidths.length;
    seen.replyImageWidth = replyWidths[0] ?? 0;
    seen.pendingAfterSend = await page.getByTestId("reply-shot").count();

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await check(page, "inbox-attachments", found);
    await context.close();
    return { ...seen, axe: found, errors: log.errors, csp: log.csp, console: log.console, failed: log.failed };
  },

  /** Every page a member's role offers, on a laptop and on a phone: axe-core and a screenshot of each. */
  async pages() {
    const found = {};
    const seen = { headings: {}, nav: [] };
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Inbox" }).waitFor();
    seen.nav = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allInnerTexts();
    for (const [name, path] of Object.entries(job.pages)) {
      await page.goto(`${job.server}/console${path}`);
      await page.locator("main h1").first().waitFor();
      // Lazily loaded pages and their first query: wait until nothing is loading.
      await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
      await page.waitForTimeout(300);
      seen.headings[name] = await heading(page);
      if (name === "assistant") {
        // The preview's real widget is there, and it keeps nothing in the console's storage.
        await page.frameLocator("iframe[title='Widget preview']").locator("[data-testid=panel]").waitFor({ timeout: 10000 });
        seen.previewStorage = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("concierge:")));
      }
      const upgrade = page.getByTestId("upgrade");
      if ((await upgrade.count()) > 0) seen.upgrades = { ...seen.upgrades, [name]: await upgrade.first().getAttribute("data-plan") };
      await check(page, name, found);
    }
    const phone = await open(PHONE);
    await phone.page.goto(`${job.server}/console/`);
    await signIn(phone.page, job.email, job.password);
    await phone.page.getByRole("heading", { name: "Inbox" }).waitFor();
    for (const [name, path] of Object.entries(job.phonePages ?? {})) {
      await phone.page.goto(`${job.server}/console${path}`);
      await phone.page.locator("main h1").first().waitFor();
      await phone.page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
      seen.headings[`${name}-phone`] = await heading(phone.page);
      seen[`${name}-phone-overflow`] = await phone.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      await check(phone.page, `${name}-phone`, found);
    }
    await phone.context.close();
    await context.close();
    return { ...seen, axe: found, errors: [...log.errors, ...phone.log.errors], csp: log.csp, console: log.console, failed: log.failed };
  },

  /** A knowledge-base entry written in the console, found by "try a question", then answering a visitor. */
  async knowledge() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/knowledge-base`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Knowledge base", exact: true }).waitFor();
    await page.getByTestId("kb-new").click();
    const form = page.getByTestId("kb-entry-form");
    await form.getByTestId("kb-save").click();
    seen.emptyErrors = await form.locator(".error").allInnerTexts();
    await form.getByLabel("Title", { exact: true }).fill(job.title);
    await form.getByLabel("Answer", { exact: false }).first().fill(job.body);
    await form.getByTestId("kb-save").click();
    await page.getByTestId("kb-status").filter({ hasText: job.title }).waitFor();
    seen.status = await page.getByTestId("kb-status").innerText();
    await page.getByTestId("kb-entry").filter({ hasText: job.title }).first().waitFor({ timeout: 5000 }).catch(() => {});
    seen.listed = await page.getByTestId("kb-entry").filter({ hasText: job.title }).count();
    await page.getByTestId("kb-try-question").fill(job.question);
    await page.getByTestId("kb-try-question").press("Enter");
    await page.getByTestId("kb-try-result").waitFor();
    seen.verdict = await page.getByTestId("kb-try-verdict").innerText();
    seen.answered = await page.getByTestId("kb-try-verdict").getAttribute("data-answered");
    seen.matches = await page.getByTestId("kb-match").allInnerTexts();
    await check(page, "knowledge-base-entry", found);

    const visitor = await open();
    await visitor.page.goto(job.site);
    await visitor.page.locator("[data-testid=launcher]").click();
    const input = visitor.page.locator("[data-testid=input]");
    await input.fill(job.question);
    await input.press("Enter");
    const answer = visitor.page.locator("[data-testid=message][data-author=assistant]").first();
    await answer.waitFor({ timeout: 15000 });
    await visitor.page.waitForFunction(
      () => {
        const host = document.querySelector("[data-concierge-widget]");
        const bubble = host?.shadowRoot?.querySelector("[data-testid=message][data-author=assistant]");
        return bubble?.getAttribute("data-message-id");
      },
      null,
      { timeout: 15000 },
    );
    seen.answer = (await answer.innerText()).trim();
    await visitor.context.close();
    await context.close();
    return { ...seen, axe: found, errors: log.errors, csp: log.csp, console: log.console };
  },

  /** A webhook added in the console: its secret shown once, a test event delivered and shown in its log. */
  async webhook() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/webhooks`);
    await signIn(page, job.email, job.password);
    await page.getByTestId("webhook-add").click();
    const form = page.getByTestId("webhook-form");
    await form.getByTestId("webhook-url").fill("http://localhost/hook");
    await form.getByTestId("webhook-events-all").check();
    await form.getByTestId("webhook-save").click();
    await form.locator(".error").first().waitFor();
    seen.refusedUrl = await form.locator(".error").first().innerText();
    await form.getByTestId("webhook-url").fill(job.receiver);
    await form.getByTestId("webhook-save").click();
    await page.getByTestId("webhook-secret").waitFor();
    seen.secret = await page.getByTestId("webhook-secret").getByTestId("secret-value").innerText();
    seen.path = path(page);
    await check(page, "webhook-created", found);
    await page.getByTestId("webhook-test").click();
    const delivery = page.locator("[data-testid=webhook-delivery][data-event='webhook.test']").first();
    await delivery.waitFor({ timeout: 15000 });
    await page
      .locator("[data-testid=webhook-delivery][data-event='webhook.test'][data-status=SUCCEEDED]")
      .first()
      .waitFor({ timeout: 20000 });
    seen.deliveryStatus = await delivery.getAttribute("data-status");
    seen.logStatus = await page.getByTestId("webhook-log-status").innerText();
    await check(page, "webhook-log", found);
    // Shown once: after a reload the page has no secret to show.
    await page.reload();
    await page.getByTestId("webhook-deliveries").waitFor();
    seen.secretAfterReload = await page.getByTestId("webhook-secret").count();
    await context.close();
    return { ...seen, axe: found, errors: log.errors, csp: log.csp, console: log.console };
  },

  /** An API key created in the console: its secret shown once. */
  async apiKey() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/api-keys`);
    await signIn(page, job.email, job.password);
    await page.getByTestId("api-key-create").click();
    const form = page.getByTestId("api-key-form");
    await form.getByTestId("api-key-name").fill("Zapier export");
    await form.getByTestId("api-key-mode-scopes").check();
    await form.getByTestId("api-key-scope").first().check();
    await form.getByTestId("api-key-networks").fill("not-a-network");
    await form.getByTestId("api-key-save").click();
    await form.locator(".error").first().waitFor();
    seen.networkError = await form.locator(".error").first().innerText();
    await form.getByTestId("api-key-networks").fill("");
    await form.getByTestId("api-key-save").click();
    await page.getByTestId("api-key-created").waitFor();
    seen.secret = await page.getByTestId("api-key-created").getByTestId("secret-value").innerText();
    seen.rows = await page.getByTestId("api-key-row").count();
    await check(page, "api-key-created", found);
    await page.reload();
    await page.getByTestId("api-key-row").first().waitFor();
    seen.secretAfterReload = await page.getByTestId("api-key-created").count();
    await context.close();
    return { ...seen, axe: found, errors: log.errors, csp: log.csp, console: log.console };
  },

  /**
   * The CRM integrations: the three providers (only HubSpot configured on the test server), HubSpot connected
   * through its loopback authorization page and back, tested, a setting saved; axe-core on the page at the end.
   */
  async integrations() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/integrations`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    const cards = page.getByTestId("integration-card");
    await cards.first().waitFor();
    seen.providers = await cards.locator("h2").allInnerTexts();
    const card = (key) => page.locator(`[data-testid=integration-card][data-provider=${key}]`);
    seen.notConfigured = [];
    for (const key of ["SALESFORCE", "HUBSPOT", "ZOHO", "MAILCHIMP"]) {
      if ((await card(key).count()) && /not configured/i.test(await card(key).innerText())) seen.notConfigured.push(key);
    }

    // Connect: the browser goes to the HubSpot fake, which sends it straight back through the server's callback to
    // this page, with the outcome in the address (which the page then removes).
    const hubspot = card("HUBSPOT");
    await hubspot.getByTestId("integration-connect").click();
    await page.locator("[data-testid=integration-card][data-provider=HUBSPOT][data-status=CONNECTED]").waitFor({ timeout: 20000 });
    const notice = page.getByTestId("integrations-status").filter({ hasText: /\S/ });
    const failure = page.getByTestId("integrations-failure");
    await notice.or(failure).first().waitFor({ timeout: 10000 });
    seen.notice = (await notice.count()) ? await notice.innerText() : "";
    seen.failure = (await failure.count()) ? await failure.innerText() : "";
    seen.status = await hubspot.getByTestId("integration-status").innerText();
    seen.path = path(page);
    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await page.screenshot({ path: `${job.out}/console-integrations.png`, fullPage: true });

    // A real call to the (fake) vendor, recorded as a run.
    await hubspot.getByTestId("integration-test").click();
    const result = hubspot.locator("[data-testid=integration-test-result][data-success]");
    await result.waitFor({ timeout: 20000 });
    seen.tested = await result.innerText();
    seen.testSucceeded = (await result.getAttribute("data-success")) === "true";

    // A basic setting (no advanced plan needed): existing contacts are never overwritten.
    const settings = hubspot.getByTestId("crm-settings");
    await settings.getByTestId("crm-field-updates-NEVER").check();
    await settings.getByTestId("crm-save").click();
    const saved = settings.getByTestId("crm-settings-status").filter({ hasText: "saved" });
    const refused = settings.getByRole("alert");
    await saved.or(refused).first().waitFor({ timeout: 15000 });
    seen.saved = (await saved.count()) > 0;
    seen.saveProblems = (await refused.count()) ? await refused.allInnerTexts() : [];

    // The visitor id field (premium): a name that is no field's API name is refused beside the field and focused;
    // a proper one is saved.
    const key = settings.getByTestId("crm-visitor-id-field");
    await key.fill("visitor id");
    await settings.getByTestId("crm-save").click();
    const keyError = settings.locator(`[id="${await key.getAttribute("id")}-error"]`);
    await keyError.waitFor({ timeout: 15000 });
    seen.visitorIdError = await keyError.innerText();
    seen.visitorIdInvalid = await key.getAttribute("aria-invalid");
    seen.visitorIdFocused = await key.evaluate((el) => el === document.activeElement);
    await key.fill("concierge_visitor_id");
    await settings.getByTestId("crm-save").click();
    await saved.or(refused).first().waitFor({ timeout: 15000 });
    seen.visitorIdSaved = (await saved.count()) > 0;
    await settings.screenshot({ path: `${job.out}/console-integrations-settings.png` });

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await check(page, "integrations-saved", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /**
   * The help desk: Zendesk connected with an API token (a wrong one refused beside its field, then the right one),
   * its settings refused without intents for the intent trigger, then saved with intents, a priority keyword, a
   * default type and tags; screenshots on a laptop and a phone, axe-core at the end.
   */
  async helpdesk() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/integrations`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    const zendesk = page.locator("[data-testid=integration-card][data-provider=ZENDESK]");
    await zendesk.waitFor();

    // The subdomain, then the API token: a wrong token is refused beside its field, which takes the focus.
    await zendesk.getByTestId("integration-connect").click();
    await zendesk.getByTestId("integration-subdomain").fill("acme");
    const method = zendesk.getByTestId("integration-method-token");
    if ((await method.getAttribute("aria-expanded")) !== "true") await method.click();
    await zendesk.getByTestId("integration-token-email").fill("agent@acme.test");
    const token = zendesk.getByTestId("integration-token-key");
    await token.fill("wrong-token");
    await zendesk.getByTestId("integration-token-submit").click();
    const tokenError = zendesk.locator(`[id="${await token.getAttribute("id")}-error"]`);
    await tokenError.waitFor({ timeout: 20000 });
    seen.tokenError = await tokenError.innerText();
    seen.tokenInvalid = await token.getAttribute("aria-invalid");
    seen.tokenFocused = await token.evaluate((el) => el === document.activeElement);

    // The right token: connected at once, the vendor's words in the page's status.
    await token.fill("zd-api-token");
    await zendesk.getByTestId("integration-token-submit").click();
    await page
      .locator("[data-testid=integration-card][data-provider=ZENDESK][data-status=CONNECTED]")
      .waitFor({ timeout: 20000 });
    const notice = page.getByTestId("integrations-status").filter({ hasText: /\S/ });
    await notice.waitFor({ timeout: 10000 });
    seen.notice = await notice.innerText();
    seen.status = await zendesk.getByTestId("integration-status").innerText();

    // Tickets by intent without intents: refused beside the intents field.
    const settings = zendesk.getByTestId("helpdesk-settings");
    await settings.getByTestId("helpdesk-trigger-INTENT").check();
    await settings.getByTestId("helpdesk-save").click();
    const intents = settings.getByTestId("helpdesk-intents");
    const intentsError = settings.locator(`[id="${await intents.getAttribute("id")}-error"]`);
    await intentsError.waitFor({ timeout: 15000 });
    seen.intentsError = await intentsError.innerText();
    seen.intentsFocused = await intents.evaluate((el) => el === document.activeElement);

    // Intents, a priority keyword, a default type and tags: saved.
    await intents.fill("refund, cancel");
    await settings.getByTestId("helpdesk-keyword-add").click();
    await settings.getByTestId("helpdesk-keyword").last().fill("outage");
    await settings.getByTestId("helpdesk-keyword-priority").last().selectOption("URGENT");
    await settings.getByTestId("helpdesk-default-type").selectOption("PROBLEM");
    await settings.getByTestId("helpdesk-tags").fill("web, vip");
    await settings.getByTestId("helpdesk-save").click();
    const saved = settings.getByTestId("helpdesk-settings-status").filter({ hasText: "saved" });
    const refused = settings.getByRole("alert").or(settings.locator(".error"));
    await saved.or(refused).first().waitFor({ timeout: 15000 });
    seen.saved = (await saved.count()) > 0;
    seen.saveProblems = (await refused.count()) ? await refused.allInnerTexts() : [];

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await page.screenshot({ path: `${job.out}/console-helpdesk.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    seen.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    await page.screenshot({ path: `${job.out}/console-helpdesk-phone.png`, fullPage: true });
    await check(page, "helpdesk-saved", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /**
   * Freshdesk: connected with an API key alone (a wrong one refused beside its field, then the right one), then its
   * ticket assignment: load balanced without agents refused beside the agents field, then saved with agents; by topic
   * with a rule by keyword to a group, saved; screenshots on a laptop and a phone, axe-core at the end.
   */
  async freshdesk() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/integrations`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    const freshdesk = page.locator("[data-testid=integration-card][data-provider=FRESHDESK]");
    await freshdesk.waitFor();

    // The subdomain and the API key at once (no other way in, no agent's email): a wrong key is refused beside its
    // field, which takes the focus.
    await freshdesk.getByTestId("integration-connect").click();
    await freshdesk.getByTestId("integration-subdomain").fill("acme");
    seen.emailAsked = (await freshdesk.getByTestId("integration-token-email").count()) > 0;
    const key = freshdesk.getByTestId("integration-token-key");
    await key.fill("wrong-key");
    await freshdesk.getByTestId("integration-token-submit").click();
    const keyError = freshdesk.locator(`[id="${await key.getAttribute("id")}-error"]`);
    await keyError.waitFor({ timeout: 20000 });
    seen.keyError = await keyError.innerText();
    seen.keyInvalid = await key.getAttribute("aria-invalid");
    seen.keyFocused = await key.evaluate((el) => el === document.activeElement);

    // The right key: connected at once, the vendor's words in the page's status.
    await key.fill("fd-api-key");
    await freshdesk.getByTestId("integration-token-submit").click();
    await page
      .locator("[data-testid=integration-card][data-provider=FRESHDESK][data-status=CONNECTED]")
      .waitFor({ timeout: 20000 });
    const notice = page.getByTestId("integrations-status").filter({ hasText: /\S/ });
    await notice.waitFor({ timeout: 10000 });
    seen.notice = await notice.innerText();
    seen.status = await freshdesk.getByTestId("integration-status").innerText();

    // Each save waits for its own answer (the status still says the last one was saved until then).
    const settings = freshdesk.getByTestId("helpdesk-settings");
    const saved = settings.getByTestId("helpdesk-settings-status").filter({ hasText: "saved" });
    const refused = settings.getByRole("alert").or(settings.locator(".error"));
    const save = async () => {
      const answered = page.waitForResponse(
        (r) =>
          new URL(r.url()).pathname === "/graphql" && (r.request().postData() ?? "").includes("UpdateIntegration"),
        { timeout: 15000 },
      );
      await settings.getByTestId("helpdesk-save").click();
      await answered;
      await saved.or(refused).first().waitFor({ timeout: 15000 });
    };

    // Load balanced without agents: refused beside the agents field.
    const assignment = settings.getByTestId("helpdesk-assignment");
    await assignment.getByTestId("helpdesk-assignment-mode").selectOption("LOAD_BALANCED");
    const agents = assignment.getByTestId("helpdesk-assignment-agents");
    await save();
    const agentsError = settings.locator(`[id="${await agents.getAttribute("id")}-error"]`);
    await agentsError.waitFor({ timeout: 15000 });
    seen.agentsError = await agentsError.innerText();
    seen.agentsFocused = await agents.evaluate((el) => el === document.activeElement);

    // With agents: saved.
    await agents.fill("101, 102");
    await save();
    seen.saved = (await saved.count()) > 0;
    seen.saveProblems = (await refused.count()) ? await refused.allInnerTexts() : [];

    // By topic: a rule by keyword to a group, saved.
    await assignment.getByTestId("helpdesk-assignment-mode").selectOption("BY_TOPIC");
    await assignment.getByTestId("helpdesk-assignment-rule-add").click();
    const row = assignment.getByTestId("helpdesk-assignment-rule-row").last();
    await row.getByTestId("helpdesk-assignment-rule-by").selectOption("keyword");
    await row.getByTestId("helpdesk-assignment-rule-value").fill("refund");
    await row.getByTestId("helpdesk-assignment-rule-group").fill("7001");
    await save();
    seen.topicSaved = (await saved.count()) > 0;
    seen.topicProblems = (await refused.count()) ? await refused.allInnerTexts() : [];

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await page.screenshot({ path: `${job.out}/console-freshdesk.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    seen.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    await page.screenshot({ path: `${job.out}/console-freshdesk-phone.png`, fullPage: true });
    await check(page, "freshdesk-saved", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /**
   * Custom SMTP: connected with the settings of the job's mail server (`job.smtp`), a wrong password first (refused
   * beside the password field, which takes the focus), then the right one; a test message sent to the member;
   * a screenshot and axe-core at the end.
   */
  async smtp() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/integrations`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    const smtp = page.locator("[data-testid=integration-card][data-provider=SMTP]");
    await smtp.waitFor();

    // The settings, typed once; the security before the port, whose placeholder follows it.
    const settings = job.smtp;
    await smtp.getByTestId("integration-connect").click();
    const form = smtp.getByTestId("smtp-form");
    await form.waitFor();
    await form.getByTestId("smtp-host").fill(settings.host);
    await form.getByTestId("smtp-security").selectOption(settings.security);
    await form.getByTestId("smtp-port").fill(String(settings.port));
    await form.getByTestId("smtp-username").fill(settings.username ?? "");
    await form.getByTestId("smtp-from-address").fill(settings.fromAddress);
    await form.getByTestId("smtp-from-name").fill(settings.fromName ?? "");
    if (settings.caCertificate) {
      const advanced = form.getByTestId("smtp-advanced");
      if (!(await advanced.evaluate((el) => el.open))) await advanced.locator("summary").click();
      await form.getByTestId("smtp-ca-certificate").fill(settings.caCertificate);
    }

    // A wrong password: the mail server refuses it (535), said beside the password field, which takes the focus.
    const password = form.getByTestId("smtp-password");
    await password.fill(job.wrongPassword);
    await form.getByTestId("smtp-submit").click();
    const passwordError = form.locator(`[id="${await password.getAttribute("id")}-error"]`);
    await passwordError.waitFor({ timeout: 30000 });
    seen.passwordError = await passwordError.innerText();
    seen.passwordInvalid = await password.getAttribute("aria-invalid");
    seen.passwordFocused = await password.evaluate((el) => el === document.activeElement);

    // The right one: connected at once, the mail server's words in the page's status.
    await password.fill(settings.password);
    await form.getByTestId("smtp-submit").click();
    await page
      .locator("[data-testid=integration-card][data-provider=SMTP][data-status=CONNECTED]")
      .waitFor({ timeout: 30000 });
    const notice = page.getByTestId("integrations-status").filter({ hasText: /\S/ });
    await notice.waitFor({ timeout: 10000 });
    seen.notice = await notice.innerText();
    seen.status = await smtp.getByTestId("integration-status").innerText();
    seen.sender = await smtp.locator("[data-fact=sender] dd").innerText();
    seen.server = await smtp.locator("[data-fact=server] dd").innerText();

    // A real message to the member, and the mail server's answer in words.
    await smtp.getByTestId("integration-test").click();
    const result = smtp.locator("[data-testid=integration-test-result][data-success]");
    await result.waitFor({ timeout: 30000 });
    seen.tested = await result.innerText();
    seen.testSucceeded = (await result.getAttribute("data-success")) === "true";

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await page.screenshot({ path: `${job.out}/console-smtp.png`, fullPage: true });
    await check(page, "smtp-connected", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /**
   * SendGrid: connected in the card with an API key and the verified sender (`job.sender`), a wrong key first
   * (`job.wrongKey`, refused beside the API key field, which takes the focus), then the right one (`job.apiKey`); a
   * test message sent to the member; a screenshot and axe-core at the end.
   */
  async sendgrid() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/integrations`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    const sendgrid = page.locator("[data-testid=integration-card][data-provider=SENDGRID]");
    await sendgrid.waitFor();

    // The key and the sender at once (no other way in): a wrong key is refused beside its field, which takes the
    // focus.
    await sendgrid.getByTestId("integration-connect").click();
    const form = sendgrid.getByTestId("integration-connect-form");
    await form.waitFor();
    const key = form.getByTestId("integration-token-key");
    await key.fill(job.wrongKey);
    await form.getByTestId("integration-token-sender").fill(job.sender);
    await form.getByTestId("integration-token-submit").click();
    const keyError = form.locator(`[id="${await key.getAttribute("id")}-error"]`);
    await keyError.waitFor({ timeout: 20000 });
    seen.keyError = await keyError.innerText();
    seen.keyInvalid = await key.getAttribute("aria-invalid");
    seen.keyFocused = await key.evaluate((el) => el === document.activeElement);

    // The right key: connected at once, SendGrid's words in the page's status.
    await key.fill(job.apiKey);
    await form.getByTestId("integration-token-submit").click();
    await page
      .locator("[data-testid=integration-card][data-provider=SENDGRID][data-status=CONNECTED]")
      .waitFor({ timeout: 20000 });
    const notice = page.getByTestId("integrations-status").filter({ hasText: /\S/ });
    await notice.waitFor({ timeout: 10000 });
    seen.notice = await notice.innerText();
    seen.status = await sendgrid.getByTestId("integration-status").innerText();
    seen.sender = await sendgrid.locator("[data-fact=sender] dd").innerText();

    // A real message to the member, through SendGrid, and its answer in words.
    await sendgrid.getByRole("button", { name: /^Send a test message/ }).click();
    const result = sendgrid.locator("[data-testid=integration-test-result][data-success]");
    await result.waitFor({ timeout: 30000 });
    seen.tested = await result.innerText();
    seen.testSucceeded = (await result.getAttribute("data-success")) === "true";

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await page.screenshot({ path: `${job.out}/console-sendgrid.png`, fullPage: true });
    await check(page, "sendgrid-connected", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /**
   * Mailchimp: connected through its loopback authorization page (which approves at once) and back, its account
   * shown, a connection test (which reads the audiences again); then its settings: a merge field whose tag is no
   * merge tag refused beside the tag (which takes the focus), then fixed, the audience "Acme newsletter" chosen with an
   * extra tag, the consent checkbox's words and single opt-in, saved; screenshots on a laptop and a phone, axe-core
   * with the error showing and at the end.
   */
  async mailchimp() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/integrations`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Integrations", level: 1 }).waitFor();
    const mailchimp = page.locator("[data-testid=integration-card][data-provider=MAILCHIMP]");
    await mailchimp.waitFor();
    seen.category = await mailchimp.locator(".category").innerText();
    seen.badgeBefore = await mailchimp.getByTestId("integration-status").innerText();

    // Connect: the browser goes to the Mailchimp fake, which approves at once and sends it back through the server's
    // callback to this page, with the outcome in the address (which the page then removes).
    await mailchimp.getByTestId("integration-connect").click();
    await page
      .locator("[data-testid=integration-card][data-provider=MAILCHIMP][data-status=CONNECTED]")
      .waitFor({ timeout: 20000 });
    const notice = page.getByTestId("integrations-status").filter({ hasText: /\S/ });
    const failure = page.getByTestId("integrations-failure");
    await notice.or(failure).first().waitFor({ timeout: 10000 });
    seen.notice = (await notice.count()) ? await notice.innerText() : "";
    seen.failure = (await failure.count()) ? await failure.innerText() : "";
    seen.path = path(page);
    seen.status = await mailchimp.getByTestId("integration-status").innerText();
    seen.facts = await mailchimp
      .locator("[data-testid=integration-facts] > div[data-fact]")
      .evaluateAll((rows) =>
        rows.map((row) => ({
          name: row.dataset.fact,
          label: row.querySelector("dt")?.textContent?.trim(),
          value: row.querySelector("dd")?.textContent?.trim(),
        })),
      );

    // A test calls Mailchimp (no message is sent) and reads the audiences again.
    const testButton = mailchimp.getByTestId("integration-test");
    seen.testLabel = (await testButton.innerText()).replace(/\s+/g, " ").trim();
    await testButton.click();
    const result = mailchimp.locator("[data-testid=integration-test-result][data-success]");
    await result.waitFor({ timeout: 20000 });
    seen.tested = await result.innerText();
    seen.testSucceeded = (await result.getAttribute("data-success")) === "true";

    const settings = mailchimp.getByTestId("audience-settings");
    await settings.waitFor();
    seen.consentRule = (await settings.getByTestId("audience-consent-rule").innerText()).replace(/\s+/g, " ").trim();
    const audience = settings.getByTestId("audience-id");
    seen.audiences = await audience.locator("option").allInnerTexts();
    seen.optInChoices = await settings.getByTestId("audience-opt-in").locator("label").allInnerTexts();

    // Each save waits for its own answer (the status still says the last one was saved until then).
    const saved = settings.getByTestId("audience-settings-status").filter({ hasText: "saved" });
    const refused = settings.getByRole("alert").or(settings.locator(".error"));
    const save = async () => {
      const answered = page.waitForResponse(
        (r) =>
          new URL(r.url()).pathname === "/graphql" && (r.request().postData() ?? "").includes("UpdateIntegration"),
        { timeout: 15000 },
      );
      await settings.getByTestId("audience-save").click();
      await answered;
      await saved.or(refused).first().waitFor({ timeout: 15000 });
    };

    // A merge field whose tag is no merge tag: the server's reason beside the tag, which takes the focus.
    await settings.getByTestId("audience-merge-field-add").click();
    const row = settings.getByTestId("audience-merge-field-row").last();
    const tag = row.getByTestId("audience-merge-tag");
    seen.newRowFocused = await tag.evaluate((el) => el === document.activeElement);
    await tag.fill("NOT A TAG!");
    await row.getByTestId("audience-merge-source").selectOption("PAGE_TITLE");
    await row.getByTestId("audience-merge-default").fill("Independent");
    await save();
    await row.locator("[data-testid=audience-merge-tag][aria-invalid=true]").waitFor({ timeout: 15000 });
    const errorId = await tag.getAttribute("aria-describedby");
    seen.mergeError = errorId ? await settings.locator(`[id="${errorId}"]`).innerText() : "";
    seen.mergeInvalid = await tag.getAttribute("aria-invalid");
    seen.mergeFocused = await tag.evaluate((el) => el === document.activeElement);
    seen.savedAfterError = (await saved.count()) > 0;
    await check(page, "mailchimp-error", found);

    // Fixed, with the audience, an extra tag, the consent checkbox's words and single opt-in: saved.
    await tag.fill("COMPANY");
    const newsletter = await audience.locator("option", { hasText: job.audienceName }).getAttribute("value");
    await audience.selectOption(newsletter ?? "");
    await settings.getByTestId("audience-tags").fill("website");
    await settings.getByTestId("audience-consent-label").fill(job.consentLabel);
    await settings.getByTestId("audience-opt-in-SINGLE").check();
    await save();
    seen.saved = (await saved.count()) ? await saved.innerText() : "";
    seen.saveProblems = (await refused.count()) ? await refused.allInnerTexts() : [];
    seen.chosen = await audience.evaluate((el) => el.options[el.selectedIndex]?.text ?? "");
    await settings.screenshot({ path: `${job.out}/console-mailchimp-settings.png` });

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await page.screenshot({ path: `${job.out}/console-mailchimp.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    seen.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    await page.screenshot({ path: `${job.out}/console-mailchimp-phone.png`, fullPage: true });
    await check(page, "mailchimp-saved", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /**
   * Notification rules: listed addresses without any refused beside the addresses field (which takes the focus);
   * two rules added (the admins on hand-offs and new conversations; an address on unanswered questions from
   * /pricing), the first turned off; the rules as listed, a screenshot and axe-core at the end.
   */
  async notifications() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/notifications`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    seen.nav = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allInnerTexts();
    const noEmail = page.getByTestId("notifications-no-email");
    seen.noEmailNotice = (await noEmail.count()) ? await noEmail.innerText() : null;

    const form = page.getByTestId("notification-rule-form");
    const rule = (name) => page.locator(`[data-testid=notification-rule][data-name="${name}"]`);

    // Addresses chosen but none listed: said beside the addresses field before anything is sent.
    await page.getByTestId("notification-rule-add").click();
    await form.getByTestId("notification-rule-name").fill("Billing");
    await form.getByTestId("notification-rule-event-HANDOFF").check();
    await form.getByTestId("notification-rule-recipients-ADDRESSES").check();
    const addresses = form.getByTestId("notification-rule-addresses");
    await form.getByTestId("notification-rule-save").click();
    const addressesError = form.locator(`[id="${await addresses.getAttribute("id")}-error"]`);
    await addressesError.waitFor({ timeout: 15000 });
    seen.addressesError = await addressesError.innerText();
    seen.addressesFocused = await addresses.evaluate((el) => el === document.activeElement);
    await form.getByRole("button", { name: "Cancel" }).click();

    /** Adds a rule through the form; throws with what the form said when it was not added. */
    const create = async (name, events, more = async () => {}) => {
      await page.getByTestId("notification-rule-add").click();
      await form.getByTestId("notification-rule-name").fill(name);
      for (const event of events) await form.getByTestId(`notification-rule-event-${event}`).check();
      await more();
      await form.getByTestId("notification-rule-save").click();
      const refused = form.locator(".error, [role=alert]");
      await rule(name).or(refused).first().waitFor({ timeout: 15000 });
      if (!(await rule(name).count())) {
        throw new Error(`${name} was not added: ${(await refused.allInnerTexts()).join("; ")}`);
      }
    };
    await create("Admins", ["HANDOFF", "NEW_CONVERSATION"]);
    await create("Pricing", ["QUERY_FAILED"], async () => {
      await form.getByTestId("notification-rule-recipients-ADDRESSES").check();
      await form.getByTestId("notification-rule-addresses").fill("billing@acme.test");
      await form.getByTestId("notification-rule-page-path").fill("/pricing");
    });
    seen.pricing = await rule("Pricing").locator("dl").innerText();

    // The first rule turned off at once, from its switch.
    await rule("Admins").getByTestId("notification-rule-toggle").click();
    await page
      .locator('[data-testid=notification-rule][data-name="Admins"][data-enabled=false]')
      .waitFor({ timeout: 15000 });
    seen.toggled = await page.getByTestId("notifications-status").innerText();
    seen.rules = await page
      .getByTestId("notification-rule")
      .evaluateAll((rows) => rows.map((row) => ({ name: row.dataset.name, enabled: row.dataset.enabled === "true" })));

    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await check(page, "notifications", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /**
   * Visitor emails: the note that no email integration sends them; the transcript's editor, its subject changed and
   * previewed with the example conversation (the subject, the HTML in its sandboxed frame, styled, and the plain
   * text); a broken plain-text part refused beside its field (which takes the focus); fixed, previewed again, the
   * email turned on and saved; the welcome email turned on then reset to its default (and off) after a confirmation.
   * Screenshots and axe-core on a laptop and a phone.
   */
  async templates() {
    const found = {};
    const seen = {};
    const { context, page, log } = await open();
    await page.goto(`${job.server}/console/settings/visitor-emails`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Visitor emails", level: 1 }).waitFor();
    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    seen.nav = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allInnerTexts();
    const noMailer = page.getByTestId("email-templates-no-mailer");
    seen.noMailerNotice = (await noMailer.count()) ? (await noMailer.innerText()).replace(/\s+/g, " ").trim() : null;
    seen.noMailerLink = (await noMailer.count()) ? await noMailer.getByRole("link").getAttribute("href") : null;
    seen.emails = await page.getByTestId("email-template").evaluateAll((cards) =>
      cards.map((card) => ({
        kind: card.dataset.kind,
        enabled: card.dataset.enabled === "true",
        name: card.querySelector("h2")?.textContent?.trim(),
        when: card.querySelector("[data-testid=email-template-when]")?.textContent?.trim(),
      })),
    );
    await check(page, "templates", found);

    const card = (kind) => page.locator(`[data-testid=email-template][data-kind=${kind}]`);
    const transcript = card("TRANSCRIPT");
    const status = transcript.getByTestId("email-template-status");
    /** Clicks a button of the transcript's editor and waits for the GraphQL answer it asks for. */
    const clickAndWait = async (testId, operation) => {
      const answered = page.waitForResponse(
        (r) => new URL(r.url()).pathname === "/graphql" && (r.request().postData() ?? "").includes(operation),
        { timeout: 15000 },
      );
      await transcript.getByTestId(testId).click();
      await answered;
    };

    // The subject changed, previewed with the example conversation.
    await transcript.getByTestId("email-template-edit").click();
    const subject = transcript.getByTestId("email-template-subject");
    seen.editorFocused = await subject.evaluate((el) => el === document.activeElement);
    await subject.fill(job.subject);
    await clickAndWait("email-template-preview", "PreviewEmailTemplate");
    const preview = transcript.getByTestId("email-preview");
    await preview.waitFor({ timeout: 15000 });
    seen.previewSubject = await preview.getByTestId("email-preview-subject").innerText();
    seen.previewFocused = await preview.locator("h3").evaluate((el) => el === document.activeElement);
    seen.previewText = await preview.getByTestId("email-preview-text").innerText();
    const frame = preview.getByTestId("email-preview-frame");
    seen.frameSandbox = await frame.getAttribute("sandbox");
    seen.frameTitle = await frame.getAttribute("title");
    const body = page.frameLocator("[data-testid=email-preview-frame]").locator("body");
    await body.getByText("Bo from Acme").first().waitFor({ timeout: 10000 });
    seen.previewHtml = await body.innerText();
    // The email's inline styles, refused by the CSP as attributes, are given back through the CSSOM.
    await page.waitForFunction(
      () => {
        const doc = document.querySelector("[data-testid=email-preview-frame]")?.contentDocument;
        return doc?.body && getComputedStyle(doc.body).maxWidth === "560px";
      },
      null,
      { timeout: 5000 },
    ).catch(() => {});
    seen.previewStyle = await body.evaluate((b) => ({
      maxWidth: getComputedStyle(b).maxWidth,
      scripts: b.ownerDocument.scripts.length,
    }));
    seen.frameHeight = await frame.evaluate((el) => el.getBoundingClientRect().height);
    await check(page, "templates-preview", found);

    // A broken plain-text part: the server's reason beside it, which takes the focus; no preview.
    const text = transcript.getByTestId("email-template-text");
    await text.fill(job.brokenText);
    await clickAndWait("email-template-preview", "PreviewEmailTemplate");
    await transcript.locator("[data-testid=email-template-text][aria-invalid=true]").waitFor({ timeout: 15000 });
    const errorId = ((await text.getAttribute("aria-describedby")) ?? "").split(" ").find((id) => id.endsWith("-error"));
    seen.textError = errorId ? await page.locator(`[id="${errorId}"]`).innerText() : "";
    seen.textInvalid = await text.getAttribute("aria-invalid");
    seen.textFocused = await text.evaluate((el) => el === document.activeElement);
    seen.previewAfterError = await preview.count();
    await check(page, "templates-error", found);

    // Fixed and previewed again; turned on from its switch, then saved.
    await text.fill(job.fixedText);
    await clickAndWait("email-template-preview", "PreviewEmailTemplate");
    await preview.waitFor({ timeout: 15000 });
    seen.textErrorAfterFix = await transcript.locator("[data-testid=email-template-text][aria-invalid=true]").count();
    seen.fixedPreviewText = await preview.getByTestId("email-preview-text").innerText();
    await transcript.getByTestId("email-template-toggle").click();
    await page.locator("[data-testid=email-template][data-kind=TRANSCRIPT][data-enabled=true]").waitFor({ timeout: 15000 });
    seen.toggled = await transcript.getByTestId("email-template-toggle-status").innerText();
    await clickAndWait("email-template-save", "UpdateEmailTemplate");
    await status.filter({ hasText: "saved" }).or(transcript.locator(".error, [role=alert]")).first().waitFor({ timeout: 15000 });
    seen.saved = await status.innerText();
    seen.saveProblems = await transcript.locator(".error, [role=alert]").allInnerTexts();
    seen.savedFacts = await transcript.locator(".facts").innerText();
    await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"), null, { timeout: 10000 });
    await check(page, "templates-saved", found);

    // The welcome email turned on, then reset to its default, which turns it off.
    const welcome = card("WELCOME");
    await welcome.getByTestId("email-template-toggle").click();
    await page.locator("[data-testid=email-template][data-kind=WELCOME][data-enabled=true]").waitFor({ timeout: 15000 });
    await welcome.getByTestId("email-template-edit").click();
    await welcome.getByTestId("email-template-reset").click();
    const confirm = welcome.getByTestId("email-template-reset-confirm");
    seen.resetConfirmFocused = await confirm.locator("h3").evaluate((el) => el === document.activeElement);
    seen.resetQuestion = await confirm.locator("h3").innerText();
    await confirm.getByTestId("email-template-reset-confirm-button").click();
    await page.locator("[data-testid=email-template][data-kind=WELCOME][data-enabled=false]").waitFor({ timeout: 15000 });
    await welcome.getByTestId("email-template-status").filter({ hasText: "default" }).waitFor({ timeout: 15000 });
    seen.reset = await welcome.getByTestId("email-template-status").innerText();
    await welcome.getByTestId("email-template-edit").click();

    // A phone: nothing wider than the screen, the preview included.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    seen.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    await transcript.scrollIntoViewIfNeeded();
    await check(page, "templates-phone", found);
    await context.close();
    return {
      ...seen,
      axe: found,
      errors: log.errors,
      csp: log.csp,
      console: log.console,
      failed: log.failed,
    };
  },

  /** GraphiQL at /graphql, served by the server with everything it loads: a query run with the session. */
  async graphiql() {
    const seen = {};
    const { context, page, log } = await open();
    const hosts = new Set();
    page.on("request", (r) => hosts.add(new URL(r.url()).host));
    await page.goto(`${job.server}/console/`);
    await signIn(page, job.email, job.password);
    await page.getByRole("heading", { name: "Inbox" }).waitFor();
    await page.goto(`${job.server}/graphql`);
    await page.locator(".graphiql-container").waitFor({ timeout: 20000 });
    await page.locator(".graphiql-query-editor .monaco-editor").first().waitFor({ timeout: 20000 });
    // Its starting query asks `{ me { role plan } }`: run it.
    await page.locator(".graphiql-execute-button").click();
    const result = page.locator(".result-window");
    await result.filter({ hasText: "OWNER" }).waitFor({ timeout: 15000 }).catch(() => {});
    seen.result = await result.innerText().catch(() => "");
    await page.screenshot({ path: `${job.out}/console-graphiql.png` });
    seen.hosts = [...hosts];
    await context.close();
    return { ...seen, errors: log.errors, csp: log.csp, console: log.console, failed: log.failed };
  },
};

try {
  const result = await scenarios[job.scenario]();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  // What each open page showed when the scenario failed, for a person to look at.
  let n = 0;
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      n += 1;
      await page.screenshot({ path: `${job.out}/console-failed-${job.scenario}-${n}.png`, fullPage: true }).catch(() => {});
    }
  }
  throw error;
} finally {
  await browser.close();
}
