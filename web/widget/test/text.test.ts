// text.test.ts — server text is rendered as text: no HTML, no markdown, links only for http(s) URLs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { linkify, type NodeFactory, renderText, safeHref } from "../src/text";

/** A tiny DOM that records what the renderer builds and fails on any HTML parsing. */
class FakeNode {
  children: FakeNode[] = [];
  attributes: Record<string, string> = {};
  href = "";
  rel = "";
  target = "";
  private ownText = "";
  constructor(
    readonly tag: string,
    text = "",
  ) {
    this.ownText = text;
  }
  appendChild(child: FakeNode): FakeNode {
    this.children.push(child);
    return child;
  }
  setAttribute(name: string, value: string): void {
    this.attributes[name] = value;
  }
  get textContent(): string {
    return this.ownText + this.children.map((c) => c.textContent).join("");
  }
  set textContent(value: string) {
    this.children = [];
    this.ownText = value;
  }
  set innerHTML(_: string) {
    throw new Error("innerHTML must not be used");
  }
  insertAdjacentHTML(): void {
    throw new Error("insertAdjacentHTML must not be used");
  }
}

const fakeDocument = {
  createElement: (tag: string) => new FakeNode(tag),
  createTextNode: (text: string) => new FakeNode("#text", text),
} as unknown as NodeFactory;

function render(text: string): FakeNode {
  const parent = new FakeNode("div");
  renderText(fakeDocument, parent as unknown as Node, text);
  return parent;
}

describe("linkify", () => {
  it("leaves plain text alone", () => {
    assert.deepEqual(linkify("Hello, world"), [{ kind: "text", text: "Hello, world" }]);
    assert.deepEqual(linkify(""), []);
  });

  it("links http and https URLs, without trailing punctuation", () => {
    assert.deepEqual(linkify("See https://example.com/returns. Or http://x.org/a?b=1&c=2, thanks!"), [
      { kind: "text", text: "See " },
      { kind: "link", text: "https://example.com/returns", href: "https://example.com/returns" },
      { kind: "text", text: ". Or " },
      { kind: "link", text: "http://x.org/a?b=1&c=2", href: "http://x.org/a?b=1&c=2" },
      { kind: "text", text: ", thanks!" },
    ]);
  });

  it("keeps balanced parentheses and drops an unbalanced closing one", () => {
    const wiki = linkify("(see https://en.wikipedia.org/wiki/Boot_(footwear))");
    assert.deepEqual(wiki[1], {
      kind: "link",
      text: "https://en.wikipedia.org/wiki/Boot_(footwear)",
      href: "https://en.wikipedia.org/wiki/Boot_(footwear)",
    });
    assert.deepEqual(wiki[2], { kind: "text", text: ")" });
  });

  it("never links other schemes", () => {
    for (const text of [
      "javascript:alert(1)",
      "data:text/html,<b>x</b>",
      "vbscript:x",
      "ftp://example.com/",
    ]) {
      assert.ok(
        linkify(text).every((s) => s.kind === "text"),
        text,
      );
    }
    assert.equal(safeHref("javascript:alert(1)"), null);
    assert.equal(safeHref("https://ok.example/"), "https://ok.example/");
  });

  it("leaves markdown as literal text", () => {
    const segments = linkify("**bold** and [click](javascript:alert(1)) and [site](https://example.com)");
    assert.equal(
      segments.map((s) => s.text).join(""),
      "**bold** and [click](javascript:alert(1)) and [site](https://example.com)",
    );
    assert.deepEqual(
      segments.filter((s) => s.kind === "link").map((s) => (s.kind === "link" ? s.href : "")),
      ["https://example.com/"],
    );
  });
});

describe("renderText", () => {
  it("renders markup as text nodes, never as HTML", () => {
    const evil = '<img src=x onerror="alert(1)"><script>alert(2)</script> & <b>bold</b>';
    const parent = render(evil);
    assert.equal(parent.textContent, evil);
    assert.deepEqual(
      parent.children.map((c) => c.tag),
      ["#text"],
    );
  });

  it("builds safe <a> elements for links", () => {
    const parent = render('Go to https://example.com/a"><script>x</script> now');
    const links = parent.children.filter((c) => c.tag === "a");
    assert.equal(links.length, 1);
    const a = links[0] as FakeNode;
    assert.equal(a.href, "https://example.com/a");
    assert.equal(a.rel, "noopener noreferrer");
    assert.equal(a.target, "_blank");
    assert.equal(a.textContent, "https://example.com/a");
    assert.equal(parent.textContent, 'Go to https://example.com/a"><script>x</script> now');
  });

  it("keeps line breaks in the text for pre-wrap", () => {
    assert.equal(render("line 1\nline 2").textContent, "line 1\nline 2");
  });
});
