// Screenshots in words and the reply composer's checks: sizes, alternative text, previews, what is left out and
// why, upload refusals, and when a signed URL needs renewing.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  byteWords,
  checkScreenshots,
  isScreenshotType,
  MAX_SCREENSHOT_BYTES,
  MAX_SCREENSHOTS,
  SCREENSHOT_TYPES,
  screenshotAlt,
  screenshotCount,
  uploadFailureWords,
  urlExpired,
  withScreenshots,
} from "../src/lib/attachments";

const KB = 1024;
const MB = 1024 * 1024;
const png = (name: string, size = 48 * KB) => ({ name, type: "image/png", size });

test("sizes read in bytes, then whole kilobytes, then megabytes with one decimal under ten", () => {
  assert.equal(byteWords(0), "0 bytes");
  assert.equal(byteWords(1), "1 byte");
  assert.equal(byteWords(512), "512 bytes");
  assert.equal(byteWords(1023), "1023 bytes");
  assert.equal(byteWords(KB), "1 KB");
  assert.equal(byteWords(48 * KB), "48 KB");
  assert.equal(byteWords(48 * KB + 300), "48 KB");
  assert.equal(byteWords(MB - 1), "1 MB");
  assert.equal(byteWords(1.5 * MB), "1.5 MB");
  assert.equal(byteWords(MAX_SCREENSHOT_BYTES), "5 MB");
  assert.equal(byteWords(12.4 * MB), "12 MB");
  assert.equal(byteWords(-1), "unknown size");
  assert.equal(byteWords(Number.NaN), "unknown size");
});

test("screenshots are counted in words, after a message's text or instead of it", () => {
  assert.equal(screenshotCount(1), "1 screenshot");
  assert.equal(screenshotCount(3), "3 screenshots");
  assert.equal(withScreenshots("It breaks here", 0), "It breaks here");
  assert.equal(withScreenshots("It breaks here", 2), "It breaks here (2 screenshots)");
  assert.equal(withScreenshots("", 1), "1 screenshot");
  assert.equal(withScreenshots("  ", 2), "2 screenshots");
});

test("a screenshot's alternative text says its place and who sent it", () => {
  assert.equal(screenshotAlt("VISITOR", 1), "Screenshot 1 from the visitor");
  assert.equal(screenshotAlt("AGENT", 2), "Screenshot 2 from the team");
  assert.equal(screenshotAlt("ASSISTANT", 1), "Screenshot 1 from the assistant");
  assert.equal(screenshotAlt("SYSTEM", 3), "Screenshot 3");
});

test("PNG, JPEG and WebP are taken by their type, or by their name when the browser gives none", () => {
  assert.deepEqual([...SCREENSHOT_TYPES], ["image/png", "image/jpeg", "image/webp"]);
  assert.equal(isScreenshotType({ name: "a.png", type: "image/png", size: 1 }), true);
  assert.equal(isScreenshotType({ name: "a", type: "image/JPEG", size: 1 }), true);
  assert.equal(isScreenshotType({ name: "a.webp", type: "image/webp", size: 1 }), true);
  assert.equal(isScreenshotType({ name: "a.gif", type: "image/gif", size: 1 }), false);
  assert.equal(isScreenshotType({ name: "a.png", type: "application/pdf", size: 1 }), false);
  assert.equal(isScreenshotType({ name: "shot.JPG", type: "", size: 1 }), true);
  assert.equal(isScreenshotType({ name: "notes.txt", type: "", size: 1 }), false);
});

test("the composer keeps good screenshots in order and says why it left out the others", () => {
  const { taken, problems } = checkScreenshots(
    [
      png("one.png"),
      { name: "anim.gif", type: "image/gif", size: 2 * KB },
      png("empty.png", 0),
      png("huge.png", 6 * MB),
      png("two.png"),
    ],
    0,
  );
  assert.deepEqual(
    taken.map((f) => f.name),
    ["one.png", "two.png"],
  );
  assert.deepEqual(problems, [
    "“anim.gif” is not a PNG, JPEG or WebP image.",
    "“empty.png” is empty.",
    "“huge.png” is 6 MB: a screenshot can be 5 MB at most.",
  ]);
});

test("a file of exactly the limit is taken, one byte more is not", () => {
  assert.equal(checkScreenshots([png("edge.png", MAX_SCREENSHOT_BYTES)], 0).taken.length, 1);
  assert.equal(checkScreenshots([png("over.png", MAX_SCREENSHOT_BYTES + 1)], 0).taken.length, 0);
});

test("no more than the limit per reply, counting those already attached", () => {
  assert.equal(MAX_SCREENSHOTS, 4);
  const five = ["a", "b", "c", "d", "e"].map((n) => png(`${n}.png`));
  const all = checkScreenshots(five, 0);
  assert.deepEqual(
    all.taken.map((f) => f.name),
    ["a.png", "b.png", "c.png", "d.png"],
  );
  assert.deepEqual(all.problems, ["A reply carries 4 screenshots at most: “e.png” was left out."]);

  const later = checkScreenshots(five.slice(0, 3), 2);
  assert.deepEqual(
    later.taken.map((f) => f.name),
    ["a.png", "b.png"],
  );
  assert.deepEqual(later.problems, ["A reply carries 4 screenshots at most: “c.png” was left out."]);

  const full = checkScreenshots(five.slice(0, 3), 4);
  assert.equal(full.taken.length, 0);
  assert.deepEqual(full.problems, [
    "A reply carries 4 screenshots at most: “a.png”, “b.png” and “c.png” were left out.",
  ]);
});

test("other limits can be given (a server configured otherwise)", () => {
  const { taken, problems } = checkScreenshots([png("a.png", 3 * KB), png("b.png", KB)], 0, {
    count: 1,
    bytes: 2 * KB,
  });
  assert.deepEqual(
    taken.map((f) => f.name),
    ["b.png"],
  );
  assert.deepEqual(problems, ["“a.png” is 3 KB: a screenshot can be 2 KB at most."]);
});

test("upload refusals name the file: 413 and 415 in words, others with the server's message", () => {
  assert.equal(
    uploadFailureWords("big.png", 413, "payload too large"),
    "“big.png” is larger than the server takes: choose a smaller screenshot.",
  );
  assert.equal(
    uploadFailureWords("fake.png", 415, "not an image"),
    "“fake.png” is not a PNG, JPEG or WebP image, judged by its content.",
  );
  assert.equal(
    uploadFailureWords("a.png", 404, "conversation not found"),
    "“a.png” could not be uploaded: conversation not found",
  );
  assert.equal(
    uploadFailureWords("a.png", undefined, "The server cannot be reached."),
    "“a.png” could not be uploaded: The server cannot be reached.",
  );
});

test("a signed URL is renewed once it expired or is about to", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  assert.equal(urlExpired("2026-12-06T12:05:00Z", now), false);
  assert.equal(urlExpired("2026-12-06T12:00:04Z", now), true);
  assert.equal(urlExpired("2026-12-06T11:59:00Z", now), true);
  assert.equal(urlExpired("2026-12-06T12:00:04Z", now, 1000), false);
  assert.equal(urlExpired("not a date", now), true);
});
