// The custom SMTP server's helpers on the Integrations page: how it is connected (neither OAuth nor a key), its
// settings typed in and read back, what the form tells before the server does, where the server's refusals go, and
// how a connected card, its test and its disconnection speak of it.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  accountFacts,
  connectsInCard,
  connectsWithSettings,
  disconnectWords,
  NO_SMTP,
  placeSmtpProblems,
  providerName,
  SMTP_PORTS,
  SMTP_SECURITIES,
  SMTP_SECURITY_HINTS,
  smtpInput,
  smtpProblems,
  smtpSecurityOf,
  smtpSenderWords,
  smtpServerWords,
  smtpValuesOf,
  statusHint,
  testLabel,
  testOutcomeWords,
} from "../src/lib/integrations";
import { fromUserErrors } from "../src/lib/problems";

const ACCOUNT = [
  { name: "host", value: "smtp.example.com" },
  { name: "port", value: "2525" },
  { name: "security", value: "starttls" },
  { name: "username", value: "mailer" },
  { name: "from_address", value: "support@acme.test" },
  { name: "from_name", value: "Acme Support" },
];

test("a custom SMTP server is connected with its settings in the card, and again from there", () => {
  assert.equal(connectsWithSettings("SMTP"), true);
  assert.equal(connectsWithSettings("ZENDESK"), false);
  assert.equal(connectsWithSettings("HUBSPOT"), false);
  assert.equal(connectsInCard({ key: "SMTP", authMethods: [] }), true);
  assert.equal(connectsInCard({ key: "FRESHDESK", authMethods: ["API_KEY"] }), true);
  assert.equal(connectsInCard({ key: "HUBSPOT", authMethods: ["OAUTH"] }), false);
  assert.equal(providerName("smtp"), "Custom SMTP");
});

test("each way of protecting the connection has words and its usual port", () => {
  assert.deepEqual(SMTP_SECURITIES, ["STARTTLS", "TLS", "NONE"]);
  assert.deepEqual(SMTP_PORTS, { STARTTLS: 587, TLS: 465, NONE: 25 });
  assert.match(SMTP_SECURITY_HINTS.NONE, /127\.0\.0\.1/);
  assert.equal(smtpSecurityOf("starttls"), "STARTTLS");
  assert.equal(smtpSecurityOf("tls"), "TLS");
  assert.equal(smtpSecurityOf("none"), "NONE");
  assert.equal(smtpSecurityOf(""), "STARTTLS");
  assert.equal(smtpSecurityOf("ssl"), "STARTTLS");
});

test("the stored settings are read back without a password, and without a port the account lacks", () => {
  assert.deepEqual(smtpValuesOf(ACCOUNT), {
    host: "smtp.example.com",
    port: 2525,
    security: "STARTTLS",
    username: "mailer",
    password: "",
    fromAddress: "support@acme.test",
    fromName: "Acme Support",
    caCertificate: "",
  });
  const withoutPort = smtpValuesOf(ACCOUNT.filter((f) => f.name !== "port"));
  assert.equal(withoutPort.port, null);
  assert.deepEqual(smtpValuesOf([]), NO_SMTP);
});

test("the settings become the input trimmed, an empty password and port left out", () => {
  assert.deepEqual(
    smtpInput({
      host: " smtp.example.com ",
      port: 587,
      security: "STARTTLS",
      username: " mailer ",
      password: " s3cret ",
      fromAddress: " support@acme.test",
      fromName: "Acme Support ",
      caCertificate: "  ",
    }),
    {
      host: "smtp.example.com",
      port: 587,
      security: "STARTTLS",
      username: "mailer",
      password: " s3cret ",
      fromAddress: "support@acme.test",
      fromName: "Acme Support",
    },
  );
  const kept = smtpInput({
    ...smtpValuesOf(ACCOUNT),
    port: null,
    caCertificate: "-----BEGIN CERTIFICATE-----\n",
  });
  assert.equal("password" in kept, false, "an empty password keeps the stored one");
  assert.equal("port" in kept, false, "no port: the usual one");
  assert.equal(kept.caCertificate, "-----BEGIN CERTIFICATE-----");
});

test("the form tells a missing host or sender, a bad port and a user without a password", () => {
  const found = smtpProblems({ ...NO_SMTP, port: 70000, username: "mailer", fromAddress: "support" }, false);
  assert.deepEqual(
    found.map((p) => p.field),
    ["smtp.host", "smtp.port", "smtp.password", "smtp.fromAddress"],
  );
  // A reconnection keeps the stored password when none is typed.
  assert.deepEqual(smtpProblems(smtpValuesOf(ACCOUNT), true), []);
  assert.deepEqual(
    smtpProblems(smtpValuesOf(ACCOUNT), false).map((p) => p.field),
    ["smtp.password"],
  );
  // Without a user, no password is needed; a port left empty is the usual one.
  assert.deepEqual(
    smtpProblems({ ...NO_SMTP, host: "127.0.0.1", security: "NONE", fromAddress: "a@b.test" }, false),
    [],
  );
  assert.equal(smtpProblems({ ...NO_SMTP, host: "h", fromAddress: "a@b.test", port: 2.5 }, false).length, 1);
});

test("the server's refusals go beside their field, in either spelling of its path", () => {
  const placed = placeSmtpProblems(
    fromUserErrors([
      {
        field: ["input", "smtp", "password"],
        message:
          "the SMTP server did not accept the connection: 535 5.7.8 Authentication credentials invalid",
        code: "BAD_USER_INPUT",
      },
      { field: ["input", "smtp", "host"], message: "cannot connect", code: "BAD_USER_INPUT" },
      { field: ["input", "smtp", "fromAddress"], message: "must be an address", code: "BAD_USER_INPUT" },
      { field: ["input", "smtp"], message: "give the settings", code: "BAD_USER_INPUT" },
      { field: ["input", "provider"], message: "unknown provider", code: "BAD_USER_INPUT" },
      { field: ["input", "smtp", "host"], message: "a second reason", code: "BAD_USER_INPUT" },
    ]),
  );
  assert.deepEqual(placed.fields, {
    password: "the SMTP server did not accept the connection: 535 5.7.8 Authentication credentials invalid",
    host: "cannot connect",
    fromAddress: "must be an address",
  });
  assert.deepEqual(
    placed.general.map((p) => p.message),
    ["give the settings", "unknown provider"],
  );
  assert.deepEqual(placeSmtpProblems([{ field: "smtp.ca_certificate", message: "not PEM" }]).fields, {
    caCertificate: "not PEM",
  });
});

test("a connected SMTP server is shown by its sender and server, never its certificate", () => {
  assert.equal(smtpSenderWords(ACCOUNT), "Acme Support <support@acme.test>");
  assert.equal(smtpSenderWords([{ name: "from_address", value: "a@b.test" }]), "a@b.test");
  assert.equal(smtpServerWords(ACCOUNT), "smtp.example.com:2525 with STARTTLS");
  assert.equal(
    smtpServerWords([
      { name: "host", value: "localhost" },
      { name: "security", value: "none" },
    ]),
    "localhost without encryption",
  );
  const facts = accountFacts("SMTP", [
    ...ACCOUNT,
    { name: "ca_certificate", value: "-----BEGIN CERTIFICATE-----\nMIIB…" },
    { name: "last_test_to", value: "ada@acme.test" },
  ]);
  assert.deepEqual(
    facts.map((f) => [f.label, f.value]),
    [
      ["Sender", "Acme Support <support@acme.test>"],
      ["Server", "smtp.example.com:2525 with STARTTLS"],
      ["Signs in as", "mailer"],
      ["Certificate authority", "Your own, beside the public ones"],
      ["Last test message to", "ada@acme.test"],
    ],
  );
  assert.equal(
    accountFacts(
      "SMTP",
      ACCOUNT.filter((f) => f.name !== "username"),
    ).find((f) => f.name === "username")?.value,
    "No one: the server takes mail without signing in",
  );
  // Another provider's fields keep their names.
  assert.deepEqual(accountFacts("HUBSPOT", [{ name: "portal_id", value: "62515" }]), [
    { name: "portal_id", label: "Portal ID", value: "62515" },
  ]);
});

test("an email provider's test sends a message, and says so in the server's words", () => {
  assert.equal(testLabel("EMAIL"), "Send a test message");
  assert.equal(testLabel("CRM"), "Test connection");
  const sent =
    "Sent a test message to ada@acme.test through smtp.example.com:587 with STARTTLS; the server answered: 250 2.0.0 Ok: queued as 4B2";
  assert.equal(testOutcomeWords("EMAIL", true, sent), sent);
  assert.equal(testOutcomeWords("EMAIL", true, ""), "The test message was sent.");
  assert.equal(
    testOutcomeWords("EMAIL", false, "the server refused: 550 5.7.1 relaying denied"),
    "The test message was not sent: the server refused: 550 5.7.1 relaying denied",
  );
  assert.equal(
    testOutcomeWords("CRM", true, "HubSpot account 62515"),
    "The connection works: HubSpot account 62515",
  );
  assert.equal(testOutcomeWords("HELPDESK", false, " "), "The test failed.");
});

test("an email integration's status and disconnection speak of invitations and notifications", () => {
  assert.match(statusHint("CONNECTED", "EMAIL"), /Invitations and the team's notifications/);
  assert.match(disconnectWords("EMAIL", "Custom SMTP"), /notification rules send nothing/);
  assert.match(disconnectWords("CRM", "HubSpot"), /asks HubSpot to revoke/);
});
