// The words of a failure and the field they belong to, from each kind of answer the API gives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiFailure, describe, forField, fromResponse, fromUserErrors, general } from "../src/lib/problems";

test("a mutation's userErrors name the input's field without the argument", () => {
  const problems = fromUserErrors([
    { field: ["input", "url"], message: "localhost is a local host name", code: "BAD_USER_INPUT" },
    { field: ["input", "domains", "1"], message: "taken", code: "CONFLICT" },
    { field: null, message: "the organization's last owner", code: "CONFLICT" },
    { field: ["id"], message: "no such webhook", code: "NOT_FOUND" },
  ]);
  assert.deepEqual(
    problems.map((p) => p.field),
    ["url", "domains.1", undefined, "id"],
  );
  assert.equal(forField(problems, "url"), "localhost is a local host name");
  assert.deepEqual(
    general(problems, ["url", "domains.1"]).map((p) => p.message),
    ["the organization's last owner", "no such webhook"],
  );
});

test("a REST error body gives its message, its code and the field its message starts with", async () => {
  const response = new Response(
    JSON.stringify({
      error: { code: "BAD_USER_INPUT", message: "password: must be at least 12 characters" },
    }),
    { status: 422 },
  );
  assert.deepEqual(await fromResponse(response), [
    { message: "password: must be at least 12 characters", code: "BAD_USER_INPUT", field: "password" },
  ]);
});

test("an answer that is not JSON is described by its status", async () => {
  const problems = await fromResponse(
    new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }),
  );
  assert.equal(problems[0]?.message, "The server answered 502 Bad Gateway.");
});

test("a network failure says nothing was changed; an ApiFailure keeps its problems", () => {
  assert.match(describe(new TypeError("Failed to fetch"))[0]?.message ?? "", /nothing was changed/);
  const failure = new ApiFailure(
    [{ message: "the agent role may not change webhooks", code: "FORBIDDEN" }],
    403,
  );
  assert.equal(failure.code, "FORBIDDEN");
  assert.equal(describe(failure)[0]?.message, "the agent role may not change webhooks");
});
