// follow.test.ts — the live events: dispatch, resuming after the last event id, and ending on 401.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Api, HttpError } from "../src/api";
import { Follower } from "../src/follow";
import type { Conversation, Message } from "../src/wire";

function sse(text: string): Response {
  return new Response(text, { headers: { "Content-Type": "text/event-stream" } });
}

describe("Follower", () => {
  it("dispatches events and reconnects after the last event id", async () => {
    const paths: string[] = [];
    const answers = [
      sse(
        'id: evt_1\nevent: message\ndata: {"id":"msg_1","conversation_id":"c","author":"agent","body":"Hi","created_at":""}\n\n' +
          'id: evt_2\nevent: conversation\ndata: {"id":"c","status":"handed_off"}\n\n',
      ),
    ];
    const messages: Message[] = [];
    const statuses: Conversation[] = [];
    const connected: boolean[] = [];
    let follower: Follower | null = null;
    const second = new Promise<void>((resolve) => {
      const api = {
        stream: async (_method: string, path: string) => {
          paths.push(path);
          if (paths.length === 2) {
            follower?.stop();
            resolve();
          }
          return answers.shift() ?? sse("");
        },
      } as unknown as Api;
      follower = new Follower(api, "c", {
        onMessage: (m) => messages.push(m),
        onConversation: (c) => statuses.push(c),
        onConnected: (resumed) => connected.push(resumed),
        onUnauthorized: () => assert.fail("not unauthorized"),
        onGone: () => assert.fail("not gone"),
      });
      follower.start();
    });
    await second;
    assert.deepEqual(paths, ["/conversations/c/events", "/conversations/c/events?after=evt_2"]);
    assert.deepEqual(
      messages.map((m) => [m.id, m.author, m.body]),
      [["msg_1", "agent", "Hi"]],
    );
    assert.deepEqual(
      statuses.map((c) => c.status),
      ["handed_off"],
    );
    assert.deepEqual(connected, [false]);
  });

  it("stops and reports when the session ended", async () => {
    let calls = 0;
    const api = {
      stream: async () => {
        calls += 1;
        throw new HttpError(401, "UNAUTHENTICATED", "expired", null);
      },
    } as unknown as Api;
    await new Promise<void>((resolve) => {
      const follower = new Follower(api, "c", {
        onMessage: () => {},
        onConversation: () => {},
        onConnected: () => {},
        onUnauthorized: () => resolve(),
        onGone: () => assert.fail("not gone"),
      });
      follower.start();
    });
    assert.equal(calls, 1);
  });

  it("treats the stream's error event for an ended session as unauthorized", async () => {
    const api = {
      stream: async () =>
        sse('event: error\ndata: {"error":{"code":"UNAUTHENTICATED","message":"ended"}}\n\n'),
    } as unknown as Api;
    await new Promise<void>((resolve) => {
      new Follower(api, "c", {
        onMessage: () => {},
        onConversation: () => {},
        onConnected: () => {},
        onUnauthorized: () => resolve(),
        onGone: () => {},
      }).start();
    });
  });
});
