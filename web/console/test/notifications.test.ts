// The Notifications page's helpers: a rule in words, the form's values read from a rule and turned into the input,
// what the form tells before the server does, where the server's errors go, and whether an email integration sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addressesOf,
  EVENT_WORDS,
  EVENTS,
  emailConnected,
  eventsWords,
  filtersWords,
  listWords,
  minutesWords,
  NEW_RULE,
  placeRuleProblems,
  RECIPIENTS,
  recipientsWords,
  ruleInput,
  ruleProblems,
  ruleValuesOf,
  windowWords,
} from "../src/lib/notifications";
import { fromUserErrors } from "../src/lib/problems";

const RULE = {
  name: "Pricing",
  events: ["QUERY_FAILED" as const, "NEW_CONVERSATION" as const],
  recipients: "ADDRESSES" as const,
  addresses: ["billing@acme.test", "sales@acme.test"],
  assistantId: "asst_1",
  pagePath: "/pricing",
  intent: null,
  windowMinutes: 60,
  enabled: true,
};

test("events and recipients have words, in the form's order", () => {
  assert.deepEqual(EVENTS, ["NEW_CONVERSATION", "HANDOFF", "QUERY_FAILED", "NEGATIVE_SENTIMENT"]);
  assert.equal(EVENT_WORDS.QUERY_FAILED, "Unanswered question");
  assert.deepEqual(RECIPIENTS, ["ADMINS", "TEAM", "ADDRESSES"]);
});

test("a rule is said in words: its events, recipients, conversations and window", () => {
  assert.equal(listWords([]), "");
  assert.equal(listWords(["a"]), "a");
  assert.equal(listWords(["a", "b", "c"]), "a, b and c");
  assert.equal(eventsWords(["HANDOFF", "NEW_CONVERSATION"]), "New conversations and hand-offs");
  assert.equal(eventsWords(["NEGATIVE_SENTIMENT"]), "Negative messages");
  assert.equal(eventsWords([]), "No event");
  assert.equal(recipientsWords({ recipients: "ADMINS", addresses: [] }), "The owners and admins");
  assert.equal(recipientsWords({ recipients: "TEAM", addresses: ["x@y.test"] }), "Every active member");
  assert.equal(recipientsWords(RULE), "billing@acme.test and sales@acme.test");
  const assistants = [{ id: "asst_1", name: "Acme bot" }];
  assert.equal(
    filtersWords(RULE, assistants),
    "Conversations with Acme bot and started on a page under /pricing",
  );
  assert.equal(
    filtersWords({ assistantId: "asst_gone", pagePath: null, intent: "refund" }, assistants),
    "Conversations with an assistant that no longer exists and where a visitor showed the intent refund",
  );
  assert.equal(
    filtersWords({ assistantId: null, pagePath: null, intent: null }, assistants),
    "Every conversation",
  );
  assert.equal(minutesWords(1), "1 minute");
  assert.equal(minutesWords(30), "30 minutes");
  assert.equal(minutesWords(60), "1 hour");
  assert.equal(minutesWords(90), "90 minutes");
  assert.equal(minutesWords(120), "2 hours");
  assert.equal(minutesWords(1440), "1 day");
  assert.equal(windowWords(30), "At most one email per conversation and event every 30 minutes");
});

test("addresses are read one per line or separated by commas, trimmed", () => {
  assert.deepEqual(addressesOf(" a@x.test,\nb@x.test ; c@x.test\n\n"), ["a@x.test", "b@x.test", "c@x.test"]);
  assert.deepEqual(addressesOf("  "), []);
});

test("a stored rule is read into the form and back into the whole input", () => {
  const values = ruleValuesOf(RULE);
  assert.deepEqual(values, {
    name: "Pricing",
    events: ["NEW_CONVERSATION", "QUERY_FAILED"],
    recipients: "ADDRESSES",
    addresses: "billing@acme.test\nsales@acme.test",
    assistantId: "asst_1",
    pagePath: "/pricing",
    intent: "",
    windowMinutes: 60,
    enabled: true,
  });
  assert.deepEqual(ruleInput(values), {
    name: "Pricing",
    events: ["NEW_CONVERSATION", "QUERY_FAILED"],
    recipients: "ADDRESSES",
    addresses: ["billing@acme.test", "sales@acme.test"],
    assistantId: "asst_1",
    pagePath: "/pricing",
    intent: null,
    windowMinutes: 60,
    enabled: true,
  });
  // Other recipients keep no addresses; emptied filters are cleared; an empty window is the server's default.
  assert.deepEqual(
    ruleInput({ ...values, recipients: "TEAM", assistantId: "", pagePath: "  ", windowMinutes: null }),
    {
      name: "Pricing",
      events: ["NEW_CONVERSATION", "QUERY_FAILED"],
      recipients: "TEAM",
      addresses: [],
      assistantId: null,
      pagePath: null,
      intent: null,
      enabled: true,
    },
  );
});

test("the form tells a missing name, events or addresses, a bad path and a window out of range", () => {
  assert.deepEqual(
    ruleProblems({ ...NEW_RULE, recipients: "ADDRESSES", pagePath: "pricing", windowMinutes: 0 }).map(
      (p) => p.field,
    ),
    ["name", "events", "addresses", "pagePath", "windowMinutes"],
  );
  assert.match(
    ruleProblems({ ...NEW_RULE, name: "x", events: ["HANDOFF"], recipients: "ADDRESSES" })[0]?.message ?? "",
    /at least one address/,
  );
  const many = Array.from({ length: 21 }, (_, i) => `a${i}@x.test`).join("\n");
  assert.match(
    ruleProblems({ ...NEW_RULE, name: "x", events: ["HANDOFF"], recipients: "ADDRESSES", addresses: many })[0]
      ?.message ?? "",
    /at most 20/,
  );
  assert.deepEqual(
    ruleProblems({ ...NEW_RULE, name: "Admins", events: ["HANDOFF"], windowMinutes: 1440 }),
    [],
  );
  assert.equal(ruleProblems({ ...NEW_RULE, name: "x", events: ["HANDOFF"], windowMinutes: 1441 }).length, 1);
});

test("the server's errors go beside their field, an address with its position", () => {
  const placed = placeRuleProblems(
    fromUserErrors([
      { field: ["input", "addresses", "1"], message: "not an email address", code: "BAD_USER_INPUT" },
      { field: ["input", "pagePath"], message: "must be a path that starts with /", code: "BAD_USER_INPUT" },
      { field: ["input", "windowMinutes"], message: "must be 1 to 1440 minutes", code: "BAD_USER_INPUT" },
      { field: ["input", "events", "0"], message: "unknown event", code: "BAD_USER_INPUT" },
      { field: ["input", "assistantId"], message: "no assistant asst_9", code: "BAD_USER_INPUT" },
      { field: ["id"], message: "no notification rule", code: "NOT_FOUND" },
      { field: null, message: "something else", code: "INTERNAL" },
    ]),
    ["billing@acme.test", "nope"],
  );
  assert.deepEqual(placed.fields, {
    addresses: "Address 2 (nope): not an email address",
    pagePath: "must be a path that starts with /",
    windowMinutes: "must be 1 to 1440 minutes",
    events: "unknown event",
    assistantId: "no assistant asst_9",
  });
  assert.deepEqual(
    placed.general.map((p) => p.message),
    ["no notification rule", "something else"],
  );
  // The whole list, and the server's own spelling of a path.
  assert.deepEqual(
    placeRuleProblems([
      { field: "addresses", message: "list at least one address" },
      { field: "page_path", message: "bad" },
    ]).fields,
    { addresses: "list at least one address", pagePath: "bad" },
  );
});

test("rules send only through a connected email integration", () => {
  assert.equal(emailConnected([]), false);
  assert.equal(
    emailConnected([
      { category: "EMAIL", integration: null },
      { category: "CRM", integration: { status: "CONNECTED" } },
    ]),
    false,
  );
  assert.equal(emailConnected([{ category: "EMAIL", integration: { status: "ERROR" } }]), false);
  assert.equal(emailConnected([{ category: "EMAIL", integration: { status: "CONNECTED" } }]), true);
});
