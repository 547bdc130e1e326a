// attachments.test.ts — screenshots on visitor messages: the client-side checks, the wording, the message request.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError, NetworkError } from "../src/api";
import {
  filesOf,
  joinProblems,
  MAX_SHOT_BYTES,
  MAX_SHOTS,
  messageRequest,
  previewAlt,
  SHOT_TYPES,
  type Shot,
  shotAlt,
  shotProblem,
  shotText,
  sizeLabel,
  sniffImage,
  uploadedIds,
  uploadProblem,
} from "../src/attachments";

const bytes = (...parts: (string | number[])[]): Uint8Array => {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "string") for (let i = 0; i < part.length; i++) out.push(part.charCodeAt(i));
    else out.push(...part);
  }
  return new Uint8Array(out);
};

const PNG = bytes("\x89PNG\r\n\x1a\n", [0, 0, 0, 13]);
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0, 0, 16], "JFIF");
const WEBP = bytes("RIFF", [0x24, 0, 0, 0], "WEBP");

const shot = (id: string | null, conversationId: string | null): Shot => ({
  file: new Blob(["x"]),
  name: "a.png",
  type: "image/png",
  url: "blob:x",
  id,
  conversationId,
});

describe("sniffImage", () => {
  it("knows PNG, JPEG and WebP by their first bytes, as the server does", () => {
    assert.equal(sniffImage(PNG), "image/png");
    assert.equal(sniffImage(JPEG), "image/jpeg");
    assert.equal(sniffImage(WEBP), "image/webp");
    assert.deepEqual([...SHOT_TYPES], ["image/png", "image/jpeg", "image/webp"]);
  });

  it("refuses other files, whatever their name says", () => {
    assert.equal(sniffImage(bytes("this is not an image\n")), null);
    assert.equal(sniffImage(bytes("RIFF", [0x24, 0, 0, 0], "WAVEfmt ")), null, "a WAV file is RIFF too");
    assert.equal(sniffImage(bytes("GIF89a")), null);
    assert.equal(sniffImage(bytes('<svg xmlns="http://www.w3.org/2000/svg"/>')), null);
    assert.equal(sniffImage(bytes("\x89PNG")), null, "cut short");
    assert.equal(sniffImage(new Uint8Array(0)), null);
  });
});

describe("shotProblem", () => {
  it("accepts an image within the limits", () => {
    assert.equal(shotProblem({ name: "a.png", size: 1000 }, PNG, 0), null);
    assert.equal(shotProblem({ name: "b.webp", size: MAX_SHOT_BYTES }, WEBP, MAX_SHOTS - 1), null);
  });

  it("says which file is not an image, too large, or one too many", () => {
    assert.equal(
      shotProblem({ name: "shot.png", size: 21 }, bytes("this is not an image\n"), 0),
      "shot.png is not a PNG, JPEG or WebP image.",
    );
    assert.equal(
      shotProblem({ name: "big.jpg", size: MAX_SHOT_BYTES + 1 }, JPEG, 0),
      "big.jpg is too large (5.1 MB). Screenshots can be up to 5 MB.",
    );
    assert.equal(
      shotProblem({ name: "huge.png", size: 7 * 1024 * 1024 + 300000 }, PNG, 0),
      "huge.png is too large (7.3 MB). Screenshots can be up to 5 MB.",
    );
    assert.equal(
      shotProblem({ name: "fifth.png", size: 10 }, PNG, MAX_SHOTS),
      "You can attach up to 4 screenshots to a message.",
    );
    assert.equal(
      shotProblem({ name: "", size: 10 }, bytes("%PDF-1.7"), 0),
      "The file is not a PNG, JPEG or WebP image.",
    );
  });

  it("follows other limits when given", () => {
    assert.equal(
      shotProblem({ name: "a.png", size: 2048 }, PNG, 0, { maxBytes: 1024, maxShots: 2 }),
      "a.png is too large (2 KB). Screenshots can be up to 1 KB.",
    );
    assert.equal(
      shotProblem({ name: "a.png", size: 10 }, PNG, 2, { maxBytes: 1024, maxShots: 2 }),
      "You can attach up to 2 screenshots to a message.",
    );
  });

  it("says each problem once", () => {
    const tooMany = shotText.tooMany(MAX_SHOTS);
    assert.equal(joinProblems(["a.txt is bad.", tooMany, tooMany, ""]), `a.txt is bad. ${tooMany}`);
    assert.equal(joinProblems([]), "");
  });
});

describe("sizeLabel", () => {
  it("writes sizes in KB under a megabyte, else in MB", () => {
    assert.equal(sizeLabel(10), "1 KB");
    assert.equal(sizeLabel(740 * 1024), "740 KB");
    assert.equal(sizeLabel(5 * 1024 * 1024), "5 MB");
    assert.equal(sizeLabel(6.25 * 1024 * 1024), "6.3 MB");
    assert.equal(sizeLabel(1024 * 1024), "1 MB");
    assert.equal(sizeLabel(1024 * 1024 + 1), "1.1 MB");
  });
});

describe("wording", () => {
  it("names images and their controls", () => {
    assert.equal(shotAlt(1, true), "Screenshot 1 from you");
    assert.equal(shotAlt(2, false), "Screenshot 2");
    assert.equal(previewAlt(3, "error.png"), "Screenshot 3: error.png");
    assert.equal(shotText.remove(2), "Remove screenshot 2");
    assert.equal(shotText.uploading(1, 1), "Uploading screenshot…");
    assert.equal(shotText.uploading(2, 3), "Uploading screenshot 2 of 3…");
  });

  it("shows the server's reason for a refused upload, else what its status means", () => {
    assert.equal(
      uploadProblem(
        "a.png",
        new HttpError(
          413,
          "PAYLOAD_TOO_LARGE",
          "the image is 6000000 bytes; the limit is 5242880 bytes",
          null,
        ),
      ),
      "a.png was refused: the image is 6000000 bytes; the limit is 5242880 bytes",
    );
    assert.equal(
      uploadProblem("a.png", new HttpError(413, "", "the server answered 413", null)),
      "a.png is too large for the server.",
    );
    assert.equal(
      uploadProblem("b.png", new HttpError(415, "", "the server answered 415", null)),
      "b.png is not a PNG, JPEG or WebP image.",
    );
    assert.equal(
      uploadProblem("", new NetworkError(true)),
      "The screenshot could not be uploaded: can't reach support right now.",
    );
    assert.equal(uploadProblem("c.png", new Error("x")), "c.png could not be uploaded. Please try again.");
  });
});

describe("messageRequest", () => {
  it("carries the text and the screenshots' ids", () => {
    assert.deepEqual(messageRequest("Here is the problem", ["file_1", "file_2"], null), {
      body: "Here is the problem",
      attachment_ids: ["file_1", "file_2"],
    });
  });

  it("may have no text when it has screenshots, and no ids when it has none", () => {
    assert.deepEqual(messageRequest("", ["file_1"], null), { body: "", attachment_ids: ["file_1"] });
    assert.deepEqual(messageRequest("hi", [], null), { body: "hi" });
  });

  it("adds the page's fields when the page changed", () => {
    assert.deepEqual(
      messageRequest("hi", [], { url: "https://shop.example.com/boots", title: "Boots", context: "" }),
      { body: "hi", page_url: "https://shop.example.com/boots", page_title: "Boots" },
    );
  });
});

describe("uploadedIds", () => {
  it("lists the ids in order once all are uploaded to the conversation", () => {
    assert.deepEqual(uploadedIds([shot("file_1", "conv_1"), shot("file_2", "conv_1")], "conv_1"), [
      "file_1",
      "file_2",
    ]);
    assert.deepEqual(uploadedIds([], "conv_1"), []);
  });

  it("is null while one is not uploaded, or was uploaded to another conversation", () => {
    assert.equal(uploadedIds([shot("file_1", "conv_1"), shot(null, null)], "conv_1"), null);
    assert.equal(uploadedIds([shot("file_1", "conv_old")], "conv_1"), null);
  });
});

describe("filesOf", () => {
  it("turns a file list into an array, and nothing into none", () => {
    const file = new File(["x"], "a.png", { type: "image/png" });
    assert.deepEqual(filesOf({ files: [file] }), [file]);
    assert.deepEqual(filesOf({ files: null }), []);
    assert.deepEqual(filesOf(null), []);
  });
});
