// loader.ts — embed.js: reads the script tag, draws the launcher, defines window.AIAssistant and loads the app on demand.
//
// Handshake with the app bundle (details in handshake.ts): only when the chat is first opened, this loader adds
// <script src="{origin}/widget/assets/{__WIDGET_FILE__}">; that bundle sets `window.__conciergeWidgetApp` to its
// boot function, and on the script's `load` event the loader calls `window.__conciergeWidgetApp(ctx)` once with a
// LoaderContext and forwards AIAssistant.open/close/toggle/identify/shutdown to the AppHandle it returns.
//
// Until then the page makes no request to the server: everything here works from the script tag, the settings
// cached by an earlier session and window.AIAssistantConfig.

import { readableTextColor } from "./colors";
import {
  effectivePaths,
  mergeSettings,
  normalizeServerWidget,
  type PageOverrides,
  parseAttributes,
  parseHttpUrl,
  readGlobalConfig,
  type SettingsLayer,
  type WidgetSettings,
} from "./config";
import type {
  AppHandle,
  Identity,
  LoaderContext,
  PublicApi,
  ServerAssistant,
  WidgetEvent,
} from "./handshake";
import { CHAT, CLOSE, icon } from "./icons";
import { isMobileViewport, pageFields } from "./page";
import { isPathVisible } from "./paths";
import { keys, readItem, removeItem, writeItem } from "./storage";
import { adoptCss, launcherCss } from "./styles";

/** The app bundle's file name (`widget-<hash>.js`), defined by build.mjs. */
declare const __WIDGET_FILE__: string;

type Listener = (data?: unknown) => void;

const warned: Record<string, true> = {};

/** console.warn("[concierge] …"), once per distinct message; never throws. */
function warn(message: string): void {
  if (warned[message]) return;
  warned[message] = true;
  try {
    console.warn(`[concierge] ${message}`);
  } catch {
    // No console.
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Wraps a public entry point so that nothing it does throws into the host page. */
function guard<A extends unknown[]>(name: string, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (error) {
      warn(`AIAssistant.${name}() failed: ${describe(error)}`);
    }
  };
}

/** The <script> that loaded this file: currentScript, else the last embed.js tag with an assistant id. */
function findScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.src) return current;
  const all = document.querySelectorAll<HTMLScriptElement>('script[src*="/embed.js"][data-assistant-id]');
  return all.length ? (all[all.length - 1] ?? null) : null;
}

/** A MediaQueryList with the old-Safari listener fallback, or null where matchMedia is missing. */
function watchMedia(query: string, onChange: () => void): MediaQueryList | null {
  if (typeof window.matchMedia !== "function") return null;
  const mql = window.matchMedia(query);
  if (typeof mql.addEventListener === "function") mql.addEventListener("change", onChange);
  else if (typeof mql.addListener === "function") mql.addListener(onChange);
  return mql;
}

/** The operations behind window.AIAssistant; no-ops until the loader is set up. */
interface Operations {
  open(): void;
  close(): void;
  toggle(): void;
  identify(identity: Identity): void;
  setPageContext(page: { url?: unknown; title?: unknown; context?: unknown }): void;
  shutdown(): void;
}

function main(): void {
  const existing = window.AIAssistant as (PublicApi & { __concierge?: true }) | undefined;
  if (existing?.__concierge) {
    warn("embed.js is included more than once; only the first one runs");
    return;
  }

  const listeners: Record<WidgetEvent, Listener[]> = { ready: [], open: [], close: [], message: [] };
  let readyFired = false;
  const emit = (event: WidgetEvent, data?: unknown): void => {
    if (event === "ready") readyFired = true;
    for (const fn of listeners[event].slice()) {
      try {
        fn(data);
      } catch (error) {
        warn(`an AIAssistant.on("${event}") listener threw: ${describe(error)}`);
      }
    }
  };
  const isEvent = (event: unknown): event is WidgetEvent =>
    typeof event === "string" && ["ready", "open", "close", "message"].indexOf(event) >= 0;

  const noop = (): void => {};
  let ops: Operations = {
    open: noop,
    close: noop,
    toggle: noop,
    identify: noop,
    setPageContext: noop,
    shutdown: noop,
  };

  // Defined at once, so that site code may call it whatever happens below.
  const api: PublicApi & { __concierge: true } = {
    __concierge: true,
    open: guard("open", () => ops.open()),
    close: guard("close", () => ops.close()),
    toggle: guard("toggle", () => ops.toggle()),
    identify: guard("identify", (identity: Identity) => ops.identify(identity)),
    setPageContext: guard("setPageContext", (page: Parameters<PublicApi["setPageContext"]>[0]) =>
      ops.setPageContext(page ?? {}),
    ),
    on: guard("on", (event: WidgetEvent, fn: Listener) => {
      if (!isEvent(event) || typeof fn !== "function") {
        warn(`AIAssistant.on() takes "ready", "open", "close" or "message" and a function`);
        return;
      }
      listeners[event].push(fn);
      if (event === "ready" && readyFired) setTimeout(() => fn(), 0);
    }),
    off: guard("off", (event: WidgetEvent, fn: Listener) => {
      if (!isEvent(event)) return;
      const list = listeners[event];
      const at = list.indexOf(fn);
      if (at >= 0) list.splice(at, 1);
    }),
    shutdown: guard("shutdown", () => ops.shutdown()),
  };
  window.AIAssistant = api;

  const script = findScript();
  if (!script) {
    warn("cannot find the embed.js <script> tag; the chat widget is not shown");
    return;
  }
  const attrs = parseAttributes((name) => script.getAttribute(`data-${name}`), location.href);
  for (const message of attrs.warnings) warn(message);
  const assistantId = attrs.assistantId;
  if (!assistantId) {
    warn("data-assistant-id is missing on the embed.js <script> tag; the chat widget is not shown");
    return;
  }
  let origin: string;
  try {
    origin = new URL(script.src, location.href).origin;
  } catch {
    warn(`cannot tell the server from the script's src ${JSON.stringify(script.src)}`);
    return;
  }
  if (typeof document.createElement("div").attachShadow !== "function") {
    warn("this browser has no Shadow DOM; the chat widget is not shown");
    return;
  }

  // ---- Settings: defaults < the assistant's stored settings (cached) < attributes; paths: < AIAssistantConfig ----
  let serverLayer: SettingsLayer = {};
  let assistantName: string | null = null;
  try {
    const cached = JSON.parse(readItem(keys.settings(assistantId)) ?? "null") as ServerAssistant | null;
    if (cached && typeof cached === "object") {
      serverLayer = normalizeServerWidget(cached.widget);
      assistantName = typeof cached.name === "string" ? cached.name : null;
    }
  } catch {
    removeItem(keys.settings(assistantId));
  }
  let settings: WidgetSettings = mergeSettings(serverLayer, attrs.settings);
  const settingsListeners: ((s: WidgetSettings) => void)[] = [];

  const overrides: PageOverrides = { ...attrs.page };
  let lastHref = location.href;
  let isOpen = false;
  let wantOpen = false;
  let blocked = false;
  let loading = false;
  let app: AppHandle | null = null;
  let autoOpenPending = false;
  const queued: Identity[] = [];

  // ---- DOM: one host element, an open shadow root, a themed wrapper, the launcher ----
  const host = document.createElement("div");
  host.setAttribute("data-concierge-widget", "");
  // Through CSSOM (allowed by style-src without 'unsafe-inline'): the page's own CSS cannot restyle the host.
  host.style.setProperty("all", "initial", "important");
  const shadow = host.attachShadow({ mode: "open" });
  adoptCss(shadow, launcherCss);
  const root = document.createElement("div");
  root.className = "cw-root";
  root.hidden = true;
  shadow.appendChild(root);
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "cw-launcher";
  launcher.setAttribute("data-testid", "launcher");
  root.appendChild(launcher);

  const darkScheme = watchMedia("(prefers-color-scheme: dark)", () => render());
  // "Mobile" as isMobileViewport says, on the narrower of the layout viewport and the screen: a phone showing a
  // page without <meta name="viewport"> lays it out 980 px wide. The queries tell when it may have changed.
  const coarse = watchMedia("(pointer: coarse)", () => evaluate());
  watchMedia("(max-width: 640px)", () => evaluate());
  watchMedia("(max-width: 768px)", () => evaluate());
  watchMedia("(orientation: portrait)", () => evaluate());
  const isMobile = (): boolean =>
    isMobileViewport(
      Math.min(window.innerWidth, window.screen?.width || window.innerWidth),
      !!coarse?.matches,
    );

  let launcherState = "";
  let avatarFailed = false;
  function renderLauncher(): void {
    const avatar = settings.showAvatar && !avatarFailed ? settings.avatarUrl : null;
    // An avatar on the server's own origin waits for the app: no request to the server before interaction.
    const showAvatar = !!avatar && (app !== null || safeOrigin(avatar) !== origin);
    const state = isOpen ? "open" : showAvatar ? `avatar:${avatar}` : "chat";
    launcher.setAttribute("aria-label", isOpen ? "Close chat" : "Open chat");
    launcher.setAttribute("aria-expanded", String(isOpen));
    if (state === launcherState) return;
    launcherState = state;
    while (launcher.firstChild) launcher.removeChild(launcher.firstChild);
    if (state.startsWith("avatar:") && avatar) {
      const img = document.createElement("img");
      img.alt = "";
      img.decoding = "async";
      img.addEventListener("error", () => {
        avatarFailed = true;
        renderLauncher();
      });
      img.src = avatar;
      launcher.appendChild(img);
    } else {
      launcher.appendChild(icon(document, isOpen ? CLOSE : CHAT));
    }
  }

  function render(): void {
    const theme = settings.theme === "auto" ? (darkScheme?.matches ? "dark" : "light") : settings.theme;
    root.setAttribute("data-theme", theme);
    root.setAttribute("data-position", settings.position);
    const style = root.style;
    style.setProperty("--cw-primary", settings.primaryColor);
    style.setProperty("--cw-on-primary", readableTextColor(settings.primaryColor));
    style.setProperty("--cw-z", String(settings.zIndex));
    style.setProperty("--cw-width", `${settings.width}px`);
    style.setProperty("--cw-height", `${settings.height}px`);
    renderLauncher();
  }

  /** Shows or hides the widget for this path, viewport and page view; re-reads window.AIAssistantConfig. */
  function evaluate(): void {
    const global = readGlobalConfig(window.AIAssistantConfig);
    for (const message of global.warnings) warn(message);
    const paths = effectivePaths(settings, global.paths);
    const mobile = isMobile();
    const visible =
      !blocked &&
      isPathVisible(location.pathname, paths.hide, paths.show) &&
      !(settings.hideOnMobile && mobile);
    // The panel goes full screen on mobile (CSS: .cw-root[data-mobile] and a max-width media query).
    if (mobile) root.setAttribute("data-mobile", "");
    else root.removeAttribute("data-mobile");
    root.hidden = !visible;
    if (visible && autoOpenPending) {
      autoOpenPending = false;
      openChat();
    }
  }

  function onLocationChange(): void {
    if (!host.isConnected && document.body) document.body.appendChild(host);
    if (location.href !== lastHref) {
      lastHref = location.href;
      // The tag's or setPageContext's URL and title described the previous page; its context is kept.
      overrides.url = undefined;
      overrides.title = undefined;
    }
    evaluate();
  }

  function patchHistory(): void {
    for (const name of ["pushState", "replaceState"] as const) {
      const original = history[name] as History["pushState"] & { __concierge?: true };
      if (typeof original !== "function" || original.__concierge) continue;
      const patched = function (this: History, ...args: Parameters<History["pushState"]>) {
        const result = original.apply(this, args);
        try {
          onLocationChange();
        } catch (error) {
          warn(`cannot follow the page's navigation: ${describe(error)}`);
        }
        return result;
      } as History["pushState"] & { __concierge?: true };
      patched.__concierge = true;
      history[name] = patched;
    }
    window.addEventListener("popstate", onLocationChange);
    window.addEventListener("hashchange", onLocationChange);
  }

  function loadApp(): void {
    if (loading || app) return;
    loading = true;
    launcher.setAttribute("aria-busy", "true");
    const tag = document.createElement("script");
    tag.src = `${origin}/widget/assets/${__WIDGET_FILE__}`;
    tag.async = true;
    // A nonce-based CSP that let embed.js run lets the app run too.
    const nonce = script?.nonce || script?.getAttribute("nonce");
    if (nonce) tag.nonce = nonce;
    const done = (): void => {
      loading = false;
      launcher.removeAttribute("aria-busy");
    };
    tag.addEventListener("load", () => {
      done();
      try {
        const boot = window.__conciergeWidgetApp;
        if (typeof boot !== "function") throw new Error(`${tag.src} did not register the widget`);
        app = boot(ctx);
      } catch (error) {
        warn(`the chat widget failed to start: ${describe(error)}`);
        return;
      }
      renderLauncher();
      for (const identity of queued.splice(0)) app.identify(identity);
      if (wantOpen) app.open();
    });
    tag.addEventListener("error", () => {
      done();
      tag.remove();
      warn(`cannot load ${tag.src}; the chat is unavailable for now`);
    });
    (document.head || document.documentElement).appendChild(tag);
  }

  function openChat(): void {
    if (app) app.open();
    else {
      wantOpen = true;
      loadApp();
    }
  }

  function scheduleAutoOpen(): void {
    if (!settings.autoOpen || readItem(keys.dismissed(assistantId as string), "session")) return;
    setTimeout(() => {
      try {
        if (isOpen || wantOpen) return;
        if (root.hidden) autoOpenPending = true;
        else openChat();
      } catch (error) {
        warn(`auto-open failed: ${describe(error)}`);
      }
    }, settings.autoOpenDelayMs);
  }

  const ctx: LoaderContext = {
    version: 1,
    assistantId,
    origin,
    shadow,
    root,
    launcher,
    settings: () => settings,
    assistantName: () => assistantName,
    applyServerSettings(assistant) {
      serverLayer = normalizeServerWidget(assistant.widget);
      if (typeof assistant.name === "string") assistantName = assistant.name;
      writeItem(
        keys.settings(assistantId),
        JSON.stringify({ name: assistantName, widget: assistant.widget }),
      );
      settings = mergeSettings(serverLayer, attrs.settings);
      render();
      evaluate();
      for (const fn of settingsListeners) fn(settings);
    },
    onSettings: (fn) => {
      settingsListeners.push(fn);
    },
    page: () => pageFields(overrides, location.href, document.title),
    setOpen(open) {
      if (open === isOpen) return;
      isOpen = open;
      wantOpen = open;
      if (open) root.setAttribute("data-open", "");
      else {
        root.removeAttribute("data-open");
        writeItem(keys.dismissed(assistantId), "1", "session");
      }
      renderLauncher();
      emit(open ? "open" : "close");
    },
    block(reason) {
      warn(reason);
      blocked = true;
      evaluate();
    },
    emit,
    warn,
  };

  ops = {
    open: openChat,
    close() {
      if (app) app.close();
      else wantOpen = false;
    },
    toggle() {
      if (app) app.toggle();
      else if (wantOpen) wantOpen = false;
      else openChat();
    },
    identify(identity) {
      if (!identity || typeof identity !== "object") {
        warn("AIAssistant.identify() takes an object like {name, email, phone}");
        return;
      }
      if (app) app.identify(identity);
      else queued.push(identity);
    },
    setPageContext(page) {
      for (const key of ["url", "title", "context"] as const) {
        const value = page[key];
        if (value === undefined) continue;
        if (value === null || value === "") overrides[key] = undefined;
        else if (typeof value !== "string") warn(`AIAssistant.setPageContext(): ${key} must be a string`);
        else if (key === "url") {
          const url = parseHttpUrl(value, location.href);
          if (url) overrides.url = url;
          else warn("AIAssistant.setPageContext(): url must be an http(s) URL");
        } else overrides[key] = value;
      }
    },
    shutdown() {
      queued.length = 0;
      wantOpen = false;
      if (app) {
        app.shutdown();
        return;
      }
      // The app never loaded on this page: end the stored session from here.
      const token = readItem(keys.token(assistantId));
      for (const key of [keys.token, keys.ended, keys.rated]) removeItem(key(assistantId));
      removeItem(keys.dismissed(assistantId), "session");
      if (token && typeof fetch === "function") {
        fetch(`${origin}/widget/v1/session`, {
          method: "DELETE",
          headers: { Authorization: `Bearer ${token}` },
          credentials: "omit",
          keepalive: true,
        }).catch(() => {});
      }
    },
  };

  launcher.addEventListener("click", () => {
    try {
      if (app) app.toggle();
      else openChat();
    } catch (error) {
      warn(`the launcher failed: ${describe(error)}`);
    }
  });

  const mount = (): void => {
    try {
      document.body.appendChild(host);
      render();
      evaluate();
      patchHistory();
      scheduleAutoOpen();
      // A site may set window.AIAssistantConfig after this script: look again once the page has loaded.
      if (document.readyState !== "complete") window.addEventListener("load", evaluate);
    } catch (error) {
      warn(`the chat widget failed to start: ${describe(error)}`);
    }
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
}

function safeOrigin(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

try {
  main();
} catch (error) {
  warn(`the chat widget failed to start: ${describe(error)}`);
}
