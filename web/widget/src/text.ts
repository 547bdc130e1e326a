// text.ts — server text made safe to show: plain text nodes, with http(s) URLs turned into <a> elements (never innerHTML).

export type Segment = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

const URL_CANDIDATE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'"*_\]}>]+$/;

/** Drops trailing punctuation that ends a sentence rather than the URL, and a ")" without its "(". */
function trimUrl(candidate: string): string {
  let url = candidate;
  for (;;) {
    const before = url;
    url = url.replace(TRAILING, "");
    if (url.endsWith(")") && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0)) {
      url = url.slice(0, -1);
    }
    if (url === before) return url;
  }
}

/** An http(s) URL's normalised href, or null (other schemes never become links). */
export function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Splits text into plain pieces and http(s) links; markup and markdown stay literal text. */
export function linkify(input: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  const push = (text: string): void => {
    if (!text) return;
    const previous = segments[segments.length - 1];
    if (previous && previous.kind === "text") previous.text += text;
    else segments.push({ kind: "text", text });
  };
  URL_CANDIDATE.lastIndex = 0;
  for (let m = URL_CANDIDATE.exec(input); m !== null; m = URL_CANDIDATE.exec(input)) {
    const url = trimUrl(m[0]);
    const href = safeHref(url);
    push(input.slice(last, m.index));
    if (href) segments.push({ kind: "link", text: url, href });
    else push(url);
    last = m.index + url.length;
    URL_CANDIDATE.lastIndex = last;
  }
  push(input.slice(last));
  return segments;
}

/** The DOM a renderer needs: a document that makes elements and text nodes. */
export type NodeFactory = Pick<Document, "createElement" | "createTextNode">;

/**
 * Appends `input` to `parent` as text nodes and links: each link an <a href> (set as a property, http(s) only)
 * with rel="noopener noreferrer" and target="_blank", its text the URL as written. Nothing is parsed as HTML.
 */
export function renderText(doc: NodeFactory, parent: Node, input: string): void {
  for (const segment of linkify(input)) {
    if (segment.kind === "text") {
      parent.appendChild(doc.createTextNode(segment.text));
    } else {
      const a = doc.createElement("a");
      a.href = segment.href;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      a.textContent = segment.text;
      parent.appendChild(a);
    }
  }
}
