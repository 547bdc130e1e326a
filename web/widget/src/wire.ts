// wire.ts — the visitor API's JSON shapes, and tolerant readers for them (nested or flattened answers).

import type { ServerAssistant } from "./handshake";

export type Author = "visitor" | "assistant" | "agent";

export interface Message {
  id: string;
  conversation_id: string;
  author: Author | string;
  body: string;
  reply_to_id?: string | null;
  source_entry_id?: string | null;
  citations?: string[];
  /** Images the message carries, each with a signed URL that works for a few minutes. */
  attachments?: Attachment[];
  created_at: string;
}

/** An image on a message (`file_…`); `url` is signed and short-lived (`url_expires_at`). */
export interface Attachment {
  id: string;
  content_type: string;
  byte_size: number;
  url: string;
  url_expires_at: string;
  created_at: string;
}

export interface Conversation {
  id: string;
  assistant_id?: string;
  /** open | handed_off | resolved | closed */
  status: string;
  subject?: string | null;
  source_url?: string | null;
  page_title?: string | null;
  created_at?: string;
  updated_at?: string;
}

/** The visitor's own contact details (VisitorJson), as the session answer and the contact form's answer give them. */
export interface Visitor {
  id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
}

export interface SessionAnswer {
  /** Only in the answer to POST /sessions. */
  token: string | null;
  sessionId: string;
  assistant: ServerAssistant;
  assistantName: string | null;
  conversation: Conversation | null;
  visitor: Visitor | null;
  /** Whether the visitor already agreed to marketing email (recorded by the server). */
  marketingConsent: boolean;
  /**
   * The words of the contact form's marketing-consent checkbox (the organization keeps a mailing list); null: the
   * form shows no checkbox.
   */
  marketingConsentLabel: string | null;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

export function readMessage(raw: unknown): Message | null {
  const r = record(raw);
  if (!r) return null;
  const id = text(r.id);
  const author = text(r.author);
  const body = text(r.body);
  if (!id || !author || body === null) return null;
  return {
    id,
    conversation_id: text(r.conversation_id) ?? "",
    author,
    body,
    reply_to_id: text(r.reply_to_id),
    source_entry_id: text(r.source_entry_id),
    citations: Array.isArray(r.citations)
      ? r.citations.filter((c): c is string => typeof c === "string")
      : [],
    ...withAttachments(readAttachments(r.attachments)),
    created_at: text(r.created_at) ?? "",
  };
}

/** `attachments` only when there are some, as the server sends them (and the site's `message` event shows them). */
function withAttachments(attachments: Attachment[]): { attachments?: Attachment[] } {
  return attachments.length ? { attachments } : {};
}

/** An attachment with its id and URL (only http(s) URLs are shown), else null. */
export function readAttachment(raw: unknown): Attachment | null {
  const r = record(raw);
  const id = text(r?.id);
  const url = text(r?.url);
  if (!r || !id || !url || !/^https?:\/\//i.test(url)) return null;
  return {
    id,
    content_type: text(r.content_type) ?? "",
    byte_size: typeof r.byte_size === "number" ? r.byte_size : 0,
    url,
    url_expires_at: text(r.url_expires_at) ?? "",
    created_at: text(r.created_at) ?? "",
  };
}

/** A message's `attachments` (absent when there are none): the well-formed ones. */
export function readAttachments(raw: unknown): Attachment[] {
  return Array.isArray(raw) ? raw.map(readAttachment).filter((a): a is Attachment => a !== null) : [];
}

/** The id of an upload's answer (`201`): the attachment flattened, or nested under `attachment`. */
export function readUploadedId(raw: unknown): string | null {
  const r = record(raw);
  return text((record(r?.attachment) ?? r)?.id);
}

export function readMessages(raw: unknown): Message[] {
  return Array.isArray(raw) ? raw.map(readMessage).filter((m): m is Message => m !== null) : [];
}

export function readConversation(raw: unknown): Conversation | null {
  const r = record(raw);
  if (!r) return null;
  const id = text(r.id);
  const status = text(r.status);
  if (!id || !status) return null;
  return {
    id,
    status,
    assistant_id: text(r.assistant_id) ?? undefined,
    subject: text(r.subject),
    source_url: text(r.source_url),
    page_title: text(r.page_title),
    created_at: text(r.created_at) ?? undefined,
    updated_at: text(r.updated_at) ?? undefined,
  };
}

export function readVisitor(raw: unknown): Visitor | null {
  const r = record(raw);
  const id = text(r?.id);
  if (!r || !id) return null;
  return { id, name: text(r.name), email: text(r.email), phone: text(r.phone) };
}

/** `POST /conversations/{id}/contact`: `{visitor}`, or the visitor flattened. */
export function readContactAnswer(raw: unknown): Visitor | null {
  const r = record(raw);
  return readVisitor(record(r?.visitor) ?? r);
}

/** Whether a visitor (or a contact answer's, nested or flattened) agreed to marketing email; null when unsaid. */
export function readMarketingConsent(raw: unknown): boolean | null {
  const r = record(raw);
  const consent = (record(r?.visitor) ?? r)?.marketing_consent;
  return typeof consent === "boolean" ? consent : null;
}

/** A consent checkbox's words: non-blank text, trimmed; null for none. */
function label(value: unknown): string | null {
  const words = text(value)?.trim();
  return words ? words : null;
}

/** `POST /sessions` or `GET /session`. */
export function readSession(raw: unknown): SessionAnswer | null {
  const r = record(raw);
  if (!r) return null;
  const sessionId = text(r.session_id);
  if (!sessionId) return null;
  const assistant = record(r.assistant) ?? {};
  return {
    token: text(r.token),
    sessionId,
    assistant: { name: assistant.name, widget: assistant.widget },
    assistantName: text(assistant.name),
    conversation: readConversation(r.conversation),
    visitor: readVisitor(r.visitor),
    marketingConsent: readMarketingConsent(r.visitor) === true,
    marketingConsentLabel: label(r.marketing_consent_label),
  };
}

/** `POST /conversations`: `{conversation, initial_message, replies}`, or the conversation's fields flattened. */
export function readCreated(raw: unknown): {
  conversation: Conversation | null;
  initialMessage: Message | null;
  replies: Message[];
} {
  const r = record(raw) ?? {};
  return {
    conversation: readConversation(record(r.conversation) ?? r),
    initialMessage: readMessage(r.initial_message),
    replies: readMessages(r.replies),
  };
}

/** A posted message (the stream's `message` event or the 201): `{message, replies}`, or the message flattened. */
export function readPosted(raw: unknown): { message: Message | null; replies: Message[] } {
  const r = record(raw) ?? {};
  return { message: readMessage(record(r.message) ?? r), replies: readMessages(r.replies) };
}

/** `{data: [message], next_cursor}`. */
export function readMessagePage(raw: unknown): { data: Message[]; nextCursor: string | null } {
  const r = record(raw) ?? {};
  return { data: readMessages(r.data), nextCursor: text(r.next_cursor) };
}

/** `{"error": {"code", "message"}}`, or null. */
export function readError(raw: unknown): { code: string; message: string } | null {
  const error = record(record(raw)?.error);
  if (!error) return null;
  return { code: text(error.code) ?? "", message: text(error.message) ?? "" };
}
