// attachments.ts — screenshots on messages, in words: their sizes, their alternative text, what the reply
// composer checks before it uploads them (the server judges again, by their bytes), and its refusals.
import type { MessageAuthor } from "../gql/graphql";

/** The image types the server takes, as a file input's `accept`. */
export const SCREENSHOT_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;

/** The server's limits unless configured otherwise: 4 screenshots a message, 5 MiB each. */
export const MAX_SCREENSHOTS = 4;
export const MAX_SCREENSHOT_BYTES = 5 * 1024 * 1024;

const KIB = 1024;
const MIB = 1024 * 1024;

/** A size as people read it: `512 bytes`, `48 KB`, `1.5 MB` (binary units, as file managers show them). */
export function byteWords(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "unknown size";
  if (bytes < KIB) return bytes === 1 ? "1 byte" : `${Math.round(bytes)} bytes`;
  const kb = Math.max(1, Math.round(bytes / KIB));
  if (kb < KIB) return `${kb} KB`;
  const mb = bytes / MIB;
  // One decimal under 10 MB (`1.5 MB`), none when it is a whole number (`5 MB`) or above.
  const shown = mb < 10 ? Math.round(mb * 10) / 10 : Math.round(mb);
  return `${shown} MB`;
}

/** How many screenshots, in words: `1 screenshot`, `2 screenshots`. */
export function screenshotCount(count: number): string {
  return `${count} screenshot${count === 1 ? "" : "s"}`;
}

/** A message's text with its screenshots (a list's preview, an announcement): the count alone when it has no text. */
export function withScreenshots(body: string, count: number): string {
  if (count === 0) return body;
  return body.trim() ? `${body} (${screenshotCount(count)})` : screenshotCount(count);
}

const FROM: Record<MessageAuthor, string> = {
  VISITOR: " from the visitor",
  ASSISTANT: " from the assistant",
  AGENT: " from the team",
  SYSTEM: "",
};

/** A screenshot's alternative text by who sent it and its place in the message (from 1). */
export function screenshotAlt(author: MessageAuthor, position: number): string {
  return `Screenshot ${position}${FROM[author]}`;
}

/** What the composer knows of a chosen file (a `File`, or its likeness in tests). */
export interface FileFacts {
  name: string;
  type: string;
  size: number;
}

const EXTENSIONS = /\.(png|jpe?g|webp)$/i;

/** Whether a file looks like an image the server takes: its declared type, or its name when the type is unknown. */
export function isScreenshotType(file: FileFacts): boolean {
  if (file.type) return (SCREENSHOT_TYPES as readonly string[]).includes(file.type.toLowerCase());
  return EXTENSIONS.test(file.name);
}

/**
 * The chosen files the composer keeps, in order, with `already` attached, and why it leaves out the others: not
 * such an image, empty, too large, or beyond the number a message carries.
 */
export function checkScreenshots<T extends FileFacts>(
  files: readonly T[],
  already: number,
  limits: { count: number; bytes: number } = { count: MAX_SCREENSHOTS, bytes: MAX_SCREENSHOT_BYTES },
): { taken: T[]; problems: string[] } {
  const taken: T[] = [];
  const problems: string[] = [];
  const leftOut: string[] = [];
  for (const file of files) {
    if (!isScreenshotType(file)) {
      problems.push(`“${file.name}” is not a PNG, JPEG or WebP image.`);
    } else if (file.size === 0) {
      problems.push(`“${file.name}” is empty.`);
    } else if (file.size > limits.bytes) {
      problems.push(
        `“${file.name}” is ${byteWords(file.size)}: a screenshot can be ${byteWords(limits.bytes)} at most.`,
      );
    } else if (already + taken.length >= limits.count) {
      leftOut.push(`“${file.name}”`);
    } else {
      taken.push(file);
    }
  }
  if (leftOut.length > 0) {
    const names =
      leftOut.length === 1 ? leftOut[0] : `${leftOut.slice(0, -1).join(", ")} and ${leftOut.at(-1)}`;
    problems.push(
      `A reply carries ${screenshotCount(limits.count)} at most: ${names} ${leftOut.length === 1 ? "was" : "were"} left out.`,
    );
  }
  return { taken, problems };
}

/** Why an upload failed, naming the file: the server's status (413, 415) in words, else its message. */
export function uploadFailureWords(name: string, status: number | undefined, message: string): string {
  if (status === 413) return `“${name}” is larger than the server takes: choose a smaller screenshot.`;
  if (status === 415) return `“${name}” is not a PNG, JPEG or WebP image, judged by its content.`;
  return `“${name}” could not be uploaded: ${message}`;
}

/** Whether a signed URL has expired, or will within `marginMs`, by the moment the server gave. */
export function urlExpired(expiresAt: string, now = Date.now(), marginMs = 5000): boolean {
  const at = Date.parse(expiresAt);
  return Number.isNaN(at) || at - now <= marginMs;
}
