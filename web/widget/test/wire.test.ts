// wire.test.ts — reading the visitor API's answers, nested or flattened.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  readContactAnswer,
  readCreated,
  readError,
  readMarketingConsent,
  readMessagePage,
  readPosted,
  readSession,
  readUploadedId,
  readVisitor,
} from "../src/wire";

const message = (id: string, author = "assistant") => ({
  id,
  conversation_id: "conv_1",
  author,
  body: `body of ${id}`,
  created_at: "2025-01-01T00:00:00Z",
});

describe("wire readers", () => {
  it("reads a posted message nested or flattened", () => {
    const nested = readPosted({ message: message("msg_1", "visitor"), replies: [message("msg_2")] });
    const flat = readPosted({ ...message("msg_1", "visitor"), replies: [message("msg_2")] });
    assert.deepEqual(nested, flat);
    assert.equal(nested.message?.id, "msg_1");
    assert.deepEqual(
      nested.replies.map((m) => m.id),
      ["msg_2"],
    );
  });

  it("reads a created conversation nested or flattened", () => {
    const conversation = { id: "conv_1", status: "open", assistant_id: "asst_1" };
    for (const raw of [
      { conversation, initial_message: null, replies: [] },
      { ...conversation, initial_message: null, replies: [] },
    ]) {
      const created = readCreated(raw);
      assert.equal(created.conversation?.id, "conv_1");
      assert.equal(created.initialMessage, null);
      assert.deepEqual(created.replies, []);
    }
  });

  it("reads a session answer with or without a token and a conversation", () => {
    const started = readSession({
      token: "cw_abc",
      session_id: "ses_1",
      expires_at: "2025-02-01T00:00:00Z",
      visitor: { id: "vis_1" },
      assistant: { id: "asst_1", name: "Shop help", widget: { position: "top_left" } },
    });
    assert.equal(started?.token, "cw_abc");
    assert.equal(started?.assistantName, "Shop help");
    assert.equal(started?.conversation, null);
    assert.deepEqual(started?.visitor, { id: "vis_1", name: null, email: null, phone: null });
    assert.equal(started?.marketingConsent, false);
    assert.equal(started?.marketingConsentLabel, null);
    const listed = readSession({
      session_id: "ses_2",
      visitor: { id: "vis_2", marketing_consent: true },
      assistant: { name: "Shop help" },
      marketing_consent_label: " Send me Acme's newsletter ",
    });
    assert.equal(listed?.marketingConsent, true);
    assert.equal(listed?.marketingConsentLabel, "Send me Acme's newsletter");
    assert.equal(
      readSession({ session_id: "ses_3", marketing_consent_label: "  " })?.marketingConsentLabel,
      null,
    );
    assert.equal(readMarketingConsent({ visitor: { id: "vis_1", marketing_consent: false } }), false);
    assert.equal(readMarketingConsent({ id: "vis_1", marketing_consent: true }), true);
    assert.equal(readMarketingConsent({ id: "vis_1" }), null);
    const current = readSession({
      session_id: "ses_1",
      assistant: { name: "Shop help" },
      conversation: { id: "conv_1", status: "handed_off", source_url: "https://a.example/" },
    });
    assert.equal(current?.token, null);
    assert.equal(current?.conversation?.status, "handed_off");
    assert.equal(current?.visitor, null);
    assert.equal(readSession({}), null);
  });

  it("reads the visitor of a contact answer, nested or flattened", () => {
    const visitor = {
      id: "vis_1",
      name: "Ann Lee",
      email: "ann@example.test",
      phone: "+43 1 234 5678",
      created_at: "2025-01-01T00:00:00Z",
      updated_at: "2025-01-02T00:00:00Z",
    };
    const expected = { id: "vis_1", name: "Ann Lee", email: "ann@example.test", phone: "+43 1 234 5678" };
    assert.deepEqual(readContactAnswer({ visitor }), expected);
    assert.deepEqual(readContactAnswer(visitor), expected);
    assert.equal(readContactAnswer({ visitor: { name: "no id" } }), null);
    assert.equal(readContactAnswer(null), null);
    assert.deepEqual(readVisitor({ id: "vis_2", name: 3, email: null }), {
      id: "vis_2",
      name: null,
      email: null,
      phone: null,
    });
  });

  it("skips malformed messages in a page", () => {
    const page = readMessagePage({
      data: [message("msg_1"), { id: 3 }, null, message("msg_2")],
      next_cursor: null,
    });
    assert.deepEqual(
      page.data.map((m) => m.id),
      ["msg_1", "msg_2"],
    );
    assert.equal(page.nextCursor, null);
  });

  it("reads a message's attachments, keeping only those with an id and an http(s) URL", () => {
    const shot = {
      id: "file_1",
      content_type: "image/png",
      byte_size: 123,
      url: "https://support.example.com/attachments/file_1?expires=1&signature=s",
      url_expires_at: "2025-01-01T00:05:00Z",
      created_at: "2025-01-01T00:00:00Z",
    };
    const posted = readPosted({
      ...message("msg_1", "visitor"),
      body: "",
      attachments: [shot, { id: "file_2", url: "javascript:alert(1)" }, { url: "https://x.example/" }, null],
      replies: [],
    });
    assert.equal(posted.message?.body, "");
    assert.deepEqual(posted.message?.attachments, [shot]);
    // Absent when there are none.
    assert.equal(readPosted(message("msg_2")).message?.attachments, undefined);
    assert.equal(
      readPosted({ ...message("msg_4"), attachments: [{ id: "file_9", url: "data:," }] }).message
        ?.attachments,
      undefined,
    );
    const page = readMessagePage({ data: [{ ...message("msg_3", "visitor"), attachments: [shot] }] });
    assert.equal(page.data[0]?.attachments?.[0]?.url, shot.url);
  });

  it("reads an upload's id, flattened or nested", () => {
    assert.equal(readUploadedId({ id: "file_1", content_type: "image/png" }), "file_1");
    assert.equal(readUploadedId({ attachment: { id: "file_2" } }), "file_2");
    assert.equal(readUploadedId({ error: { code: "X", message: "no" } }), null);
    assert.equal(readUploadedId(null), null);
  });

  it("reads error bodies", () => {
    assert.deepEqual(readError({ error: { code: "CONFLICT", message: "closed" } }), {
      code: "CONFLICT",
      message: "closed",
    });
    assert.equal(readError({ nope: 1 }), null);
  });
});
