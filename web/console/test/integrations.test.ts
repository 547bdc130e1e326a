// The Integrations page's helpers: the outcome the vendor's callback adds to the address, the account a
// reconnection reuses, the changes a settings form sends, where the server's errors go, and enums in words.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ASSIGNMENT_MODE_WORDS,
  ASSIGNMENT_MODES,
  accountChoiceOf,
  accountInput,
  accountLabel,
  asksAccount,
  asksRegion,
  asksSubdomain,
  assignmentInput,
  assignsByRules,
  assignsToAgents,
  byCategory,
  CASE_TRIGGER_WORDS,
  type CrmValues,
  connectAction,
  crmChanges,
  ERROR_CLASS_WORDS,
  type HelpdeskValues,
  helpdeskChanges,
  helpdeskValuesOf,
  INTERCOM_REGIONS,
  KEY_ASKS,
  keyAsk,
  listOf,
  NO_CHOICE,
  outcomeNotice,
  placeCrmProblems,
  placeHelpdeskProblems,
  planRefusalWords,
  providerName,
  RUN_KIND_WORDS,
  reauthorizationWords,
  SOURCE_WORDS,
  SOURCES,
  STATUS_WORDS,
  statusHint,
  TICKET_TRIGGER_WORDS,
  triggerWords,
  validSubdomain,
  vendorSubdomain,
  withoutOutcome,
} from "../src/lib/integrations";
import { fromUserErrors } from "../src/lib/problems";

test("a connection made comes back as a status with the vendor's words", () => {
  const search = new URLSearchParams(
    "integration=hubspot&outcome=connected&message=Connected+to+HubSpot+account+62515+on+app.hubspot.com",
  );
  assert.deepEqual(outcomeNotice(search), {
    role: "status",
    provider: "HubSpot",
    text: "Connected to HubSpot account 62515 on app.hubspot.com",
  });
  assert.equal(
    outcomeNotice(new URLSearchParams("integration=zoho&outcome=connected"))?.text,
    "Zoho CRM is connected.",
  );
});

test("a connection that failed comes back as an alert naming the vendor", () => {
  const notice = outcomeNotice(
    new URLSearchParams(
      "integration=salesforce&outcome=error&message=Salesforce+did+not+authorize%3A+access_denied",
    ),
  );
  assert.equal(notice?.role, "alert");
  assert.equal(notice?.text, "Salesforce was not connected: Salesforce did not authorize: access_denied");
  assert.equal(
    outcomeNotice(new URLSearchParams("integration=acme&outcome=error"))?.text,
    "acme was not connected.",
  );
});

test("an address without an outcome, or with an unknown one, has no notice", () => {
  assert.equal(outcomeNotice(new URLSearchParams("")), null);
  assert.equal(outcomeNotice(new URLSearchParams("integration=hubspot")), null);
  assert.equal(outcomeNotice(new URLSearchParams("integration=hubspot&outcome=maybe&message=x")), null);
  assert.equal(outcomeNotice(new URLSearchParams("outcome=connected")), null);
});

test("the outcome leaves the address; anything else stays", () => {
  assert.equal(withoutOutcome(new URLSearchParams("integration=hubspot&outcome=connected&message=ok")), "");
  assert.equal(
    withoutOutcome(new URLSearchParams("tab=runs&integration=hubspot&outcome=error&message=no")),
    "?tab=runs",
  );
});

test("a reconnection reuses the account the connection was made with", () => {
  assert.deepEqual(accountChoiceOf([{ name: "login_host", value: "test.salesforce.com" }]), {
    login: "sandbox",
    myDomain: "",
    dataCentre: "com",
    region: "us",
    subdomain: "",
  });
  const myDomain = accountChoiceOf([
    { name: "login_host", value: "acme.my.salesforce.com" },
    { name: "instance_url", value: "https://acme.my.salesforce.com" },
  ]);
  assert.equal(myDomain.login, "my-domain");
  assert.deepEqual(accountInput("SALESFORCE", myDomain), { myDomain: "acme.my.salesforce.com" });
  const zoho = accountChoiceOf([{ name: "data_centre", value: "eu" }]);
  assert.deepEqual(accountInput("ZOHO", zoho), { dataCentre: "eu" });
  assert.deepEqual(accountInput("SALESFORCE", accountChoiceOf([])), { environment: "production" });
  assert.deepEqual(accountInput("ZOHO", accountChoiceOf([{ name: "data_centre", value: "mars" }])), {
    dataCentre: "com",
  });
  assert.equal(accountInput("HUBSPOT", accountChoiceOf([{ name: "portal_id", value: "62515" }])), null);
});

test("connect, reconnect, or neither, by status", () => {
  assert.equal(connectAction(null), "connect");
  assert.equal(connectAction("PENDING"), "connect");
  assert.equal(connectAction("CONNECTED"), null);
  assert.equal(connectAction("REAUTHORIZATION_REQUIRED"), "reconnect");
  assert.equal(connectAction("ERROR"), "reconnect");
  assert.equal(connectAction("DISCONNECTED"), "reconnect");
});

const defaults: CrmValues = {
  contactMatching: "EMAIL",
  createContactIfMissing: true,
  fieldUpdates: "IF_NEWER",
  caseCreation: ["HANDOFF"],
  fieldMappings: [],
  workflowTrigger: false,
  visitorIdField: "",
};

test("saving sends only what changed, so a basic change never asks for the advanced plan", () => {
  assert.deepEqual(crmChanges(defaults, { ...defaults, fieldUpdates: "NEVER" }), { fieldUpdates: "NEVER" });
  assert.deepEqual(crmChanges(defaults, { ...defaults, caseCreation: ["HANDOFF"] }), {});
  assert.deepEqual(
    crmChanges(defaults, {
      ...defaults,
      contactMatching: "EMAIL_THEN_PHONE",
      createContactIfMissing: false,
      caseCreation: ["EVERY_CONVERSATION", "HANDOFF"],
      workflowTrigger: true,
    }),
    {
      contactMatching: "EMAIL_THEN_PHONE",
      createContactIfMissing: false,
      caseCreation: ["HANDOFF", "EVERY_CONVERSATION"],
      workflowTrigger: true,
    },
  );
  assert.deepEqual(crmChanges(defaults, { ...defaults, caseCreation: [] }), { caseCreation: [] });
});

test("the visitor id field is sent trimmed when it changed, and null when emptied", () => {
  assert.deepEqual(crmChanges(defaults, { ...defaults, visitorIdField: " Concierge_Id__c " }), {
    visitorIdField: "Concierge_Id__c",
  });
  const set: CrmValues = { ...defaults, visitorIdField: "Concierge_Id__c" };
  assert.deepEqual(crmChanges(set, { ...set, visitorIdField: "Concierge_Id__c " }), {});
  assert.deepEqual(crmChanges(set, { ...set, visitorIdField: "  " }), { visitorIdField: null });
});

test("mappings are sent whole, trimmed and in the table's order, when any of them changed", () => {
  const before: CrmValues = {
    ...defaults,
    fieldMappings: [{ source: "PAGE_URL", object: "CONTACT", field: "Website__c" }],
  };
  assert.deepEqual(
    crmChanges(before, {
      ...before,
      fieldMappings: [{ source: "PAGE_URL", object: "CONTACT", field: " Website__c " }],
    }),
    {},
  );
  assert.deepEqual(
    crmChanges(before, {
      ...before,
      fieldMappings: [
        { source: "PAGE_URL", object: "CONTACT", field: "Website__c" },
        { source: "SENTIMENT", object: "CASE", field: " Mood__c" },
      ],
    }),
    {
      fieldMappings: [
        { source: "PAGE_URL", object: "CONTACT", field: "Website__c" },
        { source: "SENTIMENT", object: "CASE", field: "Mood__c" },
      ],
    },
  );
  assert.deepEqual(crmChanges(before, { ...before, fieldMappings: [] }), { fieldMappings: [] });
});

test("the server's field paths land on their setting, their mapping row and cell, or the summary", () => {
  const placed = placeCrmProblems(
    fromUserErrors([
      {
        field: ["input", "crm", "fieldMappings", "1", "field"],
        message: '"1bad field" is not a field API name',
        code: "BAD_USER_INPUT",
      },
      { field: ["input", "crm", "fieldMappings", "3"], message: "unknown source", code: "BAD_USER_INPUT" },
      { field: ["input", "crm", "fieldMappings"], message: "at most 50 mappings", code: "BAD_USER_INPUT" },
      { field: ["input", "crm", "fieldUpdates"], message: "not a field update rule", code: "BAD_USER_INPUT" },
      { field: ["input", "crm"], message: "Zoho CRM is not a CRM", code: "BAD_USER_INPUT" },
      { field: null, message: "the integration is gone", code: "NOT_FOUND" },
    ]),
  );
  assert.deepEqual(placed.rows, {
    1: { field: '"1bad field" is not a field API name' },
    3: { row: "unknown source" },
  });
  assert.deepEqual(placed.fields, {
    fieldMappings: "at most 50 mappings",
    fieldUpdates: "not a field update rule",
  });
  assert.deepEqual(
    placed.general.map((p) => p.message),
    ["Zoho CRM is not a CRM", "the integration is gone"],
  );
});

test("a plan refusal says, in words, which settings need which plan", () => {
  assert.equal(
    planRefusalWords(
      "custom field mappings, workflow triggers: write custom CRM mappings and rules needs the premium plan (feature integrations.crm_advanced); this organization is on the standard plan",
      "Premium",
    ),
    "Custom field mappings and workflow triggers need the Premium plan; nothing was saved.",
  );
  assert.equal(
    planRefusalWords(
      "case-creation rules other than on handoff: write custom CRM mappings and rules needs the premium plan (feature integrations.crm_advanced); this organization is on the standard plan",
      null,
    ),
    "Case-creation rules other than on handoff need the Premium plan; nothing was saved.",
  );
  assert.equal(
    planRefusalWords("write CRM integrations needs the standard plan (feature integrations.crm)", "Standard"),
    "These settings need the Standard plan; nothing was saved.",
  );
  assert.equal(
    planRefusalWords("no plan words here", null),
    "Your organization's plan does not include these settings; nothing was saved.",
  );
});

test("the reauthorization banner names the vendor and why, once punctuated", () => {
  assert.equal(
    reauthorizationWords("HubSpot", "HubSpot refused the refresh token (BAD_REFRESH_TOKEN)."),
    "HubSpot needs to be connected again: HubSpot refused the refresh token (BAD_REFRESH_TOKEN). Work owed is kept and sent after you reconnect.",
  );
  assert.equal(
    reauthorizationWords("Salesforce", null),
    "Salesforce needs to be connected again. Work owed is kept and sent after you reconnect.",
  );
});

test("enums, account fields, triggers and providers have words", () => {
  assert.equal(STATUS_WORDS.CONNECTED, "Connected");
  assert.equal(STATUS_WORDS.REAUTHORIZATION_REQUIRED, "Needs reconnecting");
  assert.equal(RUN_KIND_WORDS.TEST, "Connection test");
  assert.match(ERROR_CLASS_WORDS.AUTHORIZATION, /connect again/);
  assert.match(CASE_TRIGGER_WORDS.HANDOFF, /handed to a person/);
  assert.equal(SOURCES.length, 13);
  assert.ok(SOURCES.every((s) => SOURCE_WORDS[s].length > 0));
  assert.equal(accountLabel("portal_id"), "Portal ID");
  assert.equal(accountLabel("instance_url"), "Instance URL");
  assert.equal(accountLabel("sandbox_name"), "Sandbox name");
  assert.equal(triggerWords("manual"), "Started by hand");
  assert.equal(triggerWords("handoff.requested"), "handoff.requested");
  assert.equal(providerName("HUBSPOT"), "HubSpot");
  assert.equal(providerName("zoho"), "Zoho CRM");
});

test("a Zendesk connection asks its subdomain, typed or pasted, and reconnects to the same one", () => {
  assert.equal(asksAccount("ZENDESK"), true);
  assert.equal(asksAccount("HUBSPOT"), false);
  assert.equal(vendorSubdomain("ZENDESK", " acme "), "acme");
  assert.equal(vendorSubdomain("ZENDESK", "ACME.zendesk.com"), "acme");
  assert.equal(vendorSubdomain("ZENDESK", "https://acme-eu.zendesk.com/agent/dashboard"), "acme-eu");
  assert.equal(validSubdomain("acme-eu"), true);
  assert.equal(validSubdomain(""), false);
  assert.equal(validSubdomain("-acme"), false);
  assert.equal(validSubdomain("acme corp"), false);
  assert.equal(validSubdomain("a".repeat(64)), false);
  const choice = accountChoiceOf([
    { name: "subdomain", value: "acme" },
    { name: "agent_email", value: "ada@acme.test" },
  ]);
  assert.equal(choice.subdomain, "acme");
  assert.deepEqual(accountInput("ZENDESK", choice), { subdomain: "acme" });
  assert.deepEqual(accountInput("ZENDESK", { ...choice, subdomain: "https://Acme.zendesk.com" }), {
    subdomain: "acme",
  });
  assert.equal(accountLabel("agent_email"), "Agent's email");
  assert.equal(providerName("zendesk"), "Zendesk");
});

test("a Freshdesk connection asks its subdomain, typed or pasted, and an API key without an email", () => {
  assert.equal(asksAccount("FRESHDESK"), true);
  assert.equal(asksSubdomain("FRESHDESK"), true);
  assert.equal(asksSubdomain("ZENDESK"), true);
  assert.equal(asksSubdomain("SALESFORCE"), false);
  assert.equal(vendorSubdomain("FRESHDESK", " Acme "), "acme");
  assert.equal(vendorSubdomain("FRESHDESK", "ACME.freshdesk.com"), "acme");
  assert.equal(vendorSubdomain("FRESHDESK", "https://acme-eu.freshdesk.com/a/tickets/12"), "acme-eu");
  // Another vendor's host is not cut off: it stays, and cannot be a subdomain.
  assert.equal(vendorSubdomain("FRESHDESK", "acme.zendesk.com"), "acme.zendesk.com");
  assert.equal(validSubdomain(vendorSubdomain("FRESHDESK", "acme.zendesk.com")), false);
  assert.deepEqual(accountInput("FRESHDESK", accountChoiceOf([{ name: "subdomain", value: "acme" }])), {
    subdomain: "acme",
  });
  assert.deepEqual(accountInput("FRESHDESK", { ...NO_CHOICE, subdomain: "https://acme.freshdesk.com/" }), {
    subdomain: "acme",
  });
  assert.equal(providerName("FRESHDESK"), "Freshdesk");
  assert.equal(keyAsk("FRESHDESK").email, false);
  assert.equal(keyAsk("FRESHDESK").noun, "API key");
  assert.match(keyAsk("FRESHDESK").hint ?? "", /Profile settings → View API key/);
  assert.equal(keyAsk("ZENDESK").email, true);
  assert.equal(keyAsk("ZENDESK").noun, "API token");
  assert.equal(KEY_ASKS.HUBSPOT, undefined);
  assert.deepEqual(keyAsk("HUBSPOT"), { noun: "API key", email: false, intro: null, hint: null });
});

test("an Intercom connection asks its region, sent as the data centre, and reconnects to the same one", () => {
  assert.equal(asksAccount("INTERCOM"), true);
  assert.equal(asksRegion("INTERCOM"), true);
  assert.equal(asksRegion("ZOHO"), false);
  assert.equal(asksSubdomain("INTERCOM"), false);
  assert.deepEqual(
    INTERCOM_REGIONS.map((r) => r.value),
    ["us", "eu", "au"],
  );
  assert.deepEqual(accountInput("INTERCOM", NO_CHOICE), { dataCentre: "us" });
  const eu = accountChoiceOf([
    { name: "region", value: "eu" },
    { name: "app_host", value: "app.eu.intercom.com" },
    { name: "api_host", value: "api.eu.intercom.io" },
    { name: "workspace", value: "Acme" },
  ]);
  assert.equal(eu.region, "eu");
  assert.deepEqual(accountInput("INTERCOM", eu), { dataCentre: "eu" });
  // Zoho's data centre and Intercom's region do not mix.
  assert.equal(eu.dataCentre, "com");
  assert.equal(accountChoiceOf([{ name: "data_centre", value: "eu" }]).region, "us");
  assert.deepEqual(accountInput("INTERCOM", accountChoiceOf([{ name: "region", value: "mars" }])), {
    dataCentre: "us",
  });
  assert.equal(providerName("intercom"), "Intercom");
  assert.equal(providerName("INTERCOM"), "Intercom");
  assert.equal(accountLabel("api_host"), "API host");
  assert.equal(accountLabel("app_id"), "Workspace ID");
  assert.equal(accountLabel("admin_email"), "Admin's email");
});

test("providers are grouped by category, CRMs first, empty categories left out", () => {
  const groups = byCategory([
    { key: "SALESFORCE", category: "CRM" as const },
    { key: "ZENDESK", category: "HELPDESK" as const },
    { key: "HUBSPOT", category: "CRM" as const },
  ]);
  assert.deepEqual(
    groups.map((g) => [g.category, g.providers.map((p) => p.key)]),
    [
      ["CRM", ["SALESFORCE", "HUBSPOT"]],
      ["HELPDESK", ["ZENDESK"]],
    ],
  );
  assert.match(statusHint("CONNECTED", "HELPDESK"), /Tickets/);
  assert.match(statusHint("CONNECTED", "CRM"), /Contacts and cases/);
  assert.match(statusHint("DISCONNECTED", "HELPDESK"), /Nothing is sent/);
});

test("comma-separated lists are read trimmed, without empty entries", () => {
  assert.deepEqual(listOf(" refund, cancel ,,"), ["refund", "cancel"]);
  assert.deepEqual(listOf("   "), []);
  assert.deepEqual(listOf("web\nvip"), ["web", "vip"]);
});

const storedDefaults: Parameters<typeof helpdeskValuesOf>[0] = {
  ticketCreation: ["HANDOFF", "FORM_SUBMISSION"],
  intents: [],
  failedResponses: 3,
  negativeSentimentPriority: "HIGH",
  priorityKeywords: [],
  defaultPriority: "NORMAL",
  typeRules: [],
  defaultType: "QUESTION",
  tags: [],
  assignment: { mode: "NONE", agents: [], rules: [] },
};

const helpdeskDefaults: HelpdeskValues = helpdeskValuesOf(storedDefaults);

test("the stored help-desk settings become the form's values, a type rule by what it names", () => {
  const values = helpdeskValuesOf({
    ...storedDefaults,
    typeRules: [
      { intent: "refund", keyword: null, ticketType: "TASK" },
      { intent: null, keyword: "outage", ticketType: "INCIDENT" },
    ],
  });
  assert.deepEqual(values.typeRules, [
    { by: "intent", value: "refund", ticketType: "TASK" },
    { by: "keyword", value: "outage", ticketType: "INCIDENT" },
  ]);
});

test("help-desk settings send only what changed, the triggers in the form's order", () => {
  assert.deepEqual(helpdeskChanges(helpdeskDefaults, { ...helpdeskDefaults }), {});
  assert.deepEqual(
    helpdeskChanges(helpdeskDefaults, {
      ...helpdeskDefaults,
      ticketCreation: ["FORM_SUBMISSION", "HANDOFF"],
    }),
    {},
  );
  assert.deepEqual(
    helpdeskChanges(helpdeskDefaults, {
      ...helpdeskDefaults,
      ticketCreation: ["INTENT", "HANDOFF"],
      defaultType: "PROBLEM",
      defaultPriority: "LOW",
      negativeSentimentPriority: "URGENT",
      failedResponses: 5,
    }),
    {
      ticketCreation: ["HANDOFF", "INTENT"],
      failedResponses: 5,
      negativeSentimentPriority: "URGENT",
      defaultPriority: "LOW",
      defaultType: "PROBLEM",
    },
  );
  assert.deepEqual(helpdeskChanges(helpdeskDefaults, { ...helpdeskDefaults, ticketCreation: [] }), {
    ticketCreation: [],
  });
});

test("help-desk lists are sent whole and trimmed when any entry changed, and as [] when emptied", () => {
  const before: HelpdeskValues = {
    ...helpdeskDefaults,
    intents: ["refund"],
    priorityKeywords: [{ keyword: "outage", priority: "URGENT" }],
    typeRules: [{ by: "intent", value: "refund", ticketType: "TASK" }],
    tags: ["web"],
  };
  assert.deepEqual(
    helpdeskChanges(before, {
      ...before,
      intents: [" refund "],
      priorityKeywords: [{ keyword: "outage ", priority: "URGENT" }],
      typeRules: [{ by: "intent", value: " refund", ticketType: "TASK" }],
      tags: ["web "],
    }),
    {},
  );
  assert.deepEqual(
    helpdeskChanges(before, {
      ...before,
      intents: ["refund", " cancel"],
      priorityKeywords: [
        { keyword: "outage", priority: "URGENT" },
        { keyword: " down ", priority: "HIGH" },
      ],
      typeRules: [
        { by: "keyword", value: "refund", ticketType: "TASK" },
        { by: "intent", value: " billing ", ticketType: "QUESTION" },
      ],
      tags: ["web", " vip"],
    }),
    {
      intents: ["refund", "cancel"],
      priorityKeywords: [
        { keyword: "outage", priority: "URGENT" },
        { keyword: "down", priority: "HIGH" },
      ],
      typeRules: [
        { keyword: "refund", ticketType: "TASK" },
        { intent: "billing", ticketType: "QUESTION" },
      ],
      tags: ["web", "vip"],
    },
  );
  assert.deepEqual(
    helpdeskChanges(before, { ...before, intents: [], priorityKeywords: [], typeRules: [], tags: [] }),
    { intents: [], priorityKeywords: [], typeRules: [], tags: [] },
  );
  assert.deepEqual(
    helpdeskChanges(before, {
      ...before,
      priorityKeywords: [{ keyword: "outage", priority: "HIGH" }],
      typeRules: [{ by: "intent", value: "refund", ticketType: "PROBLEM" }],
    }),
    {
      priorityKeywords: [{ keyword: "outage", priority: "HIGH" }],
      typeRules: [{ intent: "refund", ticketType: "PROBLEM" }],
    },
  );
});

test("the server's help-desk field paths land on their row and cell, their setting, or the summary", () => {
  const placed = placeHelpdeskProblems(
    fromUserErrors([
      {
        field: ["input", "helpdesk", "typeRules", "0"],
        message: "give either an intent or a keyword",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "typeRules", "2", "keyword"],
        message: "must be a keyword, 1 to 100 characters",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "priorityKeywords", "1", "keyword"],
        message: "must be a keyword, 1 to 100 characters",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "tags", "2"],
        message: '"a b" is not a tag',
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "intents"],
        message: "name at least one intent, or do not open tickets by intent",
        code: "BAD_USER_INPUT",
      },
      { field: ["input", "helpdesk", "failedResponses"], message: "must be 1 to 20", code: "BAD_USER_INPUT" },
      {
        field: ["input", "helpdesk", "priorityKeywords"],
        message: "at most 50 entries",
        code: "BAD_USER_INPUT",
      },
      { field: ["input", "helpdesk"], message: "Zendesk is not a help desk", code: "BAD_USER_INPUT" },
      { field: null, message: "the integration is gone", code: "NOT_FOUND" },
    ]),
  );
  assert.deepEqual(placed.typeRules, {
    0: { row: "give either an intent or a keyword" },
    2: { value: "must be a keyword, 1 to 100 characters" },
  });
  assert.deepEqual(placed.keywords, { 1: { keyword: "must be a keyword, 1 to 100 characters" } });
  assert.deepEqual(placed.fields, {
    tags: 'Tag 3: "a b" is not a tag',
    intents: "name at least one intent, or do not open tickets by intent",
    failedResponses: "must be 1 to 20",
    priorityKeywords: "at most 50 entries",
  });
  assert.deepEqual(
    placed.general.map((p) => p.message),
    ["Zendesk is not a help desk", "the integration is gone"],
  );
  // The server's own spelling of a path is understood too.
  assert.deepEqual(
    placeHelpdeskProblems([{ field: "helpdesk.priority_keywords[0].priority", message: "unknown" }]).keywords,
    { 0: { priority: "unknown" } },
  );
});

test("help-desk enums have words", () => {
  assert.match(TICKET_TRIGGER_WORDS.HANDOFF, /handed to a person/);
  assert.match(TICKET_TRIGGER_WORDS.FAILED_RESPONSES, /unanswered questions/);
});

test("the stored assignment becomes the form's values, a rule by what it names, a missing group empty", () => {
  const values = helpdeskValuesOf({
    ...storedDefaults,
    assignment: {
      mode: "BY_TOPIC",
      agents: ["101"],
      rules: [
        { intent: "billing", keyword: null, groupId: "7001", agentIds: [] },
        { intent: null, keyword: "refund", groupId: null, agentIds: ["102"] },
      ],
    },
  });
  assert.deepEqual(values.assignment, {
    mode: "BY_TOPIC",
    agents: ["101"],
    rules: [
      { by: "intent", value: "billing", groupId: "7001", agentIds: [] },
      { by: "keyword", value: "refund", groupId: "", agentIds: ["102"] },
    ],
  });
  assert.deepEqual(helpdeskDefaults.assignment, { mode: "NONE", agents: [], rules: [] });
});

test("the assignment is sent whole when anything in it changed, trimmed, empty entries left out", () => {
  assert.deepEqual(helpdeskChanges(helpdeskDefaults, { ...helpdeskDefaults }), {});
  assert.deepEqual(
    helpdeskChanges(helpdeskDefaults, {
      ...helpdeskDefaults,
      assignment: { mode: "LOAD_BALANCED", agents: [], rules: [] },
    }),
    { assignment: { mode: "LOAD_BALANCED", agents: [], rules: [] } },
  );
  const balanced: HelpdeskValues = {
    ...helpdeskDefaults,
    assignment: { mode: "LOAD_BALANCED", agents: ["101", "102"], rules: [] },
  };
  // Spaces and empty entries are no change.
  assert.deepEqual(
    helpdeskChanges(balanced, {
      ...balanced,
      assignment: { mode: "LOAD_BALANCED", agents: [" 101", "", "102 "], rules: [] },
    }),
    {},
  );
  // A change to the agents alone sends the whole assignment, the other settings not.
  assert.deepEqual(
    helpdeskChanges(balanced, {
      ...balanced,
      assignment: { mode: "LOAD_BALANCED", agents: ["101", " 103 "], rules: [] },
    }),
    { assignment: { mode: "LOAD_BALANCED", agents: ["101", "103"], rules: [] } },
  );
  // Rules: by intent or keyword, a group only when one is given, the agents trimmed, in the table's order.
  assert.deepEqual(
    helpdeskChanges(balanced, {
      ...balanced,
      assignment: {
        mode: "BY_TOPIC",
        agents: ["101", "102"],
        rules: [
          { by: "keyword", value: " refund ", groupId: " 7001 ", agentIds: [] },
          { by: "intent", value: "billing", groupId: "  ", agentIds: [" 104", ""] },
        ],
      },
    }),
    {
      assignment: {
        mode: "BY_TOPIC",
        agents: ["101", "102"],
        rules: [
          { agentIds: [], keyword: "refund", groupId: "7001" },
          { agentIds: ["104"], intent: "billing" },
        ],
      },
    },
  );
  const topics: HelpdeskValues = {
    ...helpdeskDefaults,
    assignment: {
      mode: "BY_TOPIC",
      agents: [],
      rules: [{ by: "keyword", value: "refund", groupId: "7001", agentIds: [] }],
    },
  };
  assert.deepEqual(
    helpdeskChanges(topics, {
      ...topics,
      assignment: {
        ...topics.assignment,
        rules: [{ by: "keyword", value: "refund ", groupId: " 7001", agentIds: [""] }],
      },
    }),
    {},
  );
  // The same word, now an intent: a change.
  assert.deepEqual(
    helpdeskChanges(topics, {
      ...topics,
      assignment: {
        ...topics.assignment,
        rules: [{ by: "intent", value: "refund", groupId: "7001", agentIds: [] }],
      },
    }).assignment?.rules,
    [{ agentIds: [], intent: "refund", groupId: "7001" }],
  );
  // Back to Freshdesk's own rules: said as such, rules emptied sent as [].
  assert.deepEqual(
    helpdeskChanges(topics, { ...topics, assignment: { mode: "NONE", agents: [], rules: [] } }),
    { assignment: { mode: "NONE", agents: [], rules: [] } },
  );
  // An empty value is left out, so that the server names the rule (and the row stays in place).
  assert.deepEqual(
    assignmentInput({
      mode: "SKILLS",
      agents: [],
      rules: [{ by: "intent", value: " ", groupId: "", agentIds: ["101", "102"] }],
    }),
    { mode: "SKILLS", agents: [], rules: [{ agentIds: ["101", "102"] }] },
  );
});

test("the server's assignment paths land beside the mode, the agents, the rules or a rule's cell", () => {
  const placed = placeHelpdeskProblems(
    fromUserErrors([
      {
        field: ["input", "helpdesk", "assignment", "agents"],
        message: "name the agents the tickets go to",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment", "agents", "2"],
        message: '"abc" is not a help-desk id: digits, as the help desk shows them',
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment", "rules"],
        message: "give at least one rule",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment", "rules", "0"],
        message: "give either an intent or a keyword",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment", "rules", "1", "agentIds"],
        message: "name the agents with this skill",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment", "rules", "2", "groupId"],
        message: '"x" is not a help-desk id: digits, as the help desk shows them',
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment", "rules", "3", "keyword"],
        message: "must be a keyword, 1 to 100 characters",
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment", "rules", "4", "agentIds", "1"],
        message: '"y" is not a help-desk id: digits, as the help desk shows them',
        code: "BAD_USER_INPUT",
      },
      {
        field: ["input", "helpdesk", "assignment"],
        message:
          "Zendesk assigns tickets by its own rules (its triggers and routing); assignment here is Freshdesk's",
        code: "BAD_USER_INPUT",
      },
      { field: ["input", "helpdesk", "assignment", "mode"], message: "unknown mode", code: "BAD_USER_INPUT" },
      { field: ["input", "helpdesk", "assignment", "what"], message: "unknown", code: "BAD_USER_INPUT" },
    ]),
  );
  assert.deepEqual(placed.fields, {
    "assignment.agents": "name the agents the tickets go to",
    "assignment.rules": "give at least one rule",
    assignment:
      "Zendesk assigns tickets by its own rules (its triggers and routing); assignment here is Freshdesk's",
    "assignment.mode": "unknown mode",
  });
  assert.deepEqual(placed.assignmentRules, {
    0: { row: "give either an intent or a keyword" },
    1: { agentIds: "name the agents with this skill" },
    2: { groupId: '"x" is not a help-desk id: digits, as the help desk shows them' },
    3: { value: "must be a keyword, 1 to 100 characters" },
    4: { agentIds: 'Agent 2: "y" is not a help-desk id: digits, as the help desk shows them' },
  });
  assert.deepEqual(
    placed.general.map((p) => p.message),
    ["unknown"],
  );
  // An agent of the list, with its position; and the server's own spelling of a path.
  assert.deepEqual(
    placeHelpdeskProblems([{ field: "helpdesk.assignment.agents[2]", message: "not digits" }]).fields,
    { "assignment.agents": "Agent 3: not digits" },
  );
  assert.deepEqual(
    placeHelpdeskProblems([
      { field: "helpdesk.assignment.rules[0].group_id", message: "not digits" },
      { field: "helpdesk.assignment.rules[1].agent_ids", message: "name the agents with this skill" },
    ]).assignmentRules,
    { 0: { groupId: "not digits" }, 1: { agentIds: "name the agents with this skill" } },
  );
});

test("assignment modes have words, and say whether they take agents or rules", () => {
  assert.deepEqual(ASSIGNMENT_MODES, ["NONE", "BY_TOPIC", "ROUND_ROBIN", "LOAD_BALANCED", "SKILLS"]);
  assert.equal(ASSIGNMENT_MODE_WORDS.NONE, "Freshdesk's own rules");
  assert.equal(ASSIGNMENT_MODE_WORDS.LOAD_BALANCED, "Load balanced (fewest open tickets)");
  assert.deepEqual(ASSIGNMENT_MODES.filter(assignsToAgents), ["ROUND_ROBIN", "LOAD_BALANCED"]);
  assert.deepEqual(ASSIGNMENT_MODES.filter(assignsByRules), ["BY_TOPIC", "SKILLS"]);
});
