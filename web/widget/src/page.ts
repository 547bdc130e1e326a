// page.ts — the page a visitor chats from: URL, title and context as the API accepts them, browser family and device kind.

import { type PageOverrides, parseHttpUrl } from "./config";

/** What the server accepts: an absolute http(s) URL up to 2048 characters, a title up to 500, a context up to 10000. */
export const PAGE_LIMITS = { url: 2048, title: 500, context: 10000 } as const;

export interface PageFields {
  url?: string;
  title?: string;
  context?: string;
}

/** Cuts to `max` UTF-16 units without leaving half a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/**
 * The page fields to send: the site's overrides (script tag or `setPageContext`), else the document's address and
 * title; fields the server would refuse (a non-http URL, blanks) are left out, long ones cut.
 */
export function pageFields(overrides: PageOverrides, href: string, documentTitle: string): PageFields {
  const out: PageFields = {};
  const url = parseHttpUrl(overrides.url ?? href);
  if (url && url.length <= PAGE_LIMITS.url) out.url = url;
  const title = (overrides.title ?? documentTitle).trim();
  if (title) out.title = clip(title, PAGE_LIMITS.title);
  const context = (overrides.context ?? "").trim();
  if (context) out.context = clip(context, PAGE_LIMITS.context);
  return out;
}

export function samePage(a: PageFields | null, b: PageFields): boolean {
  return a !== null && a.url === b.url && a.title === b.title && a.context === b.context;
}

/** A short browser family from a user-agent string (order matters: Edge and Opera also say Chrome). */
export function browserFamily(userAgent: string): string {
  const rules: [RegExp, string][] = [
    [/Edg(e|A|iOS)?\//, "Edge"],
    [/OPR\/|Opera/, "Opera"],
    [/SamsungBrowser\//, "Samsung Internet"],
    [/Firefox\/|FxiOS\//, "Firefox"],
    [/Chrome\/|CriOS\/|Chromium\//, "Chrome"],
    [/Safari\//, "Safari"],
  ];
  for (const [re, name] of rules) if (re.test(userAgent)) return name;
  return "Other";
}

/** "Mobile": a viewport at most 640 px wide, or a coarse pointer with a viewport at most 768 px wide. */
export function isMobileViewport(width: number, coarsePointer: boolean): boolean {
  return width <= 640 || (coarsePointer && width <= 768);
}

export function deviceKind(userAgent: string, width: number, coarsePointer: boolean): "mobile" | "desktop" {
  return isMobileViewport(width, coarsePointer) || /Mobi|Android|iPhone|iPad|iPod/.test(userAgent)
    ? "mobile"
    : "desktop";
}
