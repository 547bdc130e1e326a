// follow.ts — the conversation's live events (GET …/events over fetch): messages and status changes, resumed after drops with backoff.

import { type Api, HttpError } from "./api";
import { backoffDelay, sleep } from "./backoff";
import { readEventStream, SseParser } from "./sse";
import { type Conversation, type Message, readConversation, readError, readMessage } from "./wire";

export interface FollowHandlers {
  onMessage(message: Message): void;
  onConversation(conversation: Conversation): void;
  /** Each time the stream (re)connects; `resumed` when it picked up after an event id, so nothing was missed. */
  onConnected(resumed: boolean): void;
  /** The token no longer works (401, or the stream's `error` with UNAUTHENTICATED): the session ended. */
  onUnauthorized(): void;
  /** The conversation is not the visitor's any more (403/404): stop following it. */
  onGone(): void;
}

/** Keep-alives come every 15 s: a stream silent for this long is dead. */
const IDLE_MS = 45000;
/** A connection that lasted this long resets the backoff even without events. */
const HEALTHY_MS = 30000;

class StreamError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/**
 * Follows one conversation. The id of the last event received survives stop/start, and each reconnection asks for
 * what came after it with `?after=evt_…` (the query form: a Last-Event-ID header would need a CORS preflight the
 * server does not allow).
 */
export class Follower {
  private running = false;
  /** Bumped by each start(), so that a loop still waking from its sleep after stop() ends. */
  private generation = 0;
  private controller: AbortController | null = null;
  private lastEventId = "";
  private attempt = 0;

  constructor(
    private readonly api: Api,
    readonly conversationId: string,
    private readonly handlers: FollowHandlers,
  ) {}

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.generation += 1;
    void this.loop(this.generation);
  }

  stop(): void {
    this.running = false;
    this.controller?.abort();
    this.controller = null;
  }

  private async loop(generation: number): Promise<void> {
    const live = (): boolean => this.running && generation === this.generation;
    while (live()) {
      const controller = new AbortController();
      this.controller = controller;
      const started = Date.now();
      let retryMs: number | null = null;
      try {
        const after = this.lastEventId ? `?after=${encodeURIComponent(this.lastEventId)}` : "";
        const response = await this.api.stream(
          "GET",
          `/conversations/${encodeURIComponent(this.conversationId)}/events${after}`,
          undefined,
          { signal: controller.signal },
        );
        if (!live()) return;
        this.handlers.onConnected(after !== "");
        const parser = new SseParser();
        await readEventStream(
          response.body,
          (event) => this.dispatch(event.event, event.data, event.lastEventId),
          {
            idleMs: IDLE_MS,
            parser,
          },
        );
        retryMs = parser.retryMs;
      } catch (error) {
        if (!live()) return;
        const status = error instanceof HttpError ? error.status : 0;
        const code = error instanceof StreamError ? error.code : "";
        if (status === 401 || code === "UNAUTHENTICATED") {
          this.stop();
          this.handlers.onUnauthorized();
          return;
        }
        if (status === 403 || status === 404 || code === "NOT_FOUND" || code === "FORBIDDEN") {
          this.stop();
          this.handlers.onGone();
          return;
        }
        if (error instanceof HttpError && error.retryAfterMs !== null) retryMs = error.retryAfterMs;
      }
      if (Date.now() - started >= HEALTHY_MS) this.attempt = 0;
      const delay = Math.max(retryMs ?? 0, backoffDelay(this.attempt));
      this.attempt += 1;
      await sleep(delay, controller.signal);
    }
  }

  private dispatch(name: string, data: string, lastEventId: string): void {
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (name === "error") {
      throw new StreamError(readError(payload)?.code ?? "");
    }
    if (lastEventId) this.lastEventId = lastEventId;
    this.attempt = 0;
    if (name === "message") {
      const message = readMessage(payload);
      if (message) this.handlers.onMessage(message);
    } else if (name === "conversation") {
      const conversation = readConversation(payload);
      if (conversation) this.handlers.onConversation(conversation);
    }
  }
}
