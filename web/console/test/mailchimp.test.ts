// Mailchimp, the mailing list: how its card speaks of it (no sender, no test message), the changes its settings form
// sends, where the server's errors go, and the visitor's consent in words.
import assert from "node:assert/strict";
import { test } from "node:test";
import { consentWords } from "../src/lib/conversations";
import {
  type AudienceValues,
  accountFacts,
  accountLabel,
  audienceChanges,
  audienceValuesOf,
  audienceWords,
  disconnectWords,
  keepsMailingList,
  MERGE_SOURCES,
  OPT_IN_WORDS,
  placeAudienceProblems,
  providerName,
  RUN_KIND_WORDS,
  sendsMail,
  statusHint,
  testLabel,
  testOutcomeWords,
} from "../src/lib/integrations";
import { emailConnected } from "../src/lib/notifications";
import { fromUserErrors } from "../src/lib/problems";

test("Mailchimp keeps a mailing list: email, but it sends nothing and its test calls Mailchimp", () => {
  assert.equal(providerName("mailchimp"), "Mailchimp");
  assert.equal(providerName("MAILCHIMP"), "Mailchimp");
  assert.equal(keepsMailingList("MAILCHIMP"), true);
  assert.equal(keepsMailingList("SENDGRID"), false);
  assert.equal(sendsMail("MAILCHIMP", "EMAIL"), false);
  assert.equal(sendsMail("SENDGRID", "EMAIL"), true);
  assert.equal(sendsMail("HUBSPOT", "CRM"), false);
  assert.equal(testLabel("EMAIL", "MAILCHIMP"), "Test connection");
  assert.equal(testLabel("EMAIL", "SENDGRID"), "Send a test message");
  assert.equal(
    testOutcomeWords(
      "EMAIL",
      true,
      "Connected to Mailchimp account Acme Shop (data centre us6); 2 audiences",
      "MAILCHIMP",
    ),
    "The connection works: Connected to Mailchimp account Acme Shop (data centre us6); 2 audiences",
  );
  assert.match(statusHint("CONNECTED", "EMAIL", "MAILCHIMP"), /agree to hear from you/);
  assert.match(statusHint("CONNECTED", "EMAIL", "SENDGRID"), /Invitations/);
  assert.match(statusHint("CONNECTED", "EMAIL"), /Invitations/);
  assert.match(disconnectWords("EMAIL", "Mailchimp", "MAILCHIMP"), /consent checkbox/);
  assert.equal(RUN_KIND_WORDS.AUDIENCE_SYNC, "Mailing list");
  assert.equal(
    emailConnected([{ key: "MAILCHIMP", category: "EMAIL", integration: { status: "CONNECTED" } }]),
    false,
    "Mailchimp sends no notification",
  );
  assert.equal(
    emailConnected([{ key: "SENDGRID", category: "EMAIL", integration: { status: "CONNECTED" } }]),
    true,
  );
});

test("a Mailchimp card shows its account, login, data centre and endpoint, and no sender", () => {
  const account = [
    { name: "api_endpoint", value: "https://us6.api.mailchimp.com" },
    { name: "dc", value: "us6" },
    { name: "account_name", value: "Acme Shop" },
    { name: "login_email", value: "ada@acme.test" },
  ];
  assert.deepEqual(
    accountFacts("MAILCHIMP", account, "EMAIL").map((f) => [f.label, f.value]),
    [
      ["Account", "Acme Shop"],
      ["Login", "ada@acme.test"],
      ["Data centre", "us6"],
      ["API endpoint", "https://us6.api.mailchimp.com"],
    ],
  );
  assert.equal(accountLabel("dc"), "Data centre");
});

const STORED: AudienceValues = audienceValuesOf({
  audienceId: null,
  optIn: "DOUBLE",
  tagSources: ["INTENT", "PAGE", "ASSISTANT"],
  tags: [],
  mergeFields: [
    { tag: "FNAME", source: "VISITOR_FIRST_NAME", default: null },
    { tag: "LNAME", source: "VISITOR_LAST_NAME", default: null },
  ],
  consentLabel: "Email me news and offers",
});

test("the settings form sends only what changed", () => {
  assert.equal(STORED.audienceId, "");
  assert.deepEqual(audienceChanges(STORED, STORED), {});
  assert.deepEqual(
    audienceChanges(STORED, {
      ...STORED,
      audienceId: "a1b2c3d4e5",
      optIn: "SINGLE",
      tags: ["website"],
      consentLabel: " Send me Acme's newsletter ",
    }),
    {
      audienceId: "a1b2c3d4e5",
      optIn: "SINGLE",
      tags: ["website"],
      consentLabel: "Send me Acme's newsletter",
    },
  );
  // No audience clears it; the sources keep the form's order.
  assert.deepEqual(audienceChanges({ ...STORED, audienceId: "a1b2c3d4e5" }, STORED), { audienceId: null });
  assert.deepEqual(audienceChanges(STORED, { ...STORED, tagSources: ["ASSISTANT", "INTENT"] }), {
    tagSources: ["INTENT", "ASSISTANT"],
  });
  // The merge fields go whole, trimmed, an empty default as none.
  assert.deepEqual(
    audienceChanges(STORED, {
      ...STORED,
      mergeFields: [
        ...STORED.mergeFields,
        { tag: " company ", source: "PAGE_TITLE", default: " Independent " },
      ],
    }).mergeFields,
    [
      { tag: "FNAME", source: "VISITOR_FIRST_NAME", default: null },
      { tag: "LNAME", source: "VISITOR_LAST_NAME", default: null },
      { tag: "company", source: "PAGE_TITLE", default: "Independent" },
    ],
  );
  assert.equal(MERGE_SOURCES.includes("VISITOR_EMAIL"), false);
  assert.equal(OPT_IN_WORDS.DOUBLE, "Visitors confirm by email (recommended)");
});

test("the server's errors go beside the merge field cell, the setting or the summary", () => {
  const placed = placeAudienceProblems([
    ...fromUserErrors([
      {
        field: ["input", "audience", "mergeFields", "0", "tag"],
        message: '"NOT A TAG!" is not a merge tag: up to 10 letters, digits or _ (FNAME, COMPANY)',
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "audience", "audienceId"],
        message: "no audience 0000000000",
        code: "BAD_USER_INPUT",
      },
      { field: ["input", "audience", "tags", "1"], message: "must be a tag", code: "BAD_USER_INPUT" },
    ]),
    { field: "audience.merge_fields[2].source", message: "the email address is the member itself" },
    { field: "audience.consent_label", message: "must be 1 to 200 characters on one line" },
    { field: "audience", message: "HubSpot keeps no mailing list" },
  ]);
  assert.match(placed.mergeFields[0]?.tag ?? "", /is not a merge tag/);
  assert.equal(placed.mergeFields[2]?.source, "the email address is the member itself");
  assert.equal(placed.fields.audienceId, "no audience 0000000000");
  assert.equal(placed.fields.tags, "Tag 2: must be a tag");
  assert.equal(placed.fields.consentLabel, "must be 1 to 200 characters on one line");
  assert.deepEqual(
    placed.general.map((p) => p.message),
    ["HubSpot keeps no mailing list"],
  );
});

test("an audience and a visitor's consent in words", () => {
  assert.equal(
    audienceWords({ name: "Acme newsletter", memberCount: 1234 }),
    "Acme newsletter (1,234 members)",
  );
  assert.equal(audienceWords({ name: "Partners", memberCount: 1 }), "Partners (1 member)");
  const when = (iso: string) => iso.slice(0, 10);
  assert.equal(
    consentWords({ marketingConsent: true, marketingConsentAt: "2026-12-06T10:00:00Z" }, when),
    "Given on 2026-12-06",
  );
  assert.equal(consentWords({ marketingConsent: false, marketingConsentAt: null }, when), "Not given");
  assert.equal(
    consentWords({ marketingConsent: false, marketingConsentAt: "2026-12-07T10:00:00Z" }, when),
    "Withdrawn on 2026-12-07",
  );
});
