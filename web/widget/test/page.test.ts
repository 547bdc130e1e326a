// page.test.ts — the page fields sent with conversations and messages, browser family and device kind.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { browserFamily, clip, deviceKind, isMobileViewport, pageFields, samePage } from "../src/page";

describe("pageFields", () => {
  it("uses the document's address and title by default", () => {
    assert.deepEqual(pageFields({}, "https://shop.example.com/boots", " Boots "), {
      url: "https://shop.example.com/boots",
      title: "Boots",
    });
  });

  it("prefers the site's overrides", () => {
    assert.deepEqual(
      pageFields(
        { url: "https://shop.example.com/x", title: "X", context: "ctx" },
        "https://a.example/",
        "A",
      ),
      { url: "https://shop.example.com/x", title: "X", context: "ctx" },
    );
  });

  it("leaves out what the server would refuse and cuts what is long", () => {
    assert.deepEqual(pageFields({}, "file:///home/me/page.html", ""), {});
    const long = pageFields(
      { context: "c".repeat(20000) },
      `https://a.example/${"p".repeat(3000)}`,
      "t".repeat(900),
    );
    assert.equal(long.url, undefined);
    assert.equal(long.title?.length, 500);
    assert.equal(long.context?.length, 10000);
  });

  it("never cuts a surrogate pair in half", () => {
    assert.equal(clip("ab😀", 3), "ab");
    assert.equal(clip("ab😀", 4), "ab😀");
  });

  it("compares pages field by field", () => {
    const a = { url: "https://a.example/", title: "A" };
    assert.equal(samePage(null, a), false);
    assert.equal(samePage({ ...a }, a), true);
    assert.equal(samePage({ ...a, context: "x" }, a), false);
  });
});

describe("browser and device", () => {
  const ua = {
    chrome:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    edge: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    firefox: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    safari:
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    opera:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
  };

  it("names the browser family", () => {
    assert.equal(browserFamily(ua.chrome), "Chrome");
    assert.equal(browserFamily(ua.edge), "Edge");
    assert.equal(browserFamily(ua.firefox), "Firefox");
    assert.equal(browserFamily(ua.safari), "Safari");
    assert.equal(browserFamily(ua.opera), "Opera");
    assert.equal(browserFamily("curl/8.0"), "Other");
  });

  it("calls narrow viewports and coarse pointers up to 768 px mobile", () => {
    assert.equal(isMobileViewport(640, false), true);
    assert.equal(isMobileViewport(641, false), false);
    assert.equal(isMobileViewport(768, true), true);
    assert.equal(isMobileViewport(769, true), false);
    assert.equal(deviceKind(ua.chrome, 1280, false), "desktop");
    assert.equal(deviceKind(ua.safari, 1280, false), "mobile");
    assert.equal(deviceKind(ua.chrome, 390, true), "mobile");
  });
});
