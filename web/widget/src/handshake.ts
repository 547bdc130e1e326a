// handshake.ts — the contract between embed.js (loader.ts) and the lazily loaded app bundle (app.ts); types only.
//
// The handshake, in full:
//  1. The loader adds <script src="{server origin}/widget/assets/widget-<hash>.js"> only when the chat is first
//     opened (launcher click, AIAssistant.open()/toggle(), or auto-open). The file name is built into embed.js.
//  2. Running that bundle does one thing: `window.__conciergeWidgetApp = boot` (an AppBoot function).
//  3. On that <script>'s `load` event the loader calls `window.__conciergeWidgetApp(ctx)` once, with the
//     LoaderContext below (`ctx.version === 1`); boot draws the panel into `ctx.root` and returns an AppHandle.
//  4. From then on window.AIAssistant's open/close/toggle/identify/shutdown go to that handle; identify calls made
//     before the app loaded are replayed in order, then open() if an open was asked for. on/off/setPageContext
//     stay in the loader: the app reads the page through ctx.page() and fires events through ctx.emit().

import type { WidgetSettings } from "./config";
import type { PageFields } from "./page";

export const HANDSHAKE_VERSION = 1;

/** The global the app bundle assigns its boot function to, and the loader calls. */
export const APP_GLOBAL = "__conciergeWidgetApp";

export type WidgetEvent = "ready" | "open" | "close" | "message";

/** `AIAssistant.identify`: an absent field keeps the stored value, null clears it. */
export interface Identity {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
}

/** The assistant as a session answer names it: its name and stored widget settings (snake_case). */
export interface ServerAssistant {
  name?: unknown;
  widget?: unknown;
}

export interface LoaderContext {
  version: typeof HANDSHAKE_VERSION;
  assistantId: string;
  /** The server's origin, from embed.js's src (`https://support.example.com`). */
  origin: string;
  shadow: ShadowRoot;
  /** The themed wrapper inside the shadow root (data-theme, data-position, the CSS variables); the panel goes here. */
  root: HTMLElement;
  launcher: HTMLButtonElement;
  /** The effective settings now. */
  settings(): WidgetSettings;
  /** The assistant's name from the last session answer (or the cache), if known. */
  assistantName(): string | null;
  /** Takes the assistant of a session answer: caches it for the next page, re-merges and redraws the launcher. */
  applyServerSettings(assistant: ServerAssistant): void;
  /** Called after every change of the effective settings. */
  onSettings(listener: (settings: WidgetSettings) => void): void;
  /** The page to report: the site's overrides, else location.href and document.title. */
  page(): PageFields;
  /** The panel opened or closed: the loader updates the launcher and fires 'open' / 'close'. */
  setOpen(open: boolean): void;
  /** The server refused this site or assistant (403/404): warn once and hide the widget for this page view. */
  block(reason: string): void;
  /** Fires a public event (AIAssistant.on listeners). */
  emit(event: WidgetEvent, data?: unknown): void;
  /** console.warn("[concierge] …"), once per distinct message. */
  warn(message: string): void;
}

export interface AppHandle {
  open(): void;
  close(): void;
  toggle(): void;
  identify(identity: Identity): void;
  shutdown(): void;
}

export type AppBoot = (ctx: LoaderContext) => AppHandle;

export interface PublicApi {
  open(): void;
  close(): void;
  toggle(): void;
  identify(identity: Identity): void;
  setPageContext(page: { url?: string | null; title?: string | null; context?: string | null }): void;
  on(event: WidgetEvent, listener: (data?: unknown) => void): void;
  off(event: WidgetEvent, listener: (data?: unknown) => void): void;
  shutdown(): void;
}

declare global {
  interface Window {
    __conciergeWidgetApp?: AppBoot;
    AIAssistant?: PublicApi;
    AIAssistantConfig?: unknown;
  }
}
