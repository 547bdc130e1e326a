// attachments.ts — screenshots on visitor messages: the client-side checks (type by the file's first bytes, size,
// count), the wording, and the message request that carries them. ui.ts draws the previews and images; app.ts
// uploads them (`POST /conversations/{id}/attachments`) and posts the message with their ids.

import { HttpError, NetworkError } from "./api";
import type { PageFields } from "./page";

/** The server's default limits: bytes of one image, and images on one message. */
export const MAX_SHOT_BYTES = 5 * 1024 * 1024;
export const MAX_SHOTS = 4;

/** What the server takes, judged by the bytes (as the server does); the file picker offers these. */
export const SHOT_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;
export type ShotType = (typeof SHOT_TYPES)[number];

/** Bytes enough to tell the three types apart. */
export const SNIFF_BYTES = 12;

/** A screenshot the visitor chose: kept locally until its message is sent, then uploaded once per conversation. */
export interface Shot {
  file: Blob;
  name: string;
  type: ShotType;
  /** The object URL the previews show until the server's signed URL replaces it. */
  url: string;
  /** The uploaded attachment (`file_…`), and the conversation it was uploaded to. */
  id: string | null;
  conversationId: string | null;
}

/** PNG, JPEG or WebP by their signatures (the server's rule), else null. */
export function sniffImage(head: Uint8Array): ShotType | null {
  const at = (i: number): number => head[i] ?? -1;
  const ascii = (from: number, text: string): boolean => {
    for (let i = 0; i < text.length; i++) if (at(from + i) !== text.charCodeAt(i)) return false;
    return true;
  };
  if (ascii(0, "\x89PNG\r\n\x1a\n")) return "image/png";
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return "image/jpeg";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "image/webp";
  return null;
}

/** "5 MB", "6.3 MB", "740 KB": 1024-based (as the limit is), rounded up (a file over the limit never reads as it). */
export function sizeLabel(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.ceil(bytes / 1024))} KB`;
  const tenths = Math.ceil((bytes / (1024 * 1024)) * 10);
  return `${tenths % 10 ? (tenths / 10).toFixed(1) : tenths / 10} MB`;
}

export const shotText = {
  attach: "Attach a screenshot",
  pending: "Screenshots to send",
  tooMany: (max: number): string => `You can attach up to ${max} screenshots to a message.`,
  uploading: (n: number, of: number): string =>
    of > 1 ? `Uploading screenshot ${n} of ${of}…` : "Uploading screenshot…",
  wait: "Please wait until the screenshots are uploaded.",
  remove: (n: number): string => `Remove screenshot ${n}`,
  opensInNewTab: " (opens in a new tab)",
};

/** An image's alternative text: "Screenshot 1 from you" in the visitor's own messages, else "Screenshot 1". */
export function shotAlt(n: number, own: boolean): string {
  return own ? `Screenshot ${n} from you` : `Screenshot ${n}`;
}

/** The preview's alternative text in the composer. */
export function previewAlt(n: number, name: string): string {
  return `Screenshot ${n}: ${name}`;
}

/**
 * Why a chosen file cannot be attached, or null when it can: `head` is its first bytes (SNIFF_BYTES), `count` how
 * many screenshots the message has already.
 */
export function shotProblem(
  file: { name: string; size: number },
  head: Uint8Array,
  count: number,
  limits: { maxBytes: number; maxShots: number } = { maxBytes: MAX_SHOT_BYTES, maxShots: MAX_SHOTS },
): string | null {
  const name = file.name || "The file";
  if (!sniffImage(head)) return `${name} is not a PNG, JPEG or WebP image.`;
  if (file.size > limits.maxBytes) {
    return `${name} is too large (${sizeLabel(file.size)}). Screenshots can be up to ${sizeLabel(limits.maxBytes)}.`;
  }
  return count >= limits.maxShots ? shotText.tooMany(limits.maxShots) : null;
}

/** Several problems in one alert, each said once. */
export function joinProblems(problems: string[]): string {
  return problems.filter((p, i) => p && problems.indexOf(p) === i).join(" ");
}

/** The files of a file input or a paste, as an array: any file (those refused are explained); none for text. */
export function filesOf(data: { files?: ArrayLike<File> | null } | null): File[] {
  const files = data?.files;
  return files ? Array.prototype.slice.call(files) : [];
}

/** What the visitor reads when the server refused or could not take an upload. */
export function uploadProblem(name: string, error: unknown): string {
  const label = name || "The screenshot";
  if (error instanceof NetworkError) return `${label} could not be uploaded: can't reach support right now.`;
  if (error instanceof HttpError) {
    // A JSON error has a code: its message is the server's. A proxy's page says only its status.
    if (error.code && error.message) return `${label} was refused: ${error.message}`;
    if (error.status === 413) return `${label} is too large for the server.`;
    if (error.status === 415) return `${label} is not a PNG, JPEG or WebP image.`;
    return `${label} was refused: ${error.message}`;
  }
  return `${label} could not be uploaded. Please try again.`;
}

/** The body of `POST /conversations/{id}/messages`: the text, the attachments' ids, the page when it changed. */
export function messageRequest(
  body: string,
  attachmentIds: readonly string[],
  page: PageFields | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = { body };
  if (attachmentIds.length) out.attachment_ids = [...attachmentIds];
  if (page) {
    if (page.url) out.page_url = page.url;
    if (page.title) out.page_title = page.title;
    if (page.context) out.page_context = page.context;
  }
  return out;
}

/** The ids to post: every screenshot uploaded to `conversationId`, in order; null when one is not. */
export function uploadedIds(shots: readonly Shot[], conversationId: string): string[] | null {
  const ids: string[] = [];
  for (const shot of shots) {
    if (!shot.id || shot.conversationId !== conversationId) return null;
    ids.push(shot.id);
  }
  return ids;
}
