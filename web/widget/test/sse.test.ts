// sse.test.ts — the event-stream parser and the body reader.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdleTimeoutError, readEventStream, type SseEvent, SseParser } from "../src/sse";

function parseAll(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

function body(chunks: (string | Uint8Array)[], options: { hang?: boolean } = {}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(typeof c === "string" ? encoder.encode(c) : c);
      if (!options.hang) controller.close();
    },
  });
}

describe("SseParser", () => {
  it("parses the server's delta and message events", () => {
    const events = parseAll([
      'event: delta\ndata: {"text":"Hel"}\n\nevent: delta\ndata: {"text":"lo"}\n\n',
      'event: message\ndata: {"message":{"id":"msg_1"},"replies":[]}\n\n',
    ]);
    assert.deepEqual(
      events.map((e) => [e.event, e.data]),
      [
        ["delta", '{"text":"Hel"}'],
        ["delta", '{"text":"lo"}'],
        ["message", '{"message":{"id":"msg_1"},"replies":[]}'],
      ],
    );
  });

  it("handles chunks split anywhere, including between \\r and \\n", () => {
    const text = "event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n";
    const whole = parseAll([text]);
    for (let i = 1; i < text.length; i++) {
      assert.deepEqual(parseAll([text.slice(0, i), text.slice(i)]), whole, `split at ${i}`);
    }
    assert.deepEqual(
      whole.map((e) => [e.event, e.data]),
      [
        ["a", "1"],
        ["b", "2"],
        ["message", "3"],
      ],
    );
    const oneByOne = parseAll(text.split(""));
    assert.deepEqual(oneByOne, whole);
  });

  it("joins data lines, skips comments and unknown fields, strips one leading space", () => {
    const [event] = parseAll([": keep-alive\nfoo: bar\ndata:  two spaces\ndata:x\ndata\n\n"]);
    assert.deepEqual(event, { event: "message", data: " two spaces\nx\n", lastEventId: "" });
  });

  it("keeps the last event id across events and ignores ids with NUL", () => {
    const events = parseAll([
      "id: evt_1\nevent: message\ndata: a\n\ndata: b\n\nid: bad\0id\ndata: c\n\nid\ndata: d\n\n",
    ]);
    assert.deepEqual(
      events.map((e) => e.lastEventId),
      ["evt_1", "evt_1", "evt_1", ""],
    );
  });

  it("does not dispatch an event without data, nor one cut off at the end", () => {
    assert.deepEqual(parseAll(["event: ping\n\n", "data: unfinished"]), []);
  });

  it("drops a leading byte-order mark and reads retry", () => {
    const parser = new SseParser();
    const events = parser.push("\uFEFFretry: 2500\ndata: x\n\n");
    assert.equal(events.length, 1);
    assert.equal(parser.retryMs, 2500);
  });
});

describe("readEventStream", () => {
  it("decodes UTF-8 split across chunks", async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"text":"Grüße 👋"}\n\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside "ü"
    const emoji = bytes.indexOf(0xf0) + 2; // inside the emoji
    const got: string[] = [];
    await readEventStream(body([bytes.slice(0, cut), bytes.slice(cut, emoji), bytes.slice(emoji)]), (e) =>
      got.push(e.data),
    );
    assert.deepEqual(got, ['{"text":"Grüße 👋"}']);
  });

  it("gives up on a stream that goes quiet", async () => {
    const got: string[] = [];
    await assert.rejects(
      readEventStream(body(["data: first\n\n"], { hang: true }), (e) => got.push(e.data), { idleMs: 50 }),
      IdleTimeoutError,
    );
    assert.deepEqual(got, ["first"]);
  });

  it("passes on a handler's exception", async () => {
    await assert.rejects(
      readEventStream(body(["data: x\n\n"], { hang: true }), () => {
        throw new Error("stop");
      }),
      /stop/,
    );
  });

  it("does nothing without a body", async () => {
    await readEventStream(null, () => assert.fail("no events"));
  });
});
