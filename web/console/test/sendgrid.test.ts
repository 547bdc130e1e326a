// SendGrid and the other providers connected with a key in the card: what goes with the key (an agent's email, an
// email provider's sender address, or nothing), what the form tells before the server does, the credentials sent,
// which Connect opens a form, and how a connected email provider's card speaks of it.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  accountFacts,
  connectsInCard,
  KEY_ASKS,
  keyAsk,
  keyCredentials,
  keyEmailAsk,
  keyProblems,
  opensConnectForm,
  outcomeNotice,
  providerName,
  testLabel,
} from "../src/lib/integrations";
import { forField, fromUserErrors, general } from "../src/lib/problems";

test("SendGrid's key is an API key with the Mail Send permission, given with its verified sender", () => {
  const ask = keyAsk("SENDGRID");
  assert.equal(ask.noun, "API key");
  assert.equal(ask.email, false);
  assert.equal(ask.intro, null);
  assert.match(
    ask.hint ?? "",
    /In SendGrid: Settings → API Keys → Create API Key, with the Mail Send permission/,
  );
  assert.match(ask.sender ?? "", /An address or domain you verified in SendGrid under Sender Authentication/);
  assert.equal(KEY_ASKS.FRESHDESK?.sender, undefined);
  assert.equal(providerName("sendgrid"), "SendGrid");
  assert.equal(providerName("SENDGRID"), "SendGrid");
  assert.equal(testLabel("EMAIL"), "Send a test message");
});

test("the email a key goes with: the agent's before it, an email provider's sender after it, or none", () => {
  const sender = keyEmailAsk("SENDGRID", "EMAIL", "SendGrid");
  assert.equal(sender?.role, "sender");
  assert.equal(sender?.label, "Sender address");
  assert.equal(sender?.hint, "An address or domain you verified in SendGrid under Sender Authentication.");
  assert.equal(sender?.phrase, "the sender address you verified in SendGrid");
  const agent = keyEmailAsk("ZENDESK", "HELPDESK", "Zendesk");
  assert.equal(agent?.role, "agent");
  assert.equal(agent?.label, "Agent's email");
  assert.equal(agent?.hint, null);
  assert.equal(agent?.missing, "Enter the email of the Zendesk agent the API token belongs to.");
  assert.equal(keyEmailAsk("FRESHDESK", "HELPDESK", "Freshdesk"), null);
  assert.equal(keyEmailAsk("HUBSPOT", "CRM", "HubSpot"), null);
  // Another email provider with a key: a sender too, with words of its own.
  assert.equal(keyEmailAsk("HUBSPOT", "EMAIL", "Mailer")?.hint, "An address Mailer lets you send from.");
});

test("the key form tells a missing key and a sender that is not an address before the server does", () => {
  const ask = keyAsk("SENDGRID");
  const sender = keyEmailAsk("SENDGRID", "EMAIL", "SendGrid");
  assert.deepEqual(
    keyProblems({ apiKey: " SG.key ", email: " support@acme.test " }, ask, sender, "SendGrid"),
    [],
  );
  assert.deepEqual(
    keyProblems({ apiKey: "  ", email: "support" }, ask, sender, "SendGrid").map((p) => [p.field, p.message]),
    [
      ["credentials.apiKey", "Paste the API key from SendGrid."],
      [
        "credentials.email",
        "Enter the sender address you verified in SendGrid, such as support@example.com.",
      ],
    ],
  );
  assert.deepEqual(
    keyProblems({ apiKey: "SG.key", email: "a b@acme.test" }, ask, sender, "SendGrid").map((p) => p.field),
    ["credentials.email"],
  );
  // Zendesk's agent keeps its own check (an @), said before the token's; Freshdesk's key goes alone.
  const zendesk = keyAsk("ZENDESK");
  assert.deepEqual(
    keyProblems(
      { apiKey: "", email: "ada" },
      zendesk,
      keyEmailAsk("ZENDESK", "HELPDESK", "Zendesk"),
      "Zendesk",
    ).map((p) => p.field),
    ["credentials.email", "credentials.apiKey"],
  );
  assert.deepEqual(keyProblems({ apiKey: "fd", email: "" }, keyAsk("FRESHDESK"), null, "Freshdesk"), []);
});

test("the credentials sent: the key trimmed, with the email only when one is asked", () => {
  const sender = keyEmailAsk("SENDGRID", "EMAIL", "SendGrid");
  assert.deepEqual(keyCredentials({ apiKey: " SG.abc \n", email: " support@acme.test " }, sender), {
    email: "support@acme.test",
    apiKey: "SG.abc",
  });
  assert.deepEqual(keyCredentials({ apiKey: "fd-key ", email: "ignored@acme.test" }, null), {
    apiKey: "fd-key",
  });
});

test("Connect opens a form in the card for a key, an account or settings; HubSpot goes to its page at once", () => {
  assert.equal(opensConnectForm({ key: "SENDGRID", authMethods: ["API_KEY"] }), true);
  assert.equal(opensConnectForm({ key: "FRESHDESK", authMethods: ["API_KEY"] }), true);
  assert.equal(opensConnectForm({ key: "ZENDESK", authMethods: ["OAUTH", "API_KEY"] }), true);
  assert.equal(opensConnectForm({ key: "SALESFORCE", authMethods: ["OAUTH"] }), true);
  assert.equal(opensConnectForm({ key: "SMTP", authMethods: [] }), true);
  assert.equal(opensConnectForm({ key: "HUBSPOT", authMethods: ["OAUTH"] }), false);
  assert.equal(connectsInCard({ key: "SENDGRID", authMethods: ["API_KEY"] }), true);
});

test("the server's refusals of a key land beside the API key and the sender address", () => {
  const problems = fromUserErrors([
    {
      field: ["input", "credentials", "apiKey"],
      message: "SendGrid did not accept the connection: give it the Mail Send permission",
      code: "VALIDATION",
    },
    {
      field: ["input", "credentials", "email"],
      message: "must be the sender address verified in SendGrid (Settings → Sender Authentication)",
      code: "VALIDATION",
    },
    { field: ["input", "account"], message: "SendGrid could not be reached", code: "VALIDATION" },
  ]);
  assert.match(forField(problems, "credentials.apiKey") ?? "", /Mail Send permission/);
  assert.match(forField(problems, "credentials.email") ?? "", /Sender Authentication/);
  // Without a subdomain, a reason about the account as a whole goes in the summary.
  assert.deepEqual(
    general(problems, ["credentials", "credentials.email", "credentials.apiKey"]).map((p) => p.field),
    ["account"],
  );
});

test("a connected email provider shows its sender first and its last test at the end", () => {
  const account = [
    { name: "from_address", value: "support@acme.test" },
    { name: "last_test_to", value: "ada@acme.test" },
  ];
  assert.deepEqual(
    accountFacts("SENDGRID", account, "EMAIL").map((f) => [f.name, f.label, f.value]),
    [
      ["sender", "Sender", "support@acme.test"],
      ["last_test_to", "Last test message to", "ada@acme.test"],
    ],
  );
  // Fields of its own keep their names, between the two.
  assert.deepEqual(
    accountFacts(
      "SENDGRID",
      [
        { name: "from_address", value: "s@acme.test" },
        { name: "region", value: "eu" },
      ],
      "EMAIL",
    ).map((f) => f.label),
    ["Sender", "Region"],
  );
  // Without its category, or another category: every field by its name, as before.
  assert.deepEqual(
    accountFacts("SENDGRID", account).map((f) => f.label),
    ["From address", "Last test to"],
  );
  assert.deepEqual(
    accountFacts("ZENDESK", [{ name: "subdomain", value: "acme" }], "HELPDESK").map((f) => f.label),
    ["Subdomain"],
  );
});

test("the outcome added to the address names SendGrid by its name", () => {
  const notice = outcomeNotice(new URLSearchParams("integration=sendgrid&outcome=connected"));
  assert.equal(notice?.provider, "SendGrid");
  assert.equal(notice?.text, "SendGrid is connected.");
});
