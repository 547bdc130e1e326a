// storage.ts — localStorage/sessionStorage access that never throws, and the widget's key names.

/** The keys the widget keeps, one set per assistant. */
export const keys = {
  /** The visitor's widget token (`cw_…`), kept across visits. */
  token: (assistantId: string) => `concierge:${assistantId}:token`,
  /** The assistant's widget settings and name from the last session answer, so the next page starts with them. */
  settings: (assistantId: string) => `concierge:${assistantId}:settings`,
  /** The conversation the visitor ended with "End chat": not resumed on the next page. */
  ended: (assistantId: string) => `concierge:${assistantId}:ended`,
  /** The last conversation the visitor rated: its rating is not offered again. */
  rated: (assistantId: string) => `concierge:${assistantId}:rated`,
  /** Session storage: the visitor closed the panel in this tab, so auto-open stays off. */
  dismissed: (assistantId: string) => `concierge:${assistantId}:dismissed`,
};

type Area = "local" | "session";

function area(which: Area): Storage | null {
  try {
    return which === "local" ? window.localStorage : window.sessionStorage;
  } catch {
    // Blocked storage (sandboxed frames, disabled cookies) throws on access.
    return null;
  }
}

export function readItem(key: string, which: Area = "local"): string | null {
  try {
    return area(which)?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

export function writeItem(key: string, value: string, which: Area = "local"): void {
  try {
    area(which)?.setItem(key, value);
  } catch {
    // Quota exceeded or storage disabled: the widget works without persistence.
  }
}

export function removeItem(key: string, which: Area = "local"): void {
  try {
    area(which)?.removeItem(key);
  } catch {
    // Nothing to do.
  }
}
