// config.ts — widget settings: built-in defaults, script-tag attributes with fallbacks, the assistant's stored settings, and their merge order.

export type Position = "bottom-right" | "bottom-left" | "top-right" | "top-left";
export type Theme = "light" | "dark" | "auto";

/** The widget's settings, as the loader and the app use them. */
export interface WidgetSettings {
  position: Position;
  /** `#rrggbb`, lower-case. */
  primaryColor: string;
  theme: Theme;
  welcomeMessage: string;
  autoOpen: boolean;
  autoOpenDelayMs: number;
  showAvatar: boolean;
  avatarUrl: string | null;
  hideOnMobile: boolean;
  zIndex: number;
  width: number;
  height: number;
  hideOnPaths: string[];
  showOnPaths: string[];
}

/** A layer of settings: what one source says, the rest left to the layers below. */
export type SettingsLayer = Partial<WidgetSettings>;

export const POSITIONS: readonly Position[] = ["bottom-right", "bottom-left", "top-right", "top-left"];
const THEMES: readonly Theme[] = ["light", "dark", "auto"];

export const DEFAULTS: Readonly<WidgetSettings> = {
  position: "bottom-right",
  primaryColor: "#0071e3",
  theme: "light",
  welcomeMessage: "Hi! How can we help you today?",
  autoOpen: false,
  autoOpenDelayMs: 0,
  showAvatar: true,
  avatarUrl: null,
  hideOnMobile: false,
  zIndex: 2147483000,
  width: 380,
  height: 600,
  hideOnPaths: [],
  showOnPaths: [],
};

export const LIMITS = {
  autoOpenDelayMs: [0, 600000],
  zIndex: [-2147483647, 2147483647],
  width: [200, 1200],
  height: [300, 1600],
  welcomeMessage: 1000,
} as const;

// ---- Value parsers: the value, or undefined when it is not valid. ----

/** `bottom-right`, `bottom_right` or `BottomRight`-ish spellings to the kebab-case position. */
export function parsePosition(value: string): Position | undefined {
  const v = value
    .trim()
    .replace(/([a-z])([A-Z])/g, "$1-$2")
    .toLowerCase()
    .replace(/[_\s]+/g, "-");
  return (POSITIONS as readonly string[]).indexOf(v) >= 0 ? (v as Position) : undefined;
}

export function parseColor(value: string): string | undefined {
  const v = value.trim();
  return /^#[0-9a-f]{6}$/i.test(v) ? v.toLowerCase() : undefined;
}

export function parseTheme(value: string): Theme | undefined {
  const v = value.trim().toLowerCase();
  return (THEMES as readonly string[]).indexOf(v) >= 0 ? (v as Theme) : undefined;
}

/** `true`/`false` (any case); an empty attribute (`data-auto-open`) counts as true, as HTML boolean attributes do. */
export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "") return true;
  if (v === "false") return false;
  return undefined;
}

/** A whole number in [min, max]; `px` after a size is tolerated. */
export function parseInteger(value: string, min: number, max: number): number | undefined {
  const v = value.trim().replace(/px$/i, "");
  if (!/^[-+]?\d{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

/** An http(s) URL, resolved against `base`; anything else (javascript:, data:, garbage) is refused. */
export function parseHttpUrl(value: string, base?: string): string | undefined {
  const v = value.trim();
  if (!v) return undefined;
  try {
    const url = base ? new URL(v, base) : new URL(v);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Comma-separated path globs: trimmed, empty ones dropped. */
export function parseGlobs(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function parseText(value: string, max: number): string | undefined {
  const v = value.trim();
  return v.length > 0 && v.length <= max ? v : undefined;
}

// ---- Script-tag attributes ----

interface AttributeSpec {
  /** The attribute after `data-`. */
  name: string;
  key: keyof WidgetSettings;
  parse: (value: string, base?: string) => unknown;
  expected: string;
}

const ATTRIBUTES: readonly AttributeSpec[] = [
  { name: "position", key: "position", parse: parsePosition, expected: POSITIONS.join(", ") },
  { name: "primary-color", key: "primaryColor", parse: parseColor, expected: "a colour like #0071e3" },
  { name: "theme", key: "theme", parse: parseTheme, expected: "light, dark or auto" },
  {
    name: "welcome-message",
    key: "welcomeMessage",
    parse: (v) => parseText(v, LIMITS.welcomeMessage),
    expected: `a text of 1 to ${LIMITS.welcomeMessage} characters`,
  },
  { name: "auto-open", key: "autoOpen", parse: parseBoolean, expected: "true or false" },
  {
    name: "auto-open-delay",
    key: "autoOpenDelayMs",
    parse: (v) => parseInteger(v, ...LIMITS.autoOpenDelayMs),
    expected: "milliseconds from 0 to 600000",
  },
  { name: "show-avatar", key: "showAvatar", parse: parseBoolean, expected: "true or false" },
  { name: "avatar-url", key: "avatarUrl", parse: parseHttpUrl, expected: "an http(s) URL" },
  { name: "hide-on-mobile", key: "hideOnMobile", parse: parseBoolean, expected: "true or false" },
  { name: "z-index", key: "zIndex", parse: (v) => parseInteger(v, ...LIMITS.zIndex), expected: "an integer" },
  {
    name: "width",
    key: "width",
    parse: (v) => parseInteger(v, ...LIMITS.width),
    expected: "pixels from 200 to 1200",
  },
  {
    name: "height",
    key: "height",
    parse: (v) => parseInteger(v, ...LIMITS.height),
    expected: "pixels from 300 to 1600",
  },
  { name: "hide-on-paths", key: "hideOnPaths", parse: parseGlobs, expected: "comma-separated path globs" },
  { name: "show-on-paths", key: "showOnPaths", parse: parseGlobs, expected: "comma-separated path globs" },
];

/** The page the site describes in the tag or with `AIAssistant.setPageContext`. */
export interface PageOverrides {
  url?: string;
  title?: string;
  context?: string;
}

export interface ParsedAttributes {
  /** `data-assistant-id`, or null when missing or blank. */
  assistantId: string | null;
  /** Only the attributes present and valid. */
  settings: SettingsLayer;
  page: PageOverrides;
  /** One per invalid attribute, naming it (without the `[concierge]` prefix). */
  warnings: string[];
}

/**
 * Reads the `data-*` attributes through `read(name)` (the name after `data-`, null when absent). An invalid value
 * is left out, so the layer below (the assistant's stored settings, else the default) applies, with one warning.
 */
export function parseAttributes(read: (name: string) => string | null, base?: string): ParsedAttributes {
  const warnings: string[] = [];
  const settings: Record<string, unknown> = {};
  for (const spec of ATTRIBUTES) {
    const raw = read(spec.name);
    if (raw === null) continue;
    const value = spec.parse(raw, base);
    if (value === undefined) {
      warnings.push(
        `data-${spec.name}=${JSON.stringify(raw)} is not valid (expected ${spec.expected}); using the default`,
      );
    } else {
      settings[spec.key] = value;
    }
  }
  const page: PageOverrides = {};
  const url = read("page-url");
  if (url !== null) {
    const parsed = parseHttpUrl(url, base);
    if (parsed) page.url = parsed;
    else
      warnings.push(
        `data-page-url=${JSON.stringify(url)} is not valid (expected an http(s) URL); using the page's address`,
      );
  }
  const title = read("page-title")?.trim();
  if (title) page.title = title;
  const context = read("page-context")?.trim();
  if (context) page.context = context;
  const id = (read("assistant-id") ?? "").trim();
  return { assistantId: id || null, settings: settings as SettingsLayer, page, warnings };
}

// ---- The assistant's stored settings (session answer, snake_case) ----

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter((s): s is string => typeof s === "string" && s.trim().length > 0).map((s) => s.trim());
}

function integerIn(value: unknown, min: number, max: number): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? value
    : undefined;
}

/**
 * The widget settings of a session answer (`assistant.widget`, snake_case, `bottom_right` or `bottom-right`) as a
 * layer: fields missing or invalid are left to the defaults.
 */
export function normalizeServerWidget(raw: unknown): SettingsLayer {
  if (!isRecord(raw)) return {};
  const out: SettingsLayer = {};
  const str = (k: string) => (typeof raw[k] === "string" ? (raw[k] as string) : undefined);
  const bool = (k: string) => (typeof raw[k] === "boolean" ? (raw[k] as boolean) : undefined);
  const position = str("position");
  if (position !== undefined) out.position = parsePosition(position);
  const color = str("primary_color");
  if (color !== undefined) out.primaryColor = parseColor(color);
  const theme = str("theme");
  if (theme !== undefined) out.theme = parseTheme(theme);
  const welcome = str("welcome_message");
  if (welcome !== undefined) out.welcomeMessage = parseText(welcome, LIMITS.welcomeMessage);
  out.autoOpen = bool("auto_open");
  out.autoOpenDelayMs = integerIn(raw.auto_open_delay_ms, ...LIMITS.autoOpenDelayMs);
  out.showAvatar = bool("show_avatar");
  if (raw.avatar_url === null) out.avatarUrl = null;
  else {
    const avatar = str("avatar_url");
    if (avatar !== undefined) out.avatarUrl = parseHttpUrl(avatar);
  }
  out.hideOnMobile = bool("hide_on_mobile");
  out.zIndex = integerIn(raw.z_index, ...LIMITS.zIndex);
  out.width = integerIn(raw.width, ...LIMITS.width);
  out.height = integerIn(raw.height, ...LIMITS.height);
  out.hideOnPaths = stringList(raw.hide_on_paths);
  out.showOnPaths = stringList(raw.show_on_paths);
  return out;
}

/**
 * The effective settings: the built-in defaults, then each layer in order, lowest first (the assistant's stored
 * settings, then the script tag's attributes). A layer's undefined fields leave the value below.
 */
export function mergeSettings(...layers: SettingsLayer[]): WidgetSettings {
  const out: WidgetSettings = { ...DEFAULTS, hideOnPaths: [...DEFAULTS.hideOnPaths], showOnPaths: [] };
  const target = out as unknown as Record<string, unknown>;
  for (const layer of layers) {
    for (const key of Object.keys(layer) as (keyof WidgetSettings)[]) {
      const value = layer[key];
      if (value !== undefined) target[key] = Array.isArray(value) ? [...value] : value;
    }
  }
  return out;
}

// ---- window.AIAssistantConfig ----

export interface GlobalPaths {
  hideOnPaths?: string[];
  showOnPaths?: string[];
}

/** `window.AIAssistantConfig`'s path lists, with a warning for each field of the wrong shape. */
export function readGlobalConfig(raw: unknown): { paths: GlobalPaths; warnings: string[] } {
  const warnings: string[] = [];
  const paths: GlobalPaths = {};
  if (raw === undefined || raw === null) return { paths, warnings };
  if (!isRecord(raw)) {
    warnings.push("window.AIAssistantConfig must be an object; ignoring it");
    return { paths, warnings };
  }
  for (const key of ["hideOnPaths", "showOnPaths"] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (Array.isArray(value) && value.every((s) => typeof s === "string")) {
      paths[key] = (value as string[]).map((s) => s.trim()).filter((s) => s.length > 0);
    } else {
      warnings.push(`window.AIAssistantConfig.${key} must be an array of strings; ignoring it`);
    }
  }
  return { paths, warnings };
}

/** The path lists in force: `window.AIAssistantConfig` over the settings (attributes over stored over defaults). */
export function effectivePaths(
  settings: WidgetSettings,
  global: GlobalPaths,
): { hide: string[]; show: string[] } {
  return {
    hide: global.hideOnPaths ?? settings.hideOnPaths,
    show: global.showOnPaths ?? settings.showOnPaths,
  };
}
