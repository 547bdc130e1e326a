// sse.ts — a server-sent events parser (the WHATWG event-stream format) and a reader for fetch response bodies.

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** The last event id seen so far (the `id:` field of this event or an earlier one), "" when none. */
  lastEventId: string;
}

/**
 * Incremental parser: push text chunks as they arrive (split anywhere, even between "\r" and "\n"), get back the
 * events they complete. Comments (`:` lines, e.g. keep-alives) and unknown fields are skipped; an event without
 * data is not dispatched; an event cut off by the end of the stream is dropped, as the standard says.
 */
export class SseParser {
  private buffer = "";
  private started = false;
  private skipLf = false;
  private data: string[] = [];
  private hasData = false;
  private type = "";
  lastEventId = "";
  /** The server's `retry:` advice in milliseconds, if any. */
  retryMs: number | null = null;

  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLf && text.startsWith("\n")) text = text.slice(1);
    this.skipLf = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const cr = this.buffer.indexOf("\r");
      const lf = this.buffer.indexOf("\n");
      if (cr < 0 && lf < 0) break;
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      const line = this.buffer.slice(0, end);
      let next = end + 1;
      if (this.buffer[end] === "\r") {
        if (end + 1 < this.buffer.length) {
          if (this.buffer[end + 1] === "\n") next = end + 2;
        } else {
          // "\r" at the end of the chunk: a "\n" opening the next chunk belongs to it.
          this.skipLf = true;
        }
      }
      this.buffer = this.buffer.slice(next);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (value.indexOf("\0") < 0) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const event: SseEvent | null = this.hasData
      ? { event: this.type || "message", data: this.data.join("\n"), lastEventId: this.lastEventId }
      : null;
    this.data = [];
    this.hasData = false;
    this.type = "";
    return event;
  }
}

export class IdleTimeoutError extends Error {
  constructor() {
    super("the event stream went quiet");
    this.name = "IdleTimeoutError";
  }
}

/**
 * Reads an event stream body to its end, calling `onEvent` for each event; with `idleMs`, a stream that sends
 * nothing (not even a keep-alive comment) for that long is cancelled with an IdleTimeoutError. An exception from
 * `onEvent` cancels the stream and propagates.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array> | null,
  onEvent: (event: SseEvent) => void,
  options: { idleMs?: number; parser?: SseParser } = {},
): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = options.parser ?? new SseParser();
  let idle: ReturnType<typeof setTimeout> | undefined;
  let wentIdle = false;
  const arm = (): void => {
    if (!options.idleMs) return;
    if (idle !== undefined) clearTimeout(idle);
    idle = setTimeout(() => {
      wentIdle = true;
      reader.cancel().catch(() => {});
    }, options.idleMs);
  };
  try {
    arm();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arm();
      for (const event of parser.push(decoder.decode(value, { stream: true }))) onEvent(event);
    }
    for (const event of parser.push(decoder.decode())) onEvent(event);
  } catch (error) {
    reader.cancel().catch(() => {});
    throw wentIdle ? new IdleTimeoutError() : error;
  } finally {
    if (idle !== undefined) clearTimeout(idle);
  }
  if (wentIdle) throw new IdleTimeoutError();
}
