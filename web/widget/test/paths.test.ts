// paths.test.ts — path glob matching and the show/hide rule.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { globMatch, isPathVisible } from "../src/paths";

describe("globMatch", () => {
  it("matches literal paths exactly", () => {
    assert.equal(globMatch("/pricing", "/pricing"), true);
    assert.equal(globMatch("/pricing", "/pricing/"), false);
    assert.equal(globMatch("/pricing", "/pricing-plans"), false);
  });

  it("lets * match any run of characters, slashes included", () => {
    assert.equal(globMatch("/products/*", "/products/boots"), true);
    assert.equal(globMatch("/products/*", "/products/boots/red/42"), true);
    assert.equal(globMatch("/products/*", "/products/"), true);
    assert.equal(globMatch("/products/*", "/products"), false);
    assert.equal(globMatch("/products/*", "/shop/products/boots"), false);
    assert.equal(globMatch("*", "/anything/at/all"), true);
    assert.equal(globMatch("*", ""), true);
  });

  it("handles several stars, leading and trailing ones", () => {
    assert.equal(globMatch("*/checkout", "/de/shop/checkout"), true);
    assert.equal(globMatch("*/checkout", "/de/shop/checkout/done"), false);
    assert.equal(globMatch("/*/checkout/*", "/de/checkout/step-2"), true);
    assert.equal(globMatch("/a*b*c", "/abc"), true);
    assert.equal(globMatch("/a*b*c", "/a-x-b-y-c"), true);
    assert.equal(globMatch("/a*b*c", "/a-x-c-y-b"), false);
    assert.equal(globMatch("/ab*ba", "/aba"), false, "prefix and suffix may not overlap");
    assert.equal(globMatch("**", "/x"), true);
  });

  it("treats other characters literally (no regex)", () => {
    assert.equal(globMatch("/a.b", "/axb"), false);
    assert.equal(globMatch("/a?b", "/a?b"), true);
    assert.equal(globMatch("/(x)+", "/(x)+"), true);
  });

  it("stays fast on pathological patterns", () => {
    const started = Date.now();
    assert.equal(globMatch(`/${"*a".repeat(50)}b`, `/${"a".repeat(5000)}`), false);
    assert.ok(Date.now() - started < 200);
  });
});

describe("isPathVisible", () => {
  it("shows everywhere without rules", () => {
    assert.equal(isPathVisible("/x", [], []), true);
  });

  it("hides where a hide glob matches", () => {
    assert.equal(isPathVisible("/checkout/payment", ["/checkout/*"], []), false);
    assert.equal(isPathVisible("/cart", ["/checkout/*"], []), true);
  });

  it("shows only where a show glob matches when there are some", () => {
    assert.equal(isPathVisible("/products/boots", [], ["/products/*", "/help"]), true);
    assert.equal(isPathVisible("/help", [], ["/products/*", "/help"]), true);
    assert.equal(isPathVisible("/about", [], ["/products/*", "/help"]), false);
  });

  it("lets hide win over show", () => {
    assert.equal(isPathVisible("/products/secret", ["/products/secret"], ["/products/*"]), false);
  });
});
