// assistant.ts — the "Assistant and website" page's GraphQL documents (the assistants, one with its widget and
// engine settings, their changes, the embed code per platform) and the drafts of its forms: what is typed, turned
// into the API's inputs and into the live preview's configuration.
import { graphql } from "../gql";
import type {
  AiProviderInput,
  AssistantDetailFragment,
  EmbedPlatform,
  EngineInput,
  OrganizationPlan,
  WidgetInput,
  WidgetPosition,
  WidgetTheme,
} from "../gql/graphql";
import type { Problem } from "./problems";

export const AssistantDetail = graphql(`
  fragment AssistantDetail on Assistant {
    id
    name
    providerKeySet
    updatedAt
    widget {
      enabled
      position
      primaryColor
      theme
      welcomeMessage
      autoOpen
      autoOpenDelayMs
      showAvatar
      avatarUrl
      hideOnMobile
      zIndex
      width
      height
      hideOnPaths
      showOnPaths
      allowedOrigins
    }
    engine {
      autoReply
      confidenceThreshold
      fallbackMessage
      handoffMessage
      handoffPhrases
      maxFailedResponses
      negativeSentimentThreshold
      provider {
        baseUrl
        standardModel
        complexModel
        timeoutSecs
        maxTokens
        monthlyTokenLimit
      }
    }
  }
`);

export const AssistantsDocument = graphql(`
  query Assistants {
    assistants {
      ...AssistantDetail
    }
  }
`);

export const UpdateAssistantDocument = graphql(`
  mutation UpdateAssistant($id: ID!, $input: UpdateAssistantInput!) {
    updateAssistant(id: $id, input: $input) {
      assistant {
        ...AssistantDetail
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const EmbedSnippetDocument = graphql(`
  query EmbedSnippet($assistantId: ID!, $platform: EmbedPlatform!) {
    embedSnippet(assistantId: $assistantId, platform: $platform) {
      platform
      snippet
      instructions
    }
  }
`);

export type AssistantView = AssistantDetailFragment;

export const PLATFORMS: readonly { value: EmbedPlatform; label: string }[] = [
  { value: "HTML", label: "Any website" },
  { value: "WORDPRESS", label: "WordPress" },
  { value: "SHOPIFY", label: "Shopify" },
  { value: "WIX", label: "Wix" },
  { value: "SQUARESPACE", label: "Squarespace" },
];

export const POSITIONS: readonly { value: WidgetPosition; label: string }[] = [
  { value: "BOTTOM_RIGHT", label: "Bottom right" },
  { value: "BOTTOM_LEFT", label: "Bottom left" },
  { value: "TOP_RIGHT", label: "Top right" },
  { value: "TOP_LEFT", label: "Top left" },
];

export const THEMES: readonly { value: WidgetTheme; label: string }[] = [
  { value: "LIGHT", label: "Light" },
  { value: "DARK", label: "Dark" },
  { value: "AUTO", label: "The visitor's choice (light or dark)" },
];

// ---- Problems of nested fields ----

/** The message for a field or anything inside it (`widget.hideOnPaths` also takes `widget.hideOnPaths.3`). */
export function fieldError(problems: readonly Problem[], field: string): string | undefined {
  return problems.find((p) => p.field === field || p.field?.startsWith(`${field}.`))?.message;
}

/** The problems that no field of `shown` displays. */
export function unshown(problems: readonly Problem[], shown: readonly string[]): Problem[] {
  return problems.filter(
    (p) => !p.field || !shown.some((f) => p.field === f || p.field?.startsWith(`${f}.`)),
  );
}

/** The plan a PLAN_UPGRADE_REQUIRED message names ("… needs the standard plan …"), if any. */
export function planInMessage(message: string): OrganizationPlan | null {
  const found = /needs the (basic|standard|premium) plan/i.exec(message)?.[1];
  return found ? (found.toUpperCase() as OrganizationPlan) : null;
}

// ---- Lists typed one per line ----

export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

// ---- The widget form ----

export interface WidgetDraft {
  enabled: boolean;
  position: WidgetPosition;
  primaryColor: string;
  theme: WidgetTheme;
  welcomeMessage: string;
  autoOpen: boolean;
  /** Seconds, as typed (the API counts milliseconds). */
  autoOpenDelay: number | null;
  showAvatar: boolean;
  avatarUrl: string;
  hideOnMobile: boolean;
  zIndex: number | null;
  width: number | null;
  height: number | null;
  /** One per line. */
  hideOnPaths: string;
  showOnPaths: string;
  allowedOrigins: string;
}

export function widgetDraft(a: AssistantView): WidgetDraft {
  const w = a.widget;
  return {
    enabled: w.enabled,
    position: w.position,
    primaryColor: w.primaryColor,
    theme: w.theme,
    welcomeMessage: w.welcomeMessage,
    autoOpen: w.autoOpen,
    autoOpenDelay: w.autoOpenDelayMs / 1000,
    showAvatar: w.showAvatar,
    avatarUrl: w.avatarUrl ?? "",
    hideOnMobile: w.hideOnMobile,
    zIndex: w.zIndex,
    width: w.width,
    height: w.height,
    hideOnPaths: w.hideOnPaths.join("\n"),
    showOnPaths: w.showOnPaths.join("\n"),
    allowedOrigins: w.allowedOrigins.join("\n"),
  };
}

function whole(value: number | null): number | null {
  return value === null || value === undefined || !Number.isFinite(value) ? null : Math.round(value);
}

/** The widget input of the draft, or the fields that need a number first. */
export function widgetInput(d: WidgetDraft): { input: WidgetInput } | { problems: Problem[] } {
  const problems: Problem[] = [];
  const need = (value: number | null, field: string): number => {
    const n = whole(value);
    if (n === null) problems.push({ field, message: "Enter a number." });
    return n ?? 0;
  };
  const delay =
    d.autoOpenDelay === null || !Number.isFinite(d.autoOpenDelay) ? null : Math.round(d.autoOpenDelay * 1000);
  if (delay === null || delay < 0 || delay > 600_000)
    problems.push({ field: "widget.autoOpenDelayMs", message: "Enter 0 to 600 seconds." });
  const input: WidgetInput = {
    enabled: d.enabled,
    position: d.position,
    primaryColor: d.primaryColor.trim(),
    theme: d.theme,
    welcomeMessage: d.welcomeMessage,
    autoOpen: d.autoOpen,
    autoOpenDelayMs: delay ?? 0,
    showAvatar: d.showAvatar,
    avatarUrl: d.avatarUrl.trim() || null,
    hideOnMobile: d.hideOnMobile,
    zIndex: need(d.zIndex, "widget.zIndex"),
    width: need(d.width, "widget.width"),
    height: need(d.height, "widget.height"),
    hideOnPaths: lines(d.hideOnPaths),
    showOnPaths: lines(d.showOnPaths),
    allowedOrigins: lines(d.allowedOrigins),
  };
  return problems.length ? { problems } : { input };
}

// ---- The engine form (answers and hand-off) ----

export interface EngineDraft {
  autoReply: boolean;
  /** Percent, 0 to 100 (the API takes 0 to 1). */
  confidence: number | null;
  fallbackMessage: string;
  handoffMessage: string;
  /** One per line. */
  handoffPhrases: string;
  maxFailedResponses: number | null;
  sentimentHandoff: boolean;
  negativeSentimentThreshold: number | null;
}

export function engineDraft(a: AssistantView): EngineDraft {
  const e = a.engine;
  return {
    autoReply: e.autoReply,
    confidence: Math.round(e.confidenceThreshold * 1000) / 10,
    fallbackMessage: e.fallbackMessage,
    handoffMessage: e.handoffMessage,
    handoffPhrases: e.handoffPhrases.join("\n"),
    maxFailedResponses: e.maxFailedResponses,
    sentimentHandoff: e.negativeSentimentThreshold !== null,
    negativeSentimentThreshold: e.negativeSentimentThreshold ?? -0.5,
  };
}

export function engineInput(d: EngineDraft): { input: EngineInput } | { problems: Problem[] } {
  const problems: Problem[] = [];
  if (d.confidence === null || !Number.isFinite(d.confidence) || d.confidence < 0 || d.confidence > 100)
    problems.push({ field: "engine.confidenceThreshold", message: "Enter a percentage from 0 to 100." });
  const failed = whole(d.maxFailedResponses);
  if (failed === null) problems.push({ field: "engine.maxFailedResponses", message: "Enter a number." });
  if (
    d.sentimentHandoff &&
    (d.negativeSentimentThreshold === null || !Number.isFinite(d.negativeSentimentThreshold))
  )
    problems.push({ field: "engine.negativeSentimentThreshold", message: "Enter a score from -1 to 1." });
  if (problems.length) return { problems };
  return {
    input: {
      autoReply: d.autoReply,
      confidenceThreshold: Math.round((d.confidence ?? 0) * 10) / 1000,
      fallbackMessage: d.fallbackMessage,
      handoffMessage: d.handoffMessage,
      handoffPhrases: lines(d.handoffPhrases),
      maxFailedResponses: failed ?? 0,
      negativeSentimentThreshold: d.sentimentHandoff ? d.negativeSentimentThreshold : null,
    },
  };
}

// ---- The AI provider form ----

export interface ProviderDraft {
  use: boolean;
  baseUrl: string;
  standardModel: string;
  complexModel: string;
  timeoutSecs: number | null;
  maxTokens: number | null;
  /** Empty: no limit. */
  monthlyTokenLimit: string;
  /** A new key, write-only; empty keeps the stored one. */
  apiKey: string;
}

export function providerDraft(a: AssistantView): ProviderDraft {
  const p = a.engine.provider;
  return {
    use: p !== null,
    baseUrl: p?.baseUrl ?? "https://api.openai.com/v1",
    standardModel: p?.standardModel ?? "",
    complexModel: p && p.complexModel !== p.standardModel ? p.complexModel : "",
    timeoutSecs: p?.timeoutSecs ?? 10,
    maxTokens: p?.maxTokens ?? 400,
    monthlyTokenLimit: p?.monthlyTokenLimit ?? "",
    apiKey: "",
  };
}

export function providerInput(
  d: ProviderDraft,
): { provider: AiProviderInput | null; apiKey: string | null } | { problems: Problem[] } {
  const problems: Problem[] = [];
  if (!d.use) return { provider: null, apiKey: d.apiKey.trim() || null };
  const timeout = whole(d.timeoutSecs);
  if (timeout === null)
    problems.push({ field: "engine.provider.timeoutSecs", message: "Enter a number of seconds." });
  const tokens = whole(d.maxTokens);
  if (tokens === null) problems.push({ field: "engine.provider.maxTokens", message: "Enter a number." });
  const limit = d.monthlyTokenLimit.trim().replace(/[\s,_]/g, "");
  if (limit && !/^\d{1,18}$/.test(limit))
    problems.push({
      field: "engine.provider.monthlyTokenLimit",
      message: "Enter a whole number of tokens, or leave it empty for no limit.",
    });
  if (problems.length) return { problems };
  const provider: AiProviderInput = {
    baseUrl: d.baseUrl.trim(),
    standardModel: d.standardModel.trim(),
    timeoutSecs: timeout ?? 10,
    maxTokens: tokens ?? 400,
    monthlyTokenLimit: limit || null,
  };
  if (d.complexModel.trim()) provider.complexModel = d.complexModel.trim();
  return { provider, apiKey: d.apiKey.trim() || null };
}

// ---- The live preview ----

/**
 * What the preview page puts on the widget: its settings as the widget names them (`bottom-right`, `dark`),
 * the keys of `window.AIAssistantConfig` (the page paths) and of the script tag's `data-*` attributes.
 */
export interface PreviewConfig {
  position?: string;
  primaryColor?: string;
  theme?: string;
  welcomeMessage?: string;
  autoOpen?: boolean;
  autoOpenDelayMs?: number;
  showAvatar?: boolean;
  avatarUrl?: string | null;
  hideOnMobile?: boolean;
  zIndex?: number;
  width?: number;
  height?: number;
  hideOnPaths?: string[];
  showOnPaths?: string[];
}

/**
 * The preview's configuration of a widget draft. The page paths are left empty: the preview shows the widget
 * whatever paths it is limited to on the website (the preview page's own path is not one of the site's).
 */
export function previewConfig(d: WidgetDraft): PreviewConfig {
  const config: PreviewConfig = {
    position: d.position.toLowerCase().replace("_", "-"),
    primaryColor: d.primaryColor.trim(),
    theme: d.theme.toLowerCase(),
    welcomeMessage: d.welcomeMessage,
    // Opened at once in the preview; auto-open is a matter of the website's page.
    autoOpen: false,
    showAvatar: d.showAvatar,
    avatarUrl: d.avatarUrl.trim() || null,
    hideOnMobile: d.hideOnMobile,
    hideOnPaths: [],
    showOnPaths: [],
  };
  const zIndex = whole(d.zIndex);
  if (zIndex !== null) config.zIndex = zIndex;
  const width = whole(d.width);
  if (width !== null) config.width = width;
  const height = whole(d.height);
  if (height !== null) config.height = height;
  return config;
}

/** The preview page's address for an assistant and a draft. */
export function previewUrl(assistantId: string, config: PreviewConfig): string {
  return `/console/widget-preview?assistant=${encodeURIComponent(assistantId)}&config=${encodeURIComponent(
    JSON.stringify(config),
  )}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `config` parameter of the preview page, read defensively: what is not of the right type is left out. */
export function readPreviewConfig(raw: string | null): PreviewConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw ?? "{}");
  } catch {
    return {};
  }
  if (!isRecord(parsed)) return {};
  const out: Record<string, unknown> = {};
  for (const key of ["position", "primaryColor", "theme", "welcomeMessage"]) {
    if (typeof parsed[key] === "string") out[key] = parsed[key];
  }
  for (const key of ["autoOpen", "showAvatar", "hideOnMobile"]) {
    if (typeof parsed[key] === "boolean") out[key] = parsed[key];
  }
  for (const key of ["autoOpenDelayMs", "zIndex", "width", "height"]) {
    if (typeof parsed[key] === "number" && Number.isFinite(parsed[key])) out[key] = parsed[key];
  }
  if (typeof parsed.avatarUrl === "string" || parsed.avatarUrl === null) out.avatarUrl = parsed.avatarUrl;
  for (const key of ["hideOnPaths", "showOnPaths"]) {
    const list = parsed[key];
    if (Array.isArray(list) && list.every((s) => typeof s === "string")) out[key] = list;
  }
  return out as PreviewConfig;
}

/** The script tag's `data-*` attributes (without `data-`) that carry a preview configuration to embed.js. */
export function previewAttributes(config: PreviewConfig): [string, string][] {
  const out: [string, string][] = [];
  const add = (name: string, value: string | number | boolean | undefined) => {
    if (value !== undefined) out.push([name, String(value)]);
  };
  add("position", config.position);
  add("primary-color", config.primaryColor);
  add("theme", config.theme);
  // The widget refuses a blank welcome message (and keeps the assistant's); the server too.
  if (config.welcomeMessage?.trim()) add("welcome-message", config.welcomeMessage);
  add("auto-open", config.autoOpen);
  add("auto-open-delay", config.autoOpenDelayMs);
  // No address means no avatar, whatever the assistant's saved one: an attribute cannot clear it, so it is hidden.
  add("show-avatar", config.avatarUrl === null ? false : config.showAvatar);
  if (config.avatarUrl) add("avatar-url", config.avatarUrl);
  add("hide-on-mobile", config.hideOnMobile);
  add("z-index", config.zIndex);
  add("width", config.width);
  add("height", config.height);
  return out;
}

/** What embed.js defines on the page (see web/widget/src/loader.ts). */
export interface WidgetApi {
  open(): void;
  close(): void;
  on(event: "ready" | "open" | "close" | "message", listener: (data?: unknown) => void): void;
}

declare global {
  interface Window {
    AIAssistant?: WidgetApi;
    AIAssistantConfig?: { hideOnPaths?: string[]; showOnPaths?: string[] };
  }
}
