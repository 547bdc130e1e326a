// app.ts — the widget app bundle (widget-<hash>.js): the panel, the visitor's session, sending and receiving messages, ratings,
// the contact form.
//
// Handshake with embed.js (details in handshake.ts): running this bundle only sets
// `window.__conciergeWidgetApp = boot`. The loader calls `boot(ctx)` once, on this script's `load` event, with its
// LoaderContext; boot draws the panel into ctx.root and returns the AppHandle that AIAssistant.open/close/toggle/
// identify/shutdown are forwarded to.

import { Api, HttpError, isTransient, NetworkError } from "./api";
import { messageRequest, type Shot, shotText, uploadedIds, uploadProblem } from "./attachments";
import { backoffDelay, sleep } from "./backoff";
import {
  type ContactFields,
  consentToSend,
  contactBody,
  contactConfirmation,
  contactPrefill,
  contactProblem,
  contactText,
} from "./contact";
import { Follower } from "./follow";
import { type AppHandle, HANDSHAKE_VERSION, type Identity, type LoaderContext } from "./handshake";
import { browserFamily, deviceKind, type PageFields, samePage } from "./page";
import { readEventStream } from "./sse";
import { keys, readItem, removeItem, writeItem } from "./storage";
import { adoptCss, panelCss } from "./styles";
import { type Bubble, Panel } from "./ui";
import {
  type Conversation,
  type Message,
  readContactAnswer,
  readCreated,
  readError,
  readMarketingConsent,
  readMessagePage,
  readPosted,
  readSession,
  readUploadedId,
  readVisitor,
  type SessionAnswer,
  type Visitor,
} from "./wire";

const OFFLINE = "Can't reach support right now. Retrying…";
/** Tries of one message (or conversation start) before it shows "Not sent. Retry". */
const SEND_ATTEMPTS = 6;
/** A streamed answer may pause between pieces; a stream silent for this long is given up (the live events go on). */
const ANSWER_IDLE_MS = 60000;
/** How long the typing indicator waits for an answer that comes through the live events instead. */
const REPLY_WAIT_MS = 90000;
/** Pages of history loaded when a conversation is resumed (100 messages each). */
const HISTORY_PAGES = 5;

/** One message being sent, and the answer streaming for it. */
interface Flight {
  bubble: Bubble;
  answer: Bubble | null;
  /** The answer is in (stream finished, or it came through the live events): later pieces are ignored. */
  done: boolean;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const enc = encodeURIComponent;

function createApp(ctx: LoaderContext): AppHandle {
  const assistantId = ctx.assistantId;
  const doc = ctx.root.ownerDocument;
  adoptCss(ctx.shadow, panelCss);

  let token = readItem(keys.token(assistantId));
  const api = new Api(ctx.origin, () => token);

  /** Bumped by shutdown(): work started before it stops. */
  let generation = 0;
  let blocked = false;
  let sessionId: string | null = null;
  let starting: Promise<boolean> | null = null;
  let conversation: Conversation | null = null;
  let follower: Follower | null = null;
  /** The page fields the server last received (conversation start or a message). */
  let lastPage: PageFields | null = null;
  /** identify() fields not yet sent. */
  let identity: Identity | null = null;
  let identityTries = 0;
  /** The visitor's contact details as the server last answered them (session, identify, contact form). */
  let visitor: Visitor | null = null;
  /** Whether the visitor already agreed to marketing email, as the server last answered (session, contact form). */
  let consented = false;
  let readySent = false;
  let chain: Promise<void> = Promise.resolve();
  let flight: Flight | null = null;
  /** Visitor bubbles the server has not confirmed yet, oldest first. */
  const unconfirmed: Bubble[] = [];
  let ratingFor: string | null = null;
  let replyTimer: ReturnType<typeof setTimeout> | undefined;
  /** The newest message shown, for catching up with `?after=`. */
  let newestId: string | null = null;

  const panel = new Panel(ctx.root, {
    send: (text, shots) => send(text, shots),
    close: () => close(true),
    endChat: () => endChat(),
    rateAnswer: (id, helpful) => void rateAnswer(id, helpful),
    rateConversation: (rating) => void rateConversation(rating),
    retry: (bubble) => {
      if (unconfirmed.indexOf(bubble) < 0) unconfirmed.push(bubble);
      enqueue(() => deliver(bubble));
    },
    contactDetails: () => contactPrefill(visitor),
    saveContact: (fields, consent) => void saveContact(fields, consent),
  });
  ctx.launcher.setAttribute("aria-controls", panel.el.id);

  const configure = (): void => {
    const settings = ctx.settings();
    panel.configure(
      ctx.assistantName(),
      settings.welcomeMessage,
      settings.showAvatar ? settings.avatarUrl : null,
    );
  };
  configure();
  ctx.onSettings(configure);
  doc.addEventListener("visibilitychange", () => syncFollow());
  // Escape also closes the panel when the focus fell out of it onto the page's body (a removed control).
  doc.addEventListener("keydown", (event) => {
    const active = doc.activeElement;
    if (
      event.key === "Escape" &&
      panel.isOpen &&
      (!active || active === doc.body || active === ctx.shadow.host)
    ) {
      close(true);
    }
  });
  // Leaving the page: close the live events from here (and let the back/forward cache keep the page).
  window.addEventListener("pagehide", () => follower?.stop());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) syncFollow();
  });

  // ---- Open and close ----

  function open(): void {
    if (blocked) return;
    if (!panel.isOpen) {
      panel.setOpen(true);
      ctx.setOpen(true);
    } else panel.focusInput();
    void ensureSession();
  }

  function close(returnFocus = false): void {
    if (!panel.isOpen) return;
    panel.setOpen(false);
    ctx.setOpen(false);
    if (returnFocus) ctx.launcher.focus();
  }

  // ---- Session ----

  function ensureSession(): Promise<boolean> {
    if (sessionId) return Promise.resolve(true);
    if (!starting) {
      const gen = generation;
      starting = startSession(gen).then(
        (ok) => {
          if (gen === generation) starting = null;
          return ok;
        },
        () => {
          if (gen === generation) starting = null;
          return false;
        },
      );
    }
    return starting;
  }

  async function startSession(gen: number): Promise<boolean> {
    for (let attempt = 0; gen === generation && !blocked; attempt++) {
      try {
        await startSessionOnce(gen);
        if (gen !== generation) return false;
        panel.setStatus(null);
        return true;
      } catch (error) {
        if (gen !== generation) return false;
        if (!isTransient(error)) {
          refused(error);
          return false;
        }
        // Retries run while the visitor looks at the panel; opening it again starts over.
        if (!panel.isOpen) {
          panel.setStatus(null);
          return false;
        }
        const wait = retryDelay(error, attempt);
        panel.setStatus(
          error instanceof HttpError && error.status === 429
            ? `Too many requests. Retrying in ${Math.ceil(wait / 1000)} s…`
            : OFFLINE,
          "error",
        );
        await sleep(wait);
      }
    }
    return false;
  }

  async function startSessionOnce(gen: number): Promise<void> {
    if (token) {
      try {
        const current = readSession(await api.json("GET", "/session"));
        if (!current) throw new NetworkError(false);
        await adopt(current, gen);
        return;
      } catch (error) {
        // Expired or ended: start a new session below.
        if (error instanceof HttpError && (error.status === 401 || error.status === 404)) dropToken();
        else throw error;
      }
    }
    const visitor = identityForNewVisitor();
    let raw: unknown;
    try {
      raw = await api.json(
        "POST",
        "/sessions",
        visitor ? { assistant_id: assistantId, visitor } : { assistant_id: assistantId },
      );
    } catch (error) {
      if (!visitor || !(error instanceof HttpError) || (error.status !== 400 && error.status !== 422))
        throw error;
      ctx.warn(`AIAssistant.identify(): the server refused the visitor's details: ${error.message}`);
      identity = null;
      raw = await api.json("POST", "/sessions", { assistant_id: assistantId });
    }
    const started = readSession(raw);
    if (!started?.token) throw new NetworkError(false);
    if (gen !== generation) return;
    token = started.token;
    writeItem(keys.token(assistantId), token);
    // A new visitor took the fields; null ("clear") means nothing to a new visitor.
    if (visitor) identity = null;
    await adopt(started, gen);
  }

  /** The session answer: settings, the conversation to resume, pending identify fields, 'ready'. */
  async function adopt(answer: SessionAnswer, gen: number): Promise<void> {
    sessionId = answer.sessionId;
    if (answer.visitor) visitor = answer.visitor;
    consented = answer.marketingConsent;
    // The contact form's consent checkbox, while the organization keeps a mailing list.
    panel.setConsentLabel(answer.marketingConsentLabel);
    ctx.applyServerSettings(answer.assistant);
    const resumable = answer.conversation;
    if (
      resumable &&
      !conversation &&
      resumable.status !== "closed" &&
      resumable.id !== readItem(keys.ended(assistantId))
    ) {
      await resume(resumable, gen);
    }
    if (identity) void pushIdentity();
    if (!readySent && gen === generation) {
      readySent = true;
      ctx.emit("ready");
    }
  }

  /** 403 (this site is not allowed), 404 (no such assistant) or another refusal: hide for this page view. */
  function refused(error: unknown): void {
    if (error instanceof NetworkError) return;
    const status = error instanceof HttpError ? error.status : 0;
    const detail = error instanceof HttpError && error.message ? `: ${error.message}` : "";
    blocked = true;
    close();
    ctx.block(
      status === 403
        ? `this site may not use assistant ${assistantId} (403${detail}); add its origin to the assistant's allowed origins`
        : status === 404
          ? `assistant ${assistantId} does not exist (404${detail})`
          : `the server refused to start a chat (${status || "error"}${detail})`,
    );
  }

  function retryDelay(error: unknown, attempt: number): number {
    const advised = error instanceof HttpError && error.retryAfterMs !== null ? error.retryAfterMs : 0;
    return Math.min(60000, Math.max(advised, backoffDelay(attempt)));
  }

  function dropToken(): void {
    token = null;
    removeItem(keys.token(assistantId));
  }

  /** The token stopped working: the next interaction starts a new session (and conversation). */
  function forgetSession(): void {
    dropToken();
    sessionId = null;
    forgetConversation();
  }

  function forgetConversation(): void {
    follower?.stop();
    follower = null;
    conversation = null;
    lastPage = null;
    panel.setCanEnd(false);
    panel.setCanContact(false);
  }

  // ---- Identity ----

  function identify(input: Identity): void {
    const fields: Identity = {};
    let any = false;
    for (const key of ["name", "email", "phone"] as const) {
      if (!(key in input)) continue;
      const value = input[key];
      if (value === null || typeof value === "string") {
        fields[key] = value;
        any = true;
      } else ctx.warn(`AIAssistant.identify(): ${key} must be a string or null`);
    }
    if (!any) return;
    identity = { ...identity, ...fields };
    identityTries = 0;
    if (sessionId) void pushIdentity();
    else if (panel.isOpen) void ensureSession();
  }

  /** The pending fields a new visitor can start with (values only: there is nothing to clear yet). */
  function identityForNewVisitor(): Record<string, string> | null {
    if (!identity) return null;
    const out: Record<string, string> = {};
    for (const key of ["name", "email", "phone"] as const) {
      const value = identity[key];
      if (typeof value === "string" && value.trim()) out[key] = value;
    }
    return Object.keys(out).length ? out : null;
  }

  async function pushIdentity(): Promise<void> {
    const fields = identity;
    if (!fields || !sessionId) return;
    identity = null;
    try {
      visitor = readVisitor(await api.json("PATCH", "/visitor", fields)) ?? visitor;
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) {
        identity = { ...fields, ...(identity ?? {}) };
        forgetSession();
      } else if (isTransient(error) && identityTries < 3) {
        identity = { ...fields, ...(identity ?? {}) };
        setTimeout(() => void pushIdentity(), backoffDelay(identityTries++ + 2));
      } else ctx.warn(`AIAssistant.identify(): the visitor's details were not saved: ${describe(error)}`);
    }
  }

  // ---- Conversation ----

  async function resume(resumed: Conversation, gen: number): Promise<void> {
    // The live events start after the history: their first connection catches up from its newest message.
    setConversation(resumed, false);
    lastPage = { url: resumed.source_url ?? undefined, title: resumed.page_title ?? undefined };
    try {
      await loadHistory(resumed.id, gen);
    } catch {
      // The live events' catch-up fills in what is missing.
    }
    if (gen !== generation || conversation?.id !== resumed.id) return;
    syncFollow();
    if (resumed.status === "resolved") offerRating(resumed.id);
    else if (resumed.status === "handed_off") panel.notice("You're chatting with our support team.");
  }

  async function loadHistory(conversationId: string, gen: number): Promise<void> {
    let cursor: string | null = null;
    for (let page = 0; page < HISTORY_PAGES; page++) {
      const query: string = cursor ? `?limit=100&cursor=${enc(cursor)}` : "?limit=100";
      const answer = readMessagePage(
        await api.json("GET", `/conversations/${enc(conversationId)}/messages${query}`),
      );
      if (gen !== generation || conversation?.id !== conversationId) return;
      // History goes above what the visitor typed meanwhile.
      for (const message of answer.data) {
        panel.addMessage(message, unconfirmed[0]);
        newestId = message.id;
      }
      cursor = answer.nextCursor;
      if (!cursor) return;
    }
  }

  function setConversation(next: Conversation, follow = true): void {
    follower?.stop();
    conversation = next;
    if (ratingFor !== next.id) panel.dropRating();
    panel.setCanEnd(next.status !== "closed");
    panel.setCanContact(next.status !== "closed");
    const conversationId = next.id;
    follower = new Follower(api, conversationId, {
      // While a catch-up is fetching what came before, live messages wait for it: they are newer.
      onMessage: (message) => (heldBack ? heldBack.push(message) : showIncoming(message)),
      onConversation: (changed) => statusChanged(changed),
      onConnected: (resumed) => {
        if (!resumed) void catchUp(conversationId);
      },
      onUnauthorized: () => {
        forgetSession();
        panel.notice("Your chat session has ended. Send a message to start a new one.");
      },
      onGone: () => {
        if (conversation?.id === conversationId) forgetConversation();
      },
    });
    if (follow) syncFollow();
  }

  /** The live events run while there is a conversation and the page is visible. */
  function syncFollow(): void {
    if (!follower) return;
    if (conversation && sessionId && doc.visibilityState !== "hidden") follower.start();
    else follower.stop();
  }

  /** Live messages that arrived while a catch-up was fetching: shown after it, so that messages keep their order. */
  let heldBack: Message[] | null = null;

  /**
   * After a fresh connection: what came between the history (or the start) and the stream, shown before the live
   * messages that arrive meanwhile (the page holds older ones; duplicates are dropped by id).
   */
  async function catchUp(conversationId: string): Promise<void> {
    const gen = generation;
    const held: Message[] = [];
    heldBack = held;
    try {
      const after = newestId;
      const query = after ? `?after=${enc(after)}&limit=100` : "?limit=100";
      const answer = readMessagePage(
        await api.json("GET", `/conversations/${enc(conversationId)}/messages${query}`),
      );
      if (gen !== generation || conversation?.id !== conversationId) return;
      for (const message of answer.data) showIncoming(message);
    } catch {
      // The stream goes on; a later reconnection resumes from its last event.
    } finally {
      if (heldBack === held) heldBack = null;
      if (gen === generation && conversation?.id === conversationId) {
        for (const message of held) showIncoming(message);
      }
    }
  }

  function emitMessage(message: Message): void {
    newestId = message.id;
    ctx.emit("message", { ...message });
  }

  /** A message from the live events or a catch-up: deduplicated by id, matched to the visitor's pending bubbles. */
  function showIncoming(message: Message): void {
    if (panel.has(message.id)) return;
    if (message.author === "visitor") {
      const at = unconfirmed.findIndex((b) => b.body.trim() === message.body.trim());
      const bubble = at >= 0 ? unconfirmed[at] : undefined;
      if (bubble) confirmVisitor(bubble, message);
      else if (panel.addMessage(message)) emitMessage(message);
      return;
    }
    stopWaitingForReply();
    const current = flight;
    if (
      current &&
      !current.done &&
      message.author === "assistant" &&
      (!message.reply_to_id || message.reply_to_id === current.bubble.messageId)
    ) {
      current.done = true;
      panel.setTyping(false);
      if (current.answer) {
        for (const added of panel.replaceAnswer(current.answer, [message])) emitMessage(added);
        current.answer = null;
        return;
      }
    }
    if (panel.addMessage(message)) emitMessage(message);
  }

  function confirmVisitor(bubble: Bubble, message: Message): void {
    const at = unconfirmed.indexOf(bubble);
    if (at >= 0) unconfirmed.splice(at, 1);
    // Known already (the live events came first): the posted answer may still bring its screenshots' URLs.
    if (bubble.messageId === message.id) {
      panel.confirm(bubble, message);
      return;
    }
    const known = panel.has(message.id);
    panel.confirm(bubble, message);
    if (!known) emitMessage(message);
  }

  function statusChanged(changed: Conversation): void {
    const current = conversation;
    if (!current || current.id !== changed.id) return;
    conversation = { ...current, ...changed };
    if (current.status === changed.status) return;
    if (changed.status === "handed_off") {
      panel.notice("You're now connected with our support team. A person will reply here.");
    } else if (changed.status === "resolved") {
      panel.notice("This conversation was marked as resolved.");
      offerRating(changed.id);
    } else if (changed.status === "closed") {
      panel.notice("This conversation has ended. Send a message to start a new one.");
      offerRating(changed.id);
      forgetConversation();
    }
  }

  /** "End chat": the conversation stays as it is on the server, but is not resumed; its rating is offered. */
  function endChat(): void {
    const ended = conversation;
    if (!ended) return;
    writeItem(keys.ended(assistantId), ended.id);
    forgetConversation();
    stopWaitingForReply();
    panel.notice("You ended the chat. Send a message to start a new one.");
    offerRating(ended.id);
  }

  async function startConversation(gen: number): Promise<boolean> {
    for (let attempt = 0, renewed = 0; gen === generation; attempt++) {
      const page = ctx.page();
      const coarse =
        typeof window.matchMedia === "function" && window.matchMedia("(pointer: coarse)").matches;
      const body = {
        source_url: page.url,
        page_title: page.title,
        page_context: page.context,
        browser: browserFamily(navigator.userAgent),
        device: deviceKind(navigator.userAgent, window.innerWidth, coarse),
      };
      try {
        const created = readCreated(await api.json("POST", "/conversations", body));
        if (!created.conversation) throw new NetworkError(false);
        if (gen !== generation) return false;
        setConversation(created.conversation);
        lastPage = page;
        return true;
      } catch (error) {
        if (gen !== generation) return false;
        if (error instanceof HttpError && error.status === 401 && renewed++ < 1) {
          forgetSession();
          if (!(await ensureSession())) return false;
          continue;
        }
        if (isTransient(error) && attempt < SEND_ATTEMPTS - 1) {
          panel.setStatus(OFFLINE, "error");
          await sleep(retryDelay(error, attempt));
          continue;
        }
        panel.setStatus(
          error instanceof HttpError && error.status < 500 && error.status !== 429
            ? error.message
            : "Can't start a conversation right now. Please try again.",
          "error",
        );
        return false;
      }
    }
    return false;
  }

  // ---- Sending ----

  function enqueue(task: () => Promise<void>): void {
    chain = chain.then(task).catch((error) => ctx.warn(`sending failed: ${describe(error)}`));
  }

  function send(text: string, shots: Shot[] = []): void {
    if (blocked) return;
    const bubble = panel.addPendingVisitor(text, shots);
    unconfirmed.push(bubble);
    enqueue(() => deliver(bubble));
  }

  function fail(bubble: Bubble): void {
    if (!bubble.messageId) panel.markFailed(bubble);
  }

  async function deliver(bubble: Bubble): Promise<void> {
    const gen = generation;
    let renewed = 0;
    for (let attempt = 0; ; attempt++) {
      if (gen !== generation || bubble.messageId) return;
      if (!(await ensureSession()) || gen !== generation) return fail(bubble);
      const target = conversation ?? ((await startConversation(gen)) ? conversation : null);
      if (!target || gen !== generation) return fail(bubble);
      try {
        if (!(await upload(target, bubble, gen)) || gen !== generation) return;
        await post(target, bubble, gen);
        panel.setStatus(null);
        return;
      } catch (error) {
        if (gen !== generation) return;
        const status = error instanceof HttpError ? error.status : 0;
        if ((status === 401 || status === 404 || status === 409) && renewed++ < 2) {
          // 401: the session ended; 404/409: the conversation is gone or closed. Start afresh and send again.
          if (status === 401) forgetSession();
          else {
            forgetConversation();
            if (status === 409) panel.notice("That conversation was closed; starting a new one.");
          }
          attempt = -1;
          continue;
        }
        if (bubble.messageId) {
          // The server has the message: its answer comes through the live events.
          panel.setStatus(null);
          if (answered(bubble)) waitForReply();
          return;
        }
        if (isTransient(error) && status !== 429 && attempt < SEND_ATTEMPTS - 1) {
          panel.setStatus(OFFLINE, "error");
          await sleep(retryDelay(error, attempt));
          continue;
        }
        if (error instanceof HttpError && status === 429) {
          const seconds = error.retryAfterMs !== null ? Math.ceil(error.retryAfterMs / 1000) : 0;
          panel.setStatus(
            seconds
              ? `Too many messages. Please try again in ${seconds} s.`
              : "Too many messages. Please try again shortly.",
            "error",
          );
          return fail(bubble);
        }
        if (error instanceof HttpError && status < 500) {
          // Refused (empty, too long…): say why and give the text (and screenshots) back.
          panel.setStatus(error.message, "error");
          // Uploaded again when sent again: the refusal may have been about them.
          for (const shot of bubble.shots ?? []) shot.id = null;
          giveBack(bubble, null);
          return;
        }
        panel.setStatus("Your message could not be sent. Please try again.", "error");
        return fail(bubble);
      }
    }
  }

  /** A message without text (screenshots only) gets no answer from the assistant. */
  function answered(bubble: Bubble): boolean {
    return bubble.body.trim() !== "";
  }

  /** The server refused the message: it leaves the log; its text and screenshots go back to the composer. */
  function giveBack(bubble: Bubble, refused: Shot | null): void {
    const at = unconfirmed.indexOf(bubble);
    if (at >= 0) unconfirmed.splice(at, 1);
    panel.remove(bubble);
    panel.restoreInput(bubble.body);
    panel.restoreShots(
      (bubble.shots ?? []).filter((shot) => shot !== refused),
      refused,
    );
  }

  /**
   * Uploads the message's screenshots that `target` does not have yet (all of them again after a new
   * conversation started). False when the server refused one: the visitor reads why, and the message goes back
   * to the composer without it. Other failures throw, for deliver() to retry.
   */
  async function upload(target: Conversation, bubble: Bubble, gen: number): Promise<boolean> {
    const todo = (bubble.shots ?? []).filter((shot) => !shot.id || shot.conversationId !== target.id);
    if (!todo.length) return true;
    panel.setBusy(true);
    try {
      for (let i = 0; i < todo.length; i++) {
        const shot = todo[i] as Shot;
        panel.setUploading(bubble, shotText.uploading(i + 1, todo.length));
        let raw: unknown;
        try {
          // Sent as the type its bytes showed, whatever the file's name said.
          raw = await api.upload(
            `/conversations/${enc(target.id)}/attachments`,
            shot.file.slice(0, shot.file.size, shot.type),
          );
        } catch (error) {
          if (gen !== generation) return false;
          if (error instanceof HttpError && (error.status === 413 || error.status === 415)) {
            panel.setStatus(null);
            panel.attachProblem(uploadProblem(shot.name, error));
            giveBack(bubble, shot);
            return false;
          }
          throw error;
        }
        if (gen !== generation) return false;
        const id = readUploadedId(raw);
        if (!id) throw new NetworkError(false);
        shot.id = id;
        shot.conversationId = target.id;
      }
      return true;
    } finally {
      panel.setBusy(false);
      panel.setUploading(bubble, null);
    }
  }

  /** Posts one message and streams its answer into the log. */
  async function post(target: Conversation, bubble: Bubble, gen: number): Promise<void> {
    const page = ctx.page();
    const changed = !samePage(lastPage, page);
    const ids = uploadedIds(bubble.shots ?? [], target.id);
    // A screenshot not uploaded to this conversation: deliver() tries again, uploading it first.
    if (!ids) throw new NetworkError(false);
    const body = messageRequest(bubble.body, ids, changed ? page : null);
    const current: Flight = { bubble, answer: null, done: false };
    const answers = answered(bubble);
    flight = current;
    panel.setTyping(answers);
    // The server answers (headers) only once it stored the message: from then on it is never sent again.
    let accepted = false;
    try {
      const response = await api.stream("POST", `/conversations/${enc(target.id)}/messages`, body);
      accepted = true;
      if (changed) lastPage = page;
      if (gen !== generation) return;
      if (!(response.headers.get("Content-Type") ?? "").includes("text/event-stream")) {
        finish(current, await response.json());
        return;
      }
      let failure: string | null = null;
      await readEventStream(
        response.body,
        (event) => {
          if (gen !== generation) return;
          let data: unknown;
          try {
            data = JSON.parse(event.data);
          } catch {
            return;
          }
          if (event.event === "delta") {
            const piece = (data as { text?: unknown } | null)?.text;
            if (typeof piece !== "string" || current.done) return;
            panel.setTyping(false);
            if (!current.answer) current.answer = panel.startAnswer();
            panel.appendToAnswer(current.answer, piece);
          } else if (event.event === "message") {
            finish(current, data);
          } else if (event.event === "error") {
            failure = readError(data)?.message || "The answer was interrupted.";
          }
        },
        { idleMs: ANSWER_IDLE_MS },
      );
      if (failure) panel.setStatus(failure, "error");
      else if (!current.done && answers) waitForReply();
    } catch (error) {
      if (accepted || bubble.messageId) {
        // It broke after the server took the message: the live events bring the answer.
        panel.setStatus(null);
        if (answers) waitForReply();
        return;
      }
      throw error;
    } finally {
      if (flight === current) flight = null;
      if (current.answer) panel.remove(current.answer);
      if (!replyTimer) panel.setTyping(false);
    }
  }

  function finish(current: Flight, raw: unknown): void {
    const posted = readPosted(raw);
    if (posted.message) confirmVisitor(current.bubble, posted.message);
    if (current.answer) {
      for (const added of panel.replaceAnswer(current.answer, posted.replies)) emitMessage(added);
      current.answer = null;
    } else {
      for (const reply of posted.replies) if (panel.addMessage(reply)) emitMessage(reply);
    }
    current.done = true;
    stopWaitingForReply();
  }

  function waitForReply(): void {
    stopWaitingForReply();
    panel.setTyping(true);
    replyTimer = setTimeout(stopWaitingForReply, REPLY_WAIT_MS);
  }

  function stopWaitingForReply(): void {
    if (replyTimer !== undefined) clearTimeout(replyTimer);
    replyTimer = undefined;
    panel.setTyping(false);
  }

  // ---- Contact details ----

  /**
   * The contact form: the visitor's name, email and phone, for the team (and its CRM) to follow up, and the
   * marketing-consent checkbox when it shows one (`consent` null when not).
   */
  async function saveContact(fields: ContactFields, consent: boolean | null): Promise<void> {
    const gen = generation;
    const target = conversation;
    if (!target) {
      panel.contactFailed({ field: null, text: contactText.noConversation });
      return;
    }
    const body = contactBody(fields, consentToSend(consent, consented));
    try {
      const raw = await api.json("POST", `/conversations/${enc(target.id)}/contact`, body);
      if (gen !== generation) return;
      const saved = readContactAnswer(raw);
      if (saved) visitor = saved;
      consented = readMarketingConsent(raw) ?? body.marketing_consent ?? consented;
      panel.contactSaved(contactConfirmation(saved ?? body));
    } catch (error) {
      if (gen !== generation) return;
      // A 401: the session ended; the form closes with the conversation and the reason shows in the status line.
      if (error instanceof HttpError && error.status === 401) forgetSession();
      panel.contactFailed(contactProblem(error));
    }
  }

  // ---- Feedback ----

  async function rateAnswer(messageId: string, helpful: boolean): Promise<void> {
    try {
      await api.json("POST", `/messages/${enc(messageId)}/feedback`, { helpful });
    } catch (error) {
      panel.setAnswerFeedback(messageId, null);
      if (error instanceof HttpError && error.status === 401) forgetSession();
      panel.setStatus("Your feedback could not be sent. Please try again.", "error");
    }
  }

  function offerRating(conversationId: string): void {
    if (readItem(keys.rated(assistantId)) === conversationId) return;
    ratingFor = conversationId;
    panel.offerRating();
  }

  async function rateConversation(rating: number): Promise<void> {
    const conversationId = ratingFor;
    if (!conversationId) return;
    try {
      await api.json("POST", `/conversations/${enc(conversationId)}/feedback`, { rating });
      writeItem(keys.rated(assistantId), conversationId);
      panel.ratingDone(true);
      panel.setStatus(null);
    } catch {
      panel.ratingDone(false);
      panel.setStatus("Your rating could not be sent. Please try again.", "error");
    }
  }

  // ---- Shutdown ----

  function shutdown(): void {
    const ended = token;
    generation += 1;
    starting = null;
    flight = null;
    chain = Promise.resolve();
    unconfirmed.length = 0;
    identity = null;
    visitor = null;
    ratingFor = null;
    newestId = null;
    stopWaitingForReply();
    forgetSession();
    for (const key of [keys.ended, keys.rated]) removeItem(key(assistantId));
    removeItem(keys.dismissed(assistantId), "session");
    if (ended) {
      new Api(ctx.origin, () => ended)
        .json("DELETE", "/session", undefined, { keepalive: true })
        .catch(() => {});
    }
    close();
    panel.reset();
  }

  const safe =
    <A extends unknown[]>(name: string, fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args);
      } catch (error) {
        ctx.warn(`${name} failed: ${describe(error)}`);
      }
    };

  return {
    open: safe("open", open),
    close: safe("close", () => close()),
    toggle: safe("toggle", () => (panel.isOpen ? close() : open())),
    identify: safe("identify", identify),
    shutdown: safe("shutdown", shutdown),
  };
}

const noop = (): void => {};

/** Registered for the loader: see the handshake at the top of this file. */
function boot(ctx: LoaderContext): AppHandle {
  try {
    if (ctx.version !== HANDSHAKE_VERSION)
      ctx.warn("embed.js and the widget bundle do not match; reload the page");
    return createApp(ctx);
  } catch (error) {
    ctx.warn(`the chat widget failed to start: ${describe(error)}`);
    return { open: noop, close: noop, toggle: noop, identify: noop, shutdown: noop };
  }
}

window.__conciergeWidgetApp = boot;
