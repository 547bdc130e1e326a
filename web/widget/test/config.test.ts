// config.test.ts — attribute parsing with fallbacks and warnings, server settings, merge order and AIAssistantConfig.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULTS,
  effectivePaths,
  mergeSettings,
  normalizeServerWidget,
  parseAttributes,
  parseBoolean,
  parseInteger,
  parsePosition,
  readGlobalConfig,
} from "../src/config";

const reader = (attrs: Record<string, string>) => (name: string) => attrs[name] ?? null;
const BASE = "https://shop.example.com/products/boots?x=1";

describe("parseAttributes", () => {
  it("reads the assistant id and nothing else when only it is given", () => {
    const parsed = parseAttributes(reader({ "assistant-id": "asst_123" }), BASE);
    assert.equal(parsed.assistantId, "asst_123");
    assert.deepEqual(parsed.settings, {});
    assert.deepEqual(parsed.page, {});
    assert.deepEqual(parsed.warnings, []);
  });

  it("has no assistant id when it is missing or blank", () => {
    assert.equal(parseAttributes(reader({}), BASE).assistantId, null);
    assert.equal(parseAttributes(reader({ "assistant-id": "   " }), BASE).assistantId, null);
  });

  it("takes every valid attribute", () => {
    const parsed = parseAttributes(
      reader({
        "assistant-id": "asst_1",
        position: "top-left",
        "primary-color": "#AA3300",
        theme: "auto",
        "welcome-message": "  Hello there  ",
        "auto-open": "true",
        "auto-open-delay": "600",
        "show-avatar": "false",
        "avatar-url": "/img/bot.png",
        "hide-on-mobile": "TRUE",
        "z-index": "777",
        width: "420",
        height: "700px",
        "hide-on-paths": "/checkout/*, /account/* ,",
        "show-on-paths": "/products/*",
        "page-context": " Boots page ",
        "page-title": "Boots",
        "page-url": "/products/boots",
      }),
      BASE,
    );
    assert.deepEqual(parsed.warnings, []);
    assert.deepEqual(parsed.settings, {
      position: "top-left",
      primaryColor: "#aa3300",
      theme: "auto",
      welcomeMessage: "Hello there",
      autoOpen: true,
      autoOpenDelayMs: 600,
      showAvatar: false,
      avatarUrl: "https://shop.example.com/img/bot.png",
      hideOnMobile: true,
      zIndex: 777,
      width: 420,
      height: 700,
      hideOnPaths: ["/checkout/*", "/account/*"],
      showOnPaths: ["/products/*"],
    });
    assert.deepEqual(parsed.page, {
      url: "https://shop.example.com/products/boots",
      title: "Boots",
      context: "Boots page",
    });
  });

  it("leaves out each invalid value with exactly one warning naming its attribute", () => {
    const parsed = parseAttributes(
      reader({
        "assistant-id": "asst_1",
        position: "middle",
        "primary-color": "red",
        width: "5",
        height: "99999",
        theme: "sepia",
        "auto-open": "yes",
        "auto-open-delay": "600001",
        "z-index": "1.5",
        "avatar-url": "javascript:alert(1)",
        "welcome-message": "   ",
        "page-url": "ftp://example.com/",
      }),
      BASE,
    );
    assert.deepEqual(parsed.settings, {});
    const names = [
      "data-position",
      "data-primary-color",
      "data-width",
      "data-height",
      "data-theme",
      "data-auto-open=",
      "data-auto-open-delay",
      "data-z-index",
      "data-avatar-url",
      "data-welcome-message",
      "data-page-url",
    ];
    assert.equal(parsed.warnings.length, names.length, parsed.warnings.join("\n"));
    for (const name of names) {
      assert.equal(parsed.warnings.filter((w) => w.includes(name)).length, 1, `${name}: ${parsed.warnings}`);
    }
    assert.match(parsed.warnings[0] ?? "", /data-position="middle" is not valid/);
    // The merged settings fall back to the defaults.
    const merged = mergeSettings({}, parsed.settings);
    assert.equal(merged.position, "bottom-right");
    assert.equal(merged.primaryColor, "#0071e3");
    assert.equal(merged.width, 380);
  });

  it("warns about nothing that is absent", () => {
    assert.deepEqual(parseAttributes(reader({ "assistant-id": "a" })).warnings, []);
  });
});

describe("value parsers", () => {
  it("normalises both spellings of a position", () => {
    assert.equal(parsePosition("bottom_left"), "bottom-left");
    assert.equal(parsePosition("Top-Right"), "top-right");
    assert.equal(parsePosition("bottomRight"), "bottom-right");
    assert.equal(parsePosition("center"), undefined);
  });

  it("reads booleans strictly, an empty attribute as true", () => {
    assert.equal(parseBoolean(""), true);
    assert.equal(parseBoolean("False"), false);
    assert.equal(parseBoolean("1"), undefined);
  });

  it("reads integers within their range only", () => {
    assert.equal(parseInteger("0", 0, 10), 0);
    assert.equal(parseInteger("10", 0, 10), 10);
    assert.equal(parseInteger("11", 0, 10), undefined);
    assert.equal(parseInteger("-1", 0, 10), undefined);
    assert.equal(parseInteger("1e3", 0, 5000), undefined);
    assert.equal(parseInteger("", 0, 5000), undefined);
  });
});

describe("normalizeServerWidget", () => {
  it("reads the session answer's snake_case settings", () => {
    const layer = normalizeServerWidget({
      position: "top_left",
      primary_color: "#112233",
      theme: "dark",
      welcome_message: "Hey",
      auto_open: true,
      auto_open_delay_ms: 1500,
      show_avatar: false,
      avatar_url: "https://cdn.example.com/a.png",
      hide_on_mobile: true,
      z_index: 10,
      width: 400,
      height: 640,
      hide_on_paths: ["/admin/*"],
      show_on_paths: [],
      allowed_origins: ["https://shop.example.com"],
    });
    assert.deepEqual(mergeSettings(layer), {
      position: "top-left",
      primaryColor: "#112233",
      theme: "dark",
      welcomeMessage: "Hey",
      autoOpen: true,
      autoOpenDelayMs: 1500,
      showAvatar: false,
      avatarUrl: "https://cdn.example.com/a.png",
      hideOnMobile: true,
      zIndex: 10,
      width: 400,
      height: 640,
      hideOnPaths: ["/admin/*"],
      showOnPaths: [],
    });
  });

  it("accepts the kebab-case position too, and drops what is invalid", () => {
    const layer = normalizeServerWidget({
      position: "bottom-left",
      width: 5,
      primary_color: "blue",
      z_index: "9",
    });
    const merged = mergeSettings(layer);
    assert.equal(merged.position, "bottom-left");
    assert.equal(merged.width, DEFAULTS.width);
    assert.equal(merged.primaryColor, DEFAULTS.primaryColor);
    assert.equal(merged.zIndex, DEFAULTS.zIndex);
  });

  it("ignores what is not an object", () => {
    assert.deepEqual(normalizeServerWidget(null), {});
    assert.deepEqual(normalizeServerWidget("x"), {});
  });
});

describe("merge order", () => {
  it("is defaults < the assistant's stored settings < the script tag's attributes", () => {
    const stored = normalizeServerWidget({ position: "top_left", primary_color: "#112233", width: 500 });
    const attrs = parseAttributes(reader({ "assistant-id": "a", "primary-color": "#445566" })).settings;
    const merged = mergeSettings(stored, attrs);
    assert.equal(merged.primaryColor, "#445566", "the attribute wins over the stored setting");
    assert.equal(merged.position, "top-left", "the stored setting wins over the default");
    assert.equal(merged.width, 500);
    assert.equal(merged.height, DEFAULTS.height, "the default stays where nobody says otherwise");
  });

  it("does not share arrays between results", () => {
    const a = mergeSettings({ hideOnPaths: ["/x"] });
    a.hideOnPaths.push("/y");
    assert.deepEqual(mergeSettings({ hideOnPaths: ["/x"] }).hideOnPaths, ["/x"]);
    assert.deepEqual(DEFAULTS.hideOnPaths, []);
  });

  it("puts window.AIAssistantConfig's paths over the attributes", () => {
    const settings = mergeSettings(
      { hideOnPaths: ["/stored/*"] },
      { hideOnPaths: ["/attr/*"], showOnPaths: ["/a"] },
    );
    assert.deepEqual(effectivePaths(settings, {}), { hide: ["/attr/*"], show: ["/a"] });
    const global = readGlobalConfig({ hideOnPaths: ["/checkout/*"] });
    assert.deepEqual(global.warnings, []);
    assert.deepEqual(effectivePaths(settings, global.paths), { hide: ["/checkout/*"], show: ["/a"] });
    assert.deepEqual(effectivePaths(settings, readGlobalConfig({ showOnPaths: [] }).paths).show, []);
  });
});

describe("readGlobalConfig", () => {
  it("is empty without the global", () => {
    assert.deepEqual(readGlobalConfig(undefined), { paths: {}, warnings: [] });
  });

  it("warns about fields of the wrong shape and ignores them", () => {
    const read = readGlobalConfig({ hideOnPaths: "/checkout/*", showOnPaths: [" /a ", "", 3] });
    assert.deepEqual(read.paths, {});
    assert.equal(read.warnings.length, 2);
    assert.match(read.warnings[0] ?? "", /hideOnPaths/);
    assert.equal(readGlobalConfig(42).warnings.length, 1);
  });

  it("trims the globs", () => {
    assert.deepEqual(readGlobalConfig({ showOnPaths: [" /a ", ""] }).paths, { showOnPaths: ["/a"] });
  });
});
