// api.test.ts — the visitor API client: headers, error bodies, Retry-After, the timeout.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Api, HttpError, isTransient, NetworkError } from "../src/api";

type Call = { url: string; init: RequestInit };

function withFetch(impl: (url: string, init: RequestInit) => Promise<Response>): Call[] {
  const calls: Call[] = [];
  globalThis.fetch = ((url: string, init: RequestInit) => {
    calls.push({ url, init });
    return impl(url, init);
  }) as typeof fetch;
  return calls;
}

describe("Api", () => {
  it("sends JSON with the bearer token to {origin}/widget/v1", async () => {
    const calls = withFetch(async () => new Response(JSON.stringify({ ok: 1 }), { status: 201 }));
    const api = new Api("https://support.example.com", () => "cw_token");
    assert.deepEqual(await api.json("POST", "/sessions", { assistant_id: "asst_1" }), { ok: 1 });
    const call = calls[0] as Call;
    assert.equal(call.url, "https://support.example.com/widget/v1/sessions");
    assert.equal(call.init.method, "POST");
    assert.equal(call.init.credentials, "omit");
    const headers = call.init.headers as Record<string, string>;
    assert.equal(headers.Authorization, "Bearer cw_token");
    assert.equal(headers["Content-Type"], "application/json");
    assert.equal(headers.Accept, "application/json");
    assert.equal(call.init.body, '{"assistant_id":"asst_1"}');
  });

  it("omits the token and the body when there are none; a 204 reads as null", async () => {
    const calls = withFetch(async () => new Response(null, { status: 204 }));
    assert.equal(await new Api("https://s.example", () => null).json("DELETE", "/session"), null);
    const headers = (calls[0] as Call).init.headers as Record<string, string>;
    assert.equal(headers.Authorization, undefined);
    assert.equal(headers["Content-Type"], undefined);
  });

  it("turns an error status into an HttpError with the server's message and Retry-After", async () => {
    withFetch(
      async () =>
        new Response(
          JSON.stringify({
            error: { code: "RATE_LIMITED", message: "rate limit exceeded; retry after 7 s" },
          }),
          {
            status: 429,
            headers: { "Retry-After": "7" },
          },
        ),
    );
    const error = await new Api("https://s.example", () => null).json("GET", "/session").then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 429);
    assert.equal(error.code, "RATE_LIMITED");
    assert.equal(error.message, "rate limit exceeded; retry after 7 s");
    assert.equal(error.retryAfterMs, 7000);
    assert.equal(isTransient(error), true);
  });

  it("says what a non-JSON error page was", async () => {
    withFetch(async () => new Response("<html>Bad gateway</html>", { status: 502 }));
    const error = await new Api("https://s.example", () => null)
      .json("GET", "/session")
      .catch((e: unknown) => e);
    assert.ok(error instanceof HttpError);
    assert.equal(error.message, "the server answered 502");
    assert.equal(isTransient(error), true);
    assert.equal(isTransient(new HttpError(403, "FORBIDDEN", "no", null)), false);
  });

  it("times out a server that does not answer", async () => {
    withFetch(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
    );
    const error = await new Api("https://s.example", () => null)
      .json("GET", "/session", undefined, { timeoutMs: 30 })
      .catch((e: unknown) => e);
    assert.ok(error instanceof NetworkError);
    assert.equal(error.timedOut, true);
    assert.equal(isTransient(error), true);
  });

  it("reports a network failure, and a caller's abort as not worth retrying", async () => {
    withFetch(async () => {
      throw new TypeError("Failed to fetch");
    });
    const failed = await new Api("https://s.example", () => null)
      .json("GET", "/session")
      .catch((e: unknown) => e);
    assert.ok(failed instanceof NetworkError);
    assert.equal(failed.timedOut, false);
    const controller = new AbortController();
    controller.abort();
    const aborted = await new Api("https://s.example", () => null)
      .stream("GET", "/conversations/c/events", undefined, { signal: controller.signal })
      .catch((e: unknown) => e);
    assert.ok(aborted instanceof NetworkError);
    assert.equal(isTransient(aborted), false);
  });

  it("uploads raw bytes with their own type and the token, and reads the JSON answer", async () => {
    const calls = withFetch(
      async () => new Response(JSON.stringify({ id: "file_1", content_type: "image/png" }), { status: 201 }),
    );
    const file = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: "image/png" });
    const answer = await new Api("https://s.example", () => "cw_t").upload(
      "/conversations/conv_1/attachments",
      file,
    );
    assert.deepEqual(answer, { id: "file_1", content_type: "image/png" });
    const call = calls[0] as Call;
    assert.equal(call.url, "https://s.example/widget/v1/conversations/conv_1/attachments");
    assert.equal(call.init.method, "POST");
    assert.equal(call.init.body, file);
    const headers = call.init.headers as Record<string, string>;
    assert.equal(headers.Authorization, "Bearer cw_t");
    assert.equal(headers["Content-Type"], "image/png");
    assert.equal(headers.Accept, "application/json");
    withFetch(async () => new Response(null, { status: 201 }));
    await new Api("https://s.example", () => "cw_t").upload("/x", new Blob(["x"]));
  });

  it("turns a refused upload into an HttpError with the server's message", async () => {
    const calls = withFetch(
      async () =>
        new Response(
          JSON.stringify({ error: { code: "UNSUPPORTED_MEDIA_TYPE", message: "the body is not a PNG" } }),
          { status: 415 },
        ),
    );
    const error = await new Api("https://s.example", () => "cw_t")
      .upload("/conversations/conv_1/attachments", new Blob(["not an image"]))
      .catch((e: unknown) => e);
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 415);
    assert.equal(error.message, "the body is not a PNG");
    assert.equal(isTransient(error), false);
    assert.equal(
      ((calls[0] as Call).init.headers as Record<string, string>)["Content-Type"],
      "application/octet-stream",
    );
  });

  it("asks for an event stream and hands back the open response", async () => {
    const calls = withFetch(
      async () =>
        new Response("event: delta\ndata: {}\n\n", { headers: { "Content-Type": "text/event-stream" } }),
    );
    const response = await new Api("https://s.example", () => "cw_t").stream(
      "POST",
      "/conversations/c/messages",
      {
        body: "hi",
      },
    );
    assert.equal(((calls[0] as Call).init.headers as Record<string, string>).Accept, "text/event-stream");
    assert.equal(await response.text(), "event: delta\ndata: {}\n\n");
  });
});
