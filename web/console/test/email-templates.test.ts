// The Visitor emails page's helpers: the emails in words, the form's values read from an email and turned into the
// input (only what changed; a part emptied or made the default again goes back to it), the preview's draft, what the
// form tells before the server does, where a save's or a preview's errors go, which integration sends them, and the
// preview's HTML made showable under the console's CSP.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  inertStyles,
  KINDS,
  mailerName,
  mistakeWords,
  partsWords,
  placeTemplateProblems,
  previewDraft,
  type StoredTemplate,
  templateInput,
  templateProblems,
  templateValuesOf,
  whenWords,
} from "../src/lib/email-templates";
import { fromUserErrors } from "../src/lib/problems";

const DEFAULTS = {
  subject: "Your conversation with {{ organization }}",
  text: "Hello,\n",
  html: "<p>Hello,</p>",
};

const TRANSCRIPT: StoredTemplate = {
  kind: "TRANSCRIPT",
  subject: "Your chat with {{ organization }}",
  text: DEFAULTS.text,
  html: DEFAULTS.html,
  defaults: DEFAULTS,
  sendgridTemplateId: null,
  delayHours: null,
};

const FOLLOW_UP: StoredTemplate = {
  ...TRANSCRIPT,
  kind: "FOLLOW_UP",
  subject: DEFAULTS.subject,
  delayHours: 24,
};

test("the emails are in the page's order, each said with when it is sent", () => {
  assert.deepEqual(KINDS, ["WELCOME", "TRANSCRIPT", "FOLLOW_UP", "SATISFACTION_SURVEY"]);
  assert.match(whenWords("WELCOME"), /first leaves their email address/);
  assert.equal(
    whenWords("FOLLOW_UP", 1),
    "1 hour after a conversation is resolved, to ask whether everything is sorted.",
  );
  assert.match(whenWords("FOLLOW_UP", null), /^24 hours after/);
});

test("which parts are the organization's own, in words", () => {
  const parts = (customSubject: boolean, customText: boolean, customHtml: boolean) =>
    partsWords({ customSubject, customText, customHtml });
  assert.equal(parts(false, false, false), "The default template.");
  assert.equal(parts(true, true, false), "Your own subject and plain text; the default HTML.");
  assert.equal(parts(false, false, true), "Your own HTML; the default subject and plain text.");
  assert.equal(parts(true, true, true), "Your own subject, plain text and HTML.");
});

test("an email's form starts from its parts as sent, and the follow-up's wait", () => {
  assert.deepEqual(templateValuesOf(TRANSCRIPT), {
    subject: "Your chat with {{ organization }}",
    text: DEFAULTS.text,
    html: DEFAULTS.html,
    sendgridTemplateId: "",
    delayHours: null,
  });
  assert.equal(templateValuesOf({ ...FOLLOW_UP, delayHours: null }).delayHours, 24);
  assert.equal(templateValuesOf({ ...FOLLOW_UP, delayHours: 48 }).delayHours, 48);
});

test("only what changed is saved; an emptied part, or the default again, goes back to the default", () => {
  const values = templateValuesOf(TRANSCRIPT);
  assert.deepEqual(templateInput(TRANSCRIPT, values), {});
  assert.deepEqual(templateInput(TRANSCRIPT, { ...values, text: "Hi {{ visitor.first_name }}" }), {
    text: "Hi {{ visitor.first_name }}",
  });
  assert.deepEqual(templateInput(TRANSCRIPT, { ...values, subject: "  " }), { subject: null });
  assert.deepEqual(templateInput(TRANSCRIPT, { ...values, subject: DEFAULTS.subject }), { subject: null });
  assert.deepEqual(templateInput(TRANSCRIPT, { ...values, sendgridTemplateId: " d-ABC " }), {
    sendgridTemplateId: "d-ABC",
  });
  assert.deepEqual(
    templateInput({ ...TRANSCRIPT, sendgridTemplateId: "d-abc" }, { ...values, sendgridTemplateId: "" }),
    { sendgridTemplateId: null },
  );
  // The wait only for the follow-up, and only when it changed.
  assert.deepEqual(templateInput(FOLLOW_UP, { ...templateValuesOf(FOLLOW_UP), delayHours: 48 }), {
    delayHours: 48,
  });
  assert.deepEqual(templateInput(FOLLOW_UP, templateValuesOf(FOLLOW_UP)), {});
  assert.deepEqual(templateInput(TRANSCRIPT, { ...values, delayHours: 3 }), {});
});

test("a preview renders the parts as typed, an emptied one as the default", () => {
  const values = { ...templateValuesOf(TRANSCRIPT), text: "" };
  assert.deepEqual(previewDraft(TRANSCRIPT, values), {
    subject: "Your chat with {{ organization }}",
    text: DEFAULTS.text,
    html: DEFAULTS.html,
  });
});

test("the form tells a multi-line subject, a malformed SendGrid id and a wait out of range", () => {
  const values = templateValuesOf(TRANSCRIPT);
  assert.deepEqual(templateProblems("TRANSCRIPT", values), []);
  assert.deepEqual(
    templateProblems("TRANSCRIPT", { ...values, sendgridTemplateId: `d-${"a1".repeat(16)}` }),
    [],
  );
  assert.deepEqual(
    templateProblems("TRANSCRIPT", { ...values, subject: "a\nb", sendgridTemplateId: "d-123" }).map(
      (p) => p.field,
    ),
    ["subject", "sendgridTemplateId"],
  );
  const followUp = templateValuesOf(FOLLOW_UP);
  for (const delayHours of [null, 0, 721, 1.5]) {
    assert.deepEqual(
      templateProblems("FOLLOW_UP", { ...followUp, delayHours }).map((p) => p.field),
      ["delayHours"],
      String(delayHours),
    );
  }
  assert.deepEqual(templateProblems("FOLLOW_UP", { ...followUp, delayHours: 720 }), []);
});

test("a save's errors and a preview's go beside the part they name, in words", () => {
  const saved = placeTemplateProblems(
    fromUserErrors([
      {
        field: ["input", "text"],
        message:
          "the transcript template: syntax error: unexpected end of input, expected end of block (line 1)",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "sendgridTemplateId"],
        message: "is not a SendGrid dynamic template id",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "delay_hours"],
        message: "must be 1 to 720 hours (30 days)",
        code: "BAD_USER_INPUT",
      },
      { field: null, message: "something else", code: "CONFLICT" },
    ]),
  );
  assert.deepEqual(saved.fields, {
    text: "Syntax error: unexpected end of input, expected end of block (line 1)",
    sendgridTemplateId: "Is not a SendGrid dynamic template id",
    delayHours: "Must be 1 to 720 hours (30 days)",
  });
  assert.deepEqual(
    saved.general.map((p) => p.message),
    ["something else"],
  );
  // A preview's mistake is a GraphQL error whose message names the part first.
  const previewed = placeTemplateProblems([
    {
      message: "html: the follow_up template: undefined filter: filter shout is unknown (line 3)",
      code: "BAD_USER_INPUT",
    },
    { message: "The server cannot be reached. Check your connection; nothing was changed.", code: "NETWORK" },
  ]);
  assert.deepEqual(previewed.fields, { html: "Undefined filter: filter shout is unknown (line 3)" });
  assert.equal(previewed.general.length, 1);
  assert.equal(mistakeWords("the welcome template: syntax error"), "Syntax error");
});

test("the emails go through a connected SMTP server or SendGrid, never a mailing list", () => {
  const provider = (
    key: "SMTP" | "SENDGRID" | "MAILCHIMP",
    name: string,
    status: "CONNECTED" | "ERROR" | null,
  ) => ({
    key,
    name,
    category: "EMAIL" as const,
    integration: status ? { status } : null,
  });
  assert.equal(
    mailerName([provider("SMTP", "Custom SMTP", null), provider("MAILCHIMP", "Mailchimp", "CONNECTED")]),
    null,
  );
  assert.equal(mailerName([provider("SENDGRID", "SendGrid", "ERROR")]), null);
  assert.equal(
    mailerName([provider("SMTP", "Custom SMTP", null), provider("SENDGRID", "SendGrid", "CONNECTED")]),
    "SendGrid",
  );
});

test("a preview's style attributes are renamed, and nothing else", () => {
  assert.equal(
    inertStyles(
      '<body style="margin:0"><p STYLE=\'color:red\' class="a">Hi style="x" <b>there</b></p></body>',
    ),
    '<body data-preview-style="margin:0"><p data-preview-style=\'color:red\' class="a">Hi style="x" <b>there</b></p></body>',
  );
  // Quoted values may hold `>` and `style=`; a value-less attribute, an unquoted one and a self-closing tag.
  assert.equal(
    inertStyles(
      '<a title="a > b style=c" style=x hidden href=/y/>z</a><br/><img alt="" style="width:1px" />',
    ),
    '<a title="a > b style=c" data-preview-style=x hidden href=/y/>z</a><br/><img alt="" data-preview-style="width:1px" />',
  );
  // Comments, raw text and a lone `<` are kept.
  const kept =
    '<!-- <p style="x"> --><style>p[style] { color: red }</style>1 < 2 <script>a<b style=1</script>';
  assert.equal(inertStyles(kept), kept);
  assert.equal(inertStyles("plain text"), "plain text");
  assert.equal(inertStyles('<p style="unterminated'), '<p data-preview-style="unterminated');
});
