// integrations.ts — the Integrations settings page's GraphQL documents: the providers an organization can connect
// (the CRMs Salesforce, HubSpot and Zoho CRM; the help desks Zendesk, Freshdesk and Intercom; a custom SMTP server
// or SendGrid for email, and Mailchimp for a mailing list) with its connection to each, the CRM, help-desk and
// mailing-list settings, the runs with their vendor calls, and what an admin does (connect, change, test,
// disconnect); plus their enums in words, and the pure helpers the page needs: the outcome the vendor's callback adds
// to the address, the account a reconnection reuses, what a key is given with (an agent's email, a sender address),
// the SMTP settings typed in and read back, the changes a settings form makes, and the rows that the server's field
// paths name.
import { graphql } from "../gql";
import type {
  AudienceMergeFieldInput,
  AudienceOptIn,
  AudienceSettingsInput,
  AudienceTagSource,
  CrmCaseTrigger,
  CrmContactMatching,
  CrmFieldMappingInput,
  CrmFieldUpdates,
  CrmMappingSource,
  CrmObject,
  CrmSettingsInput,
  HelpdeskAssignmentInput,
  HelpdeskAssignmentMode,
  HelpdeskAssignmentRuleInput,
  HelpdeskPriorityRuleInput,
  HelpdeskSettingsInput,
  HelpdeskTicketPriority,
  HelpdeskTicketTrigger,
  HelpdeskTicketType,
  HelpdeskTypeRuleInput,
  IntegrationAccountInput,
  IntegrationAuthMethod,
  IntegrationCategory,
  IntegrationCredentialsInput,
  IntegrationErrorClass,
  IntegrationProviderKey,
  IntegrationRunKind,
  IntegrationRunStatus,
  IntegrationStatus,
  SmtpSecurity,
  SmtpSettingsInput,
} from "../gql/graphql";
import type { Problem } from "./problems";

export const IntegrationRunView = graphql(`
  fragment IntegrationRunView on IntegrationRun {
    id
    kind
    trigger
    status
    attemptCount
    nextAttemptAt
    recordsCreated
    recordsUpdated
    recordsSkipped
    recordsFailed
    outcome
    errorClass
    conversation {
      id
      subject
    }
    calls {
      method
      path
      statusCode
      durationMs
      errorClass
      excerpt
      createdAt
    }
    createdAt
    finishedAt
  }
`);

export const IntegrationView = graphql(`
  fragment IntegrationView on Integration {
    id
    provider
    providerName
    category
    status
    account {
      name
      value
    }
    lastError
    connectedBy {
      id
      name
      email
    }
    connectedAt
    crm {
      contactMatching
      createContactIfMissing
      fieldUpdates
      caseCreation
      fieldMappings {
        source
        object
        field
      }
      workflowTrigger
      visitorIdField
    }
    inboundUrl
    helpdesk {
      ticketCreation
      intents
      failedResponses
      negativeSentimentPriority
      priorityKeywords {
        keyword
        priority
      }
      defaultPriority
      typeRules {
        intent
        keyword
        ticketType
      }
      defaultType
      tags
      assignment {
        mode
        agents
        rules {
          intent
          keyword
          groupId
          agentIds
        }
      }
    }
    audience {
      audienceId
      optIn
      tagSources
      tags
      mergeFields {
        tag
        source
        default
      }
      consentLabel
    }
    audiences {
      id
      name
      memberCount
    }
    createdAt
    updatedAt
  }
`);

export const IntegrationsDocument = graphql(`
  query Integrations {
    integrations {
      key
      name
      category
      includedInPlan
      requiredPlan
      configured
      redirectUri
      eventsUrl
      authMethods
      integration {
        ...IntegrationView
      }
    }
  }
`);

export const IntegrationRunsDocument = graphql(`
  query IntegrationRuns($integrationId: ID!, $first: Int, $after: String) {
    integrationRuns(integrationId: $integrationId, first: $first, after: $after) {
      nodes {
        ...IntegrationRunView
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ConnectIntegrationDocument = graphql(`
  mutation ConnectIntegration($input: ConnectIntegrationInput!) {
    connectIntegration(input: $input) {
      integration {
        ...IntegrationView
      }
      authorizeUrl
      message
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const UpdateIntegrationDocument = graphql(`
  mutation UpdateIntegration($id: ID!, $input: UpdateIntegrationInput!) {
    updateIntegration(id: $id, input: $input) {
      integration {
        ...IntegrationView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const TestIntegrationDocument = graphql(`
  mutation TestIntegration($id: ID!) {
    testIntegration(id: $id) {
      integration {
        ...IntegrationView
      }
      success
      message
      run {
        ...IntegrationRunView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const DisconnectIntegrationDocument = graphql(`
  mutation DisconnectIntegration($id: ID!) {
    disconnectIntegration(id: $id) {
      integration {
        ...IntegrationView
      }
      revocation
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

/** Where the vendor sends the browser back to: this page (the server adds the outcome to its query). */
export const RETURN_TO = "/console/settings/integrations";

export const STATUS_WORDS: Record<IntegrationStatus, string> = {
  PENDING: "Waiting for authorization",
  CONNECTED: "Connected",
  REAUTHORIZATION_REQUIRED: "Needs reconnecting",
  ERROR: "Error",
  DISCONNECTED: "Disconnected",
};

/** What each status means for the organization, in a sentence. */
export const STATUS_HINTS: Record<IntegrationStatus, string> = {
  PENDING: "Connecting was started but the vendor's authorization page did not send the browser back yet.",
  CONNECTED: "Contacts and cases are sent as conversations happen.",
  REAUTHORIZATION_REQUIRED:
    "The vendor refused the authorization for good (revoked or expired). Work owed is kept and sent after you reconnect.",
  ERROR: "Something other than the authorization is wrong: see the last error.",
  DISCONNECTED: "Nothing is sent. Its past runs are kept below.",
};

/** What a connected integration does, by category (the other statuses mean the same for every category). */
const CONNECTED_HINTS: Record<IntegrationCategory, string> = {
  CRM: STATUS_HINTS.CONNECTED,
  HELPDESK: "Tickets are opened as conversations happen, by the settings below.",
  EMAIL: "Invitations and the team's notifications are emailed through it.",
};

/** What a connected mailing list (Mailchimp) does. */
const MAILING_LIST_HINT =
  "Visitors who agree to hear from you join the audience chosen below; nobody else is ever added.";

/**
 * What a status means for a provider of `category` (`provider`, when given, tells a mailing list from a mailer), in
 * a sentence.
 */
export function statusHint(
  status: IntegrationStatus,
  category: IntegrationCategory,
  provider: IntegrationProviderKey | null = null,
): string {
  if (status !== "CONNECTED") return STATUS_HINTS[status];
  return provider && keepsMailingList(provider) ? MAILING_LIST_HINT : CONNECTED_HINTS[category];
}

/**
 * The providers that keep a mailing list (Mailchimp): of the email category, but they send none of the
 * organization's mail; visitors who gave marketing consent join one of their audiences.
 */
export function keepsMailingList(provider: IntegrationProviderKey): boolean {
  return provider === "MAILCHIMP";
}

/** Whether a provider sends the organization's mail (a custom SMTP server, SendGrid): email, but no mailing list. */
export function sendsMail(provider: IntegrationProviderKey, category: IntegrationCategory): boolean {
  return category === "EMAIL" && !keepsMailingList(provider);
}

export const CATEGORY_WORDS: Record<IntegrationCategory, string> = {
  CRM: "CRM",
  HELPDESK: "Help desk",
  EMAIL: "Email",
};

/** What connecting a provider of each category does, in a sentence (under the category's heading). */
export const CATEGORY_HINTS: Record<IntegrationCategory, string> = {
  CRM: "Connect your CRM so that every conversation reaches it: the visitor becomes a contact (or is matched to one), and a hand-off opens a case with the transcript.",
  HELPDESK:
    "Connect your help desk so that conversations that need a person open a ticket there, with the transcript, a priority, a type and tags.",
  EMAIL:
    "Connect your mail server or email service so that Concierge emails invitations to new members and the team's notifications, from your own address; connect Mailchimp so that visitors who agree to hear from you join your mailing list.",
};

/** The categories, in the order the page shows them. */
export const CATEGORIES = Object.keys(CATEGORY_WORDS) as IntegrationCategory[];

/** Providers grouped by category, in the page's order of categories, each group in the server's order. */
export function byCategory<T extends { category: IntegrationCategory }>(
  providers: readonly T[],
): { category: IntegrationCategory; providers: T[] }[] {
  return CATEGORIES.map((category) => ({
    category,
    providers: providers.filter((p) => p.category === category),
  })).filter((group) => group.providers.length > 0);
}

export const MATCHING_WORDS: Record<CrmContactMatching, string> = {
  EMAIL: "By email address",
  PHONE: "By phone number",
  EMAIL_THEN_PHONE: "By email, then by phone when the email matches no contact",
};

export const FIELD_UPDATE_WORDS: Record<CrmFieldUpdates, string> = {
  ALWAYS: "Always",
  IF_NEWER: "Only when the visitor's details are newer than the contact's",
  NEVER: "Never: existing contacts are left as they are",
};

export const CASE_TRIGGER_WORDS: Record<CrmCaseTrigger, string> = {
  HANDOFF: "When a conversation is handed to a person",
  FORM_SUBMISSION: "When a visitor submits the widget's contact form",
  EVERY_CONVERSATION: "For every conversation",
};

export const OBJECT_WORDS: Record<CrmObject, string> = {
  CONTACT: "Contact",
  CASE: "Case",
};

export const SOURCE_WORDS: Record<CrmMappingSource, string> = {
  VISITOR_NAME: "Visitor's full name",
  VISITOR_FIRST_NAME: "Visitor's first name",
  VISITOR_LAST_NAME: "Visitor's last name",
  VISITOR_EMAIL: "Visitor's email",
  VISITOR_PHONE: "Visitor's phone",
  TRANSCRIPT: "Transcript",
  FIRST_QUESTION: "First question",
  PAGE_URL: "Page address",
  PAGE_TITLE: "Page title",
  SENTIMENT: "Sentiment",
  ASSISTANT_NAME: "Assistant's name",
  CONVERSATION_ID: "Conversation id",
  CONVERSATION_URL: "Conversation's console link",
};

export const RUN_KIND_WORDS: Record<IntegrationRunKind, string> = {
  CONTACT_SYNC: "Contact sync",
  CASE_CREATE: "Case creation",
  CASE_UPDATE: "Case update",
  TICKET_CREATE: "Ticket",
  TICKET_SYNC: "Replies from the help desk",
  EMAIL_SEND: "Email",
  NOTIFY: "Team notification",
  AUDIENCE_SYNC: "Mailing list",
  VISITOR_EMAIL: "Visitor email",
  FOLLOW_UP: "Follow-up email",
  TEST: "Connection test",
};

export const RUN_STATUS_WORDS: Record<IntegrationRunStatus, string> = {
  PENDING: "Pending",
  SUCCEEDED: "Succeeded",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

export const ERROR_CLASS_WORDS: Record<IntegrationErrorClass, string> = {
  RATE_LIMITED: "Rate limited: tried again after the vendor's wait",
  AUTHORIZATION: "Authorization refused: connect again",
  VALIDATION: "Refused by the vendor: a missing or bad value",
  MULTIPLE_MATCHES: "Several records match where one was expected",
  VENDOR_ERROR: "The vendor failed or answered something unexpected",
  NETWORK: "The vendor could not be reached or did not answer in time",
  CONFIGURATION: "Not set up for this call",
  MISSING_FIELD: "A required value is missing (such as a visitor without email or phone)",
};

/** Every value of the enums, in the order the forms offer them. */
export const MATCHINGS = Object.keys(MATCHING_WORDS) as CrmContactMatching[];
export const FIELD_UPDATES = Object.keys(FIELD_UPDATE_WORDS) as CrmFieldUpdates[];
export const CASE_TRIGGERS = Object.keys(CASE_TRIGGER_WORDS) as CrmCaseTrigger[];
export const OBJECTS = Object.keys(OBJECT_WORDS) as CrmObject[];
export const SOURCES = Object.keys(SOURCE_WORDS) as CrmMappingSource[];

/** The default mapping, in one sentence (what an empty list of mappings means). */
export const DEFAULT_MAPPING =
  "Without custom mappings, the visitor's name, email and phone go to the contact; the first question becomes the case's subject, the transcript (headed by the page it started on) its description.";

const PROVIDER_NAMES: Record<string, string> = {
  salesforce: "Salesforce",
  hubspot: "HubSpot",
  zoho: "Zoho CRM",
  zendesk: "Zendesk",
  freshdesk: "Freshdesk",
  intercom: "Intercom",
  smtp: "Custom SMTP",
  sendgrid: "SendGrid",
  mailchimp: "Mailchimp",
};

/** A provider's name from its key in any case (`hubspot`, `HUBSPOT`). */
export function providerName(key: string): string {
  return PROVIDER_NAMES[key.toLowerCase()] ?? key;
}

const ACCOUNT_LABELS: Record<string, string> = {
  portal_id: "Portal ID",
  ui_domain: "Domain",
  instance_url: "Instance URL",
  api_domain: "API domain",
  login_host: "Login host",
  accounts_host: "Accounts host",
  data_centre: "Data centre",
  organization: "Organization",
  organization_id: "Organization ID",
  org_id: "Organization ID",
  user_id: "User ID",
  subdomain: "Subdomain",
  agent_email: "Agent's email",
  region: "Region",
  app_host: "App host",
  api_host: "API host",
  workspace: "Workspace",
  app_id: "Workspace ID",
  admin_id: "Admin ID",
  admin_email: "Admin's email",
  dc: "Data centre",
  account_name: "Account",
  login_email: "Login",
  api_endpoint: "API endpoint",
};

/** An account field's name in words (`portal_id` → `Portal ID`; unknown ones with their underscores as spaces). */
export function accountLabel(name: string): string {
  const known = ACCOUNT_LABELS[name];
  if (known) return known;
  const words = name.replace(/[_-]+/g, " ").trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : name;
}

/** A run's trigger in words: the event type that caused it, or a test started by hand. */
export function triggerWords(trigger: string): string {
  return trigger === "manual" ? "Started by hand" : trigger;
}

/** Zoho's data centres, as the server names them, with where they are. */
export const ZOHO_DATA_CENTRES: readonly { value: string; label: string }[] = [
  { value: "com", label: "United States (zoho.com)" },
  { value: "eu", label: "Europe (zoho.eu)" },
  { value: "in", label: "India (zoho.in)" },
  { value: "com.au", label: "Australia (zoho.com.au)" },
  { value: "jp", label: "Japan (zoho.jp)" },
  { value: "com.cn", label: "China (zoho.com.cn)" },
  { value: "zohocloud.ca", label: "Canada (zohocloud.ca)" },
];

/** Intercom's regions (each workspace lives in one), as the server names them, with the address of their app. */
export const INTERCOM_REGIONS: readonly { value: string; label: string }[] = [
  { value: "us", label: "United States (app.intercom.com)" },
  { value: "eu", label: "Europe (app.eu.intercom.com)" },
  { value: "au", label: "Australia (app.au.intercom.com)" },
];

/** Where a Salesforce org signs in: production, a sandbox, or its My Domain host. */
export type SalesforceLogin = "production" | "sandbox" | "my-domain";

/** What the connect form asks, for the providers that ask anything. */
export interface AccountChoice {
  login: SalesforceLogin;
  myDomain: string;
  dataCentre: string;
  /** Intercom: the workspace's region (`us`, `eu`, `au`). */
  region: string;
  /** Zendesk, Freshdesk: the account's subdomain (`acme` for acme.zendesk.com). */
  subdomain: string;
}

/** The choice of a first connection. */
export const NO_CHOICE: AccountChoice = {
  login: "production",
  myDomain: "",
  dataCentre: "com",
  region: "us",
  subdomain: "",
};

/** The providers whose connect form asks where the vendor account is. */
export function asksAccount(provider: IntegrationProviderKey): boolean {
  return provider === "SALESFORCE" || provider === "ZOHO" || asksRegion(provider) || asksSubdomain(provider);
}

/** The providers whose connect form asks the region the account lives in (Intercom). */
export function asksRegion(provider: IntegrationProviderKey): boolean {
  return provider === "INTERCOM";
}

/** The host under which each provider that asks a subdomain has its accounts (`acme.zendesk.com`). */
export const SUBDOMAIN_HOSTS: Partial<Record<IntegrationProviderKey, string>> = {
  ZENDESK: "zendesk.com",
  FRESHDESK: "freshdesk.com",
};

/** The providers whose account is a subdomain of theirs (the help desks Zendesk and Freshdesk). */
export function asksSubdomain(provider: IntegrationProviderKey): boolean {
  return SUBDOMAIN_HOSTS[provider] !== undefined;
}

/**
 * A subdomain of `provider` as typed or pasted (`acme`, `ACME.zendesk.com`, `https://acme.freshdesk.com/a/`): the
 * subdomain alone, in lower case.
 */
export function vendorSubdomain(provider: IntegrationProviderKey, text: string): string {
  const host = SUBDOMAIN_HOSTS[provider];
  const bare = text
    .trim()
    .replace(/^https?:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
  return host && bare.endsWith(`.${host}`) ? bare.slice(0, -host.length - 1) : bare;
}

/** How connecting with a key asks for it, for the providers that take one. */
export interface KeyAsk {
  /** What the vendor calls the key. */
  noun: string;
  /** Whether the email of the agent it belongs to goes with it (Zendesk's API tokens). */
  email: boolean;
  /** Where to make or find one, said before the fields; none when the key's own hint says it. */
  intro: string | null;
  /** Under the key's field. */
  hint: string | null;
  /** An email provider's: under the sender address asked with the key (where the vendor lets it send from). */
  sender?: string;
}

export const KEY_ASKS: Partial<Record<IntegrationProviderKey, KeyAsk>> = {
  ZENDESK: {
    noun: "API token",
    email: true,
    intro:
      "In Zendesk's Admin Center, under Apps and integrations, then APIs: turn on token access and add an API token. Tickets are opened as the agent whose email you give.",
    hint: null,
  },
  FRESHDESK: {
    noun: "API key",
    email: false,
    intro: null,
    hint: "Profile settings → View API key in Freshdesk. Tickets are opened as the agent the key belongs to.",
  },
  SENDGRID: {
    noun: "API key",
    email: false,
    intro: null,
    hint: "In SendGrid: Settings → API Keys → Create API Key, with the Mail Send permission.",
    sender: "An address or domain you verified in SendGrid under Sender Authentication.",
  },
};

/** How a provider's key is asked for (an API key alone when it is not one of `KEY_ASKS`). */
export function keyAsk(provider: IntegrationProviderKey): KeyAsk {
  return KEY_ASKS[provider] ?? { noun: "API key", email: false, intro: null, hint: null };
}

/** The email a key is given with (as `credentials.email`), asked beside the key's field. */
export interface KeyEmailAsk {
  /**
   * Whose address: the agent the key belongs to (Zendesk's API tokens; asked before the key), or the sender an email
   * provider lets Concierge send from (SendGrid's verified sender; asked after the key).
   */
  role: "agent" | "sender";
  label: string;
  /** Under the field. */
  hint: string | null;
  placeholder: string;
  /** What it is, after "an API key and" in a sentence. */
  phrase: string;
  /** What the form says when it is missing or is not an address. */
  missing: string;
}

/**
 * The email `provider` (of `category`, called `name`) takes with its key: its agent's, for a provider whose key
 * belongs to one (`KEY_ASKS`); the sender address, for an email provider; none for the others (Freshdesk).
 */
export function keyEmailAsk(
  provider: IntegrationProviderKey,
  category: IntegrationCategory,
  name: string,
): KeyEmailAsk | null {
  const ask = keyAsk(provider);
  if (ask.email) {
    return {
      role: "agent",
      label: "Agent's email",
      hint: null,
      placeholder: "agent@example.com",
      phrase: "the email of the agent it belongs to",
      missing: `Enter the email of the ${name} agent the ${ask.noun} belongs to.`,
    };
  }
  if (category !== "EMAIL") return null;
  return {
    role: "sender",
    label: "Sender address",
    hint: ask.sender ?? `An address ${name} lets you send from.`,
    placeholder: "support@example.com",
    phrase: `the sender address you verified in ${name}`,
    missing: `Enter the sender address you verified in ${name}, such as support@example.com.`,
  };
}

/** What a key form holds: the key, and the email that goes with it (empty when none is asked). */
export interface KeyValues {
  apiKey: string;
  email: string;
}

/** Whether `text` reads as one email address (something, an @, something; no spaces). */
function anAddress(text: string): boolean {
  return /^[^\s@]+@[^\s@]+$/.test(text);
}

/**
 * What a key form can tell without the server, in the form's order: an agent's email without an @, a missing key,
 * a sender that is not an address. Each problem names its field as the server's would (`credentials.apiKey`).
 */
export function keyProblems(
  values: KeyValues,
  ask: KeyAsk,
  emailAsk: KeyEmailAsk | null,
  name: string,
): Problem[] {
  const found: Problem[] = [];
  const email = values.email.trim();
  if (emailAsk?.role === "agent" && !email.includes("@")) {
    found.push({ field: "credentials.email", message: emailAsk.missing });
  }
  if (!values.apiKey.trim()) {
    found.push({ field: "credentials.apiKey", message: `Paste the ${ask.noun} from ${name}.` });
  }
  if (emailAsk?.role === "sender" && !anAddress(email)) {
    found.push({ field: "credentials.email", message: emailAsk.missing });
  }
  return found;
}

/** The credentials `connectIntegration` is given: the key trimmed, with the email trimmed when one is asked. */
export function keyCredentials(values: KeyValues, emailAsk: KeyEmailAsk | null): IntegrationCredentialsInput {
  const apiKey = values.apiKey.trim();
  return emailAsk ? { email: values.email.trim(), apiKey } : { apiKey };
}

/** Whether `subdomain` (as `vendorSubdomain` answers it) can be a help desk account's subdomain. */
export function validSubdomain(subdomain: string): boolean {
  return /^[a-z0-9][a-z0-9-]{0,62}$/.test(subdomain);
}

const SALESFORCE_HOSTS: Record<string, SalesforceLogin> = {
  "login.salesforce.com": "production",
  "test.salesforce.com": "sandbox",
};

/** The choice a connection was made with, read back from its account fields (to reconnect the same account). */
export function accountChoiceOf(account: readonly { name: string; value: string }[]): AccountChoice {
  const field = (name: string) => account.find((f) => f.name === name)?.value ?? "";
  const host = field("login_host");
  const known = SALESFORCE_HOSTS[host];
  const centre = field("data_centre");
  const region = field("region");
  return {
    login: known ?? (host ? "my-domain" : "production"),
    myDomain: known ? "" : host,
    dataCentre: ZOHO_DATA_CENTRES.some((c) => c.value === centre) ? centre : "com",
    region: INTERCOM_REGIONS.some((r) => r.value === region) ? region : "us",
    subdomain: field("subdomain"),
  };
}

/** What `connectIntegration` is told of the account, for `provider`; null when it asks nothing (HubSpot). */
export function accountInput(
  provider: IntegrationProviderKey,
  choice: AccountChoice,
): IntegrationAccountInput | null {
  if (provider === "SALESFORCE") {
    if (choice.login === "my-domain") return { myDomain: choice.myDomain.trim() };
    return { environment: choice.login };
  }
  if (provider === "ZOHO") return { dataCentre: choice.dataCentre || "com" };
  // Intercom's region travels in the same field as Zoho's data centre.
  if (asksRegion(provider)) return { dataCentre: choice.region || "us" };
  if (asksSubdomain(provider)) return { subdomain: vendorSubdomain(provider, choice.subdomain) };
  return null;
}

/** Whether a provider's connection can be started ("connect"), started again ("reconnect"), or neither. */
export function connectAction(status: IntegrationStatus | null | undefined): "connect" | "reconnect" | null {
  if (!status || status === "PENDING") return "connect";
  if (status === "CONNECTED") return null;
  return "reconnect";
}

/**
 * The providers connected with their server's settings typed in the card (a custom SMTP server): neither through
 * the vendor's authorization page nor with a key, so the server offers them no `authMethods`.
 */
export function connectsWithSettings(provider: IntegrationProviderKey): boolean {
  return provider === "SMTP";
}

/**
 * Whether a provider is connected again from its card (with a key or its settings typed in), rather than with the
 * reconnection banner's button (which goes to the vendor's authorization page).
 */
export function connectsInCard(offered: {
  key: IntegrationProviderKey;
  authMethods: readonly IntegrationAuthMethod[];
}): boolean {
  return offered.authMethods.includes("API_KEY") || connectsWithSettings(offered.key);
}

/**
 * Whether a card's Connect opens a form in the card (where the account is, a key, or a server's settings) rather
 * than going straight to the vendor's authorization page (HubSpot).
 */
export function opensConnectForm(offered: {
  key: IntegrationProviderKey;
  authMethods: readonly IntegrationAuthMethod[];
}): boolean {
  return asksAccount(offered.key) || connectsInCard(offered);
}

/**
 * What a card's test button says: a provider that sends mail sends a real message, the others (a mailing list too)
 * call the vendor.
 */
export function testLabel(
  category: IntegrationCategory,
  provider: IntegrationProviderKey | null = null,
): string {
  return category === "EMAIL" && !(provider && keepsMailingList(provider))
    ? "Send a test message"
    : "Test connection";
}

/**
 * The outcome of a test in words, the server's own words after it (a mailer's are a whole sentence; a mailing list's
 * test reads its audiences again).
 */
export function testOutcomeWords(
  category: IntegrationCategory,
  success: boolean,
  message: string,
  provider: IntegrationProviderKey | null = null,
): string {
  const said = message.trim();
  if (category === "EMAIL" && !(provider && keepsMailingList(provider))) {
    if (success) return said || "The test message was sent.";
    return said ? `The test message was not sent: ${said}` : "The test message was not sent.";
  }
  const outcome = success ? "The connection works" : "The test failed";
  return said ? `${outcome}: ${said}` : `${outcome}.`;
}

/** What disconnecting does, said in its confirmation. */
export function disconnectWords(
  category: IntegrationCategory,
  name: string,
  provider: IntegrationProviderKey | null = null,
): string {
  if (provider && keepsMailingList(provider)) {
    return `Concierge forgets the credentials of ${name} and adds nobody to its audience any more; the widget's contact form no longer offers the consent checkbox. The members already in ${name} stay there. The settings and the past runs are kept, and you can connect again later.`;
  }
  if (category === "EMAIL") {
    return `Concierge forgets the credentials of ${name} and sends no more email through it: invitations are no longer emailed, and notification rules send nothing. The settings and the past runs are kept, and you can connect again later.`;
  }
  return `Concierge asks ${name} to revoke its authorization and forgets the credentials; work not yet sent is cancelled. The settings and the past runs are kept, and you can connect again later.`;
}

/** The outcome the vendor's callback added to the address, as a notice. */
export interface OutcomeNotice {
  /** `status` for a connection made, `alert` for one that failed. */
  role: "status" | "alert";
  provider: string;
  text: string;
}

const OUTCOME_PARAMS = ["integration", "outcome", "message"];

/** The notice of `?integration=hubspot&outcome=connected|error&message=…`; null when the address has none. */
export function outcomeNotice(search: URLSearchParams): OutcomeNotice | null {
  const outcome = search.get("outcome");
  const key = search.get("integration");
  if (!key || (outcome !== "connected" && outcome !== "error")) return null;
  const name = providerName(key);
  const message = (search.get("message") ?? "").trim();
  if (outcome === "connected") {
    return { role: "status", provider: name, text: message || `${name} is connected.` };
  }
  return {
    role: "alert",
    provider: name,
    text: message ? `${name} was not connected: ${message}` : `${name} was not connected.`,
  };
}

/** The query of the address without the outcome's parameters: `""`, or `?` and what else it had. */
export function withoutOutcome(search: URLSearchParams): string {
  const rest = new URLSearchParams(search);
  for (const name of OUTCOME_PARAMS) rest.delete(name);
  const text = rest.toString();
  return text ? `?${text}` : "";
}

/** One row of the field-mapping table (`key` keeps its inputs in place when rows are removed). */
export interface MappingRow {
  key: number;
  source: CrmMappingSource;
  object: CrmObject;
  field: string;
}

/** What the settings form holds. */
export interface CrmValues {
  contactMatching: CrmContactMatching;
  createContactIfMissing: boolean;
  fieldUpdates: CrmFieldUpdates;
  caseCreation: CrmCaseTrigger[];
  fieldMappings: { source: CrmMappingSource; object: CrmObject; field: string }[];
  workflowTrigger: boolean;
  /** The unique contact field holding the visitor's id; empty when contacts are created plainly. */
  visitorIdField: string;
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function sameMappings(a: CrmValues["fieldMappings"], b: CrmValues["fieldMappings"]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (m, i) =>
        m.source === b[i]?.source && m.object === b[i]?.object && m.field.trim() === b[i]?.field.trim(),
    )
  );
}

/**
 * The changes from `before` to `after`, as `updateIntegration`'s `crm` input: only what changed, so that saving a
 * basic setting never asks the plan for the advanced ones. The case triggers keep the order of the form; the
 * mappings are sent whole (the server replaces them), each field trimmed, in the table's order (so that an error's
 * row index is the table's).
 */
export function crmChanges(before: CrmValues, after: CrmValues): CrmSettingsInput {
  const input: CrmSettingsInput = {};
  if (after.contactMatching !== before.contactMatching) input.contactMatching = after.contactMatching;
  if (after.createContactIfMissing !== before.createContactIfMissing)
    input.createContactIfMissing = after.createContactIfMissing;
  if (after.fieldUpdates !== before.fieldUpdates) input.fieldUpdates = after.fieldUpdates;
  if (!sameSet(after.caseCreation, before.caseCreation))
    input.caseCreation = CASE_TRIGGERS.filter((t) => after.caseCreation.includes(t));
  if (!sameMappings(after.fieldMappings, before.fieldMappings)) {
    input.fieldMappings = after.fieldMappings.map(
      (m): CrmFieldMappingInput => ({ source: m.source, object: m.object, field: m.field.trim() }),
    );
  }
  if (after.workflowTrigger !== before.workflowTrigger) input.workflowTrigger = after.workflowTrigger;
  const key = after.visitorIdField.trim();
  if (key !== before.visitorIdField.trim()) input.visitorIdField = key === "" ? null : key;
  return input;
}

/** The parts of a mapping row an error may name. */
export type MappingPart = "source" | "object" | "field";

/** The problems of a settings form, placed: beside a setting, beside a cell of a mapping row, or in the summary. */
export interface PlacedProblems {
  /** By setting: `contactMatching`, `fieldUpdates`, `caseCreation`, `fieldMappings` (the table), … */
  fields: Record<string, string>;
  /** By row index of the mapping table, then by cell (`row` for the row as a whole). */
  rows: Record<number, Partial<Record<MappingPart | "row", string>>>;
  general: Problem[];
}

/**
 * Places the problems of `updateIntegration` (their `field` as `fromUserErrors` makes it, `crm.fieldMappings.1.field`
 * for `["input", "crm", "fieldMappings", "1", "field"]`): a mapping's cell, a setting, or the summary.
 */
export function placeCrmProblems(problems: readonly Problem[]): PlacedProblems {
  const placed: PlacedProblems = { fields: {}, rows: {}, general: [] };
  for (const problem of problems) {
    const parts = problem.field?.split(".") ?? [];
    if (parts[0] === "crm") parts.shift();
    const [setting, index, cell] = parts;
    if (setting === "fieldMappings" && index !== undefined && /^\d+$/.test(index)) {
      const row = Number(index);
      const at: MappingPart | "row" =
        cell === "source" || cell === "object" || cell === "field" ? cell : "row";
      const cells = placed.rows[row] ?? {};
      cells[at] ??= problem.message;
      placed.rows[row] = cells;
    } else if (setting && parts.length === 1 && problem.field) {
      placed.fields[setting] ??= problem.message;
    } else {
      placed.general.push(problem);
    }
  }
  return placed;
}

/**
 * A plan refusal of the server (`custom field mappings, workflow triggers: write custom CRM mappings and rules needs
 * the premium plan (…); this organization is on the standard plan`) in words.
 */
export function planRefusalWords(message: string, planName: string | null): string {
  const named = /^(.+?): .*needs the (\w+) plan/s.exec(message);
  const plan = planName ?? (named?.[2] ? named[2].charAt(0).toUpperCase() + named[2].slice(1) : null);
  const what = named?.[1]?.trim();
  if (!what || !plan || what.includes(" needs the ")) {
    return plan
      ? `These settings need the ${plan} plan; nothing was saved.`
      : `Your organization's plan does not include these settings; nothing was saved.`;
  }
  const parts = what.split(/,\s*/).filter(Boolean);
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : what;
  return `${list.charAt(0).toUpperCase()}${list.slice(1)} need the ${plan} plan; nothing was saved.`;
}

/** The banner of a connection the vendor stopped authorizing. */
export function reauthorizationWords(name: string, lastError: string | null | undefined): string {
  const why = (lastError ?? "").trim().replace(/[.\s]+$/, "");
  return `${name} needs to be connected again${why ? `: ${why}` : ""}. Work owed is kept and sent after you reconnect.`;
}

export const TICKET_TRIGGER_WORDS: Record<HelpdeskTicketTrigger, string> = {
  HANDOFF: "When a conversation is handed to a person",
  FORM_SUBMISSION: "When a visitor submits the widget's contact form",
  INTENT: "When a visitor message shows one of these intents",
  FAILED_RESPONSES: "After this many unanswered questions in one conversation",
};

export const PRIORITY_WORDS: Record<HelpdeskTicketPriority, string> = {
  LOW: "Low",
  NORMAL: "Normal",
  HIGH: "High",
  URGENT: "Urgent",
};

export const TICKET_TYPE_WORDS: Record<HelpdeskTicketType, string> = {
  QUESTION: "Question",
  PROBLEM: "Problem",
  INCIDENT: "Incident",
  TASK: "Task",
};

export const TICKET_TRIGGERS = Object.keys(TICKET_TRIGGER_WORDS) as HelpdeskTicketTrigger[];
export const PRIORITIES = Object.keys(PRIORITY_WORDS) as HelpdeskTicketPriority[];
export const TICKET_TYPES = Object.keys(TICKET_TYPE_WORDS) as HelpdeskTicketType[];

/** The fewest and the most unanswered questions the failed-responses trigger waits for. */
export const FAILED_RESPONSES_MIN = 1;
export const FAILED_RESPONSES_MAX = 20;

/** The entries of a comma-separated list as typed (`refund, cancel,` → `refund`, `cancel`): trimmed, none empty. */
export function listOf(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** What a type rule is chosen by. */
export type TypeRuleBy = "intent" | "keyword";

export const ASSIGNMENT_MODE_WORDS: Record<HelpdeskAssignmentMode, string> = {
  NONE: "Freshdesk's own rules",
  BY_TOPIC: "By topic",
  ROUND_ROBIN: "Round robin",
  LOAD_BALANCED: "Load balanced (fewest open tickets)",
  SKILLS: "By skills",
};

/** What each assignment mode does, in a sentence (under the choice). */
export const ASSIGNMENT_MODE_HINTS: Record<HelpdeskAssignmentMode, string> = {
  NONE: "Concierge assigns no one: Freshdesk's own automations and assignment rules decide.",
  BY_TOPIC:
    "The first rule whose intent or keyword matches sends the ticket to its group, its agent, or both; when none matches, Freshdesk's own rules decide.",
  ROUND_ROBIN: "Each new ticket goes to the next agent of the list, in turn.",
  LOAD_BALANCED: "Each new ticket goes to the agent of the list with the fewest open tickets in Freshdesk.",
  SKILLS:
    "The first rule whose intent or keyword matches names the agents with that skill: the one of them with the fewest open tickets gets it; when none matches, Freshdesk's own rules decide.",
};

export const ASSIGNMENT_MODES = Object.keys(ASSIGNMENT_MODE_WORDS) as HelpdeskAssignmentMode[];

/** Whether a mode assigns among a list of agents (round robin, load balanced). */
export function assignsToAgents(mode: HelpdeskAssignmentMode): boolean {
  return mode === "ROUND_ROBIN" || mode === "LOAD_BALANCED";
}

/** Whether a mode assigns by rules (by topic, by skills). */
export function assignsByRules(mode: HelpdeskAssignmentMode): boolean {
  return mode === "BY_TOPIC" || mode === "SKILLS";
}

/** A rule of topic or skills assignment as the form holds it: the help desk's ids as typed. */
export interface AssignmentRuleValues {
  by: TypeRuleBy;
  value: string;
  /** The group's id (by topic); empty for none. */
  groupId: string;
  agentIds: string[];
}

/** Who gets a new ticket (Freshdesk), as the form holds it. */
export interface AssignmentValues {
  mode: HelpdeskAssignmentMode;
  agents: string[];
  rules: AssignmentRuleValues[];
}

/** One row of the assignment rule table: its agent ids as typed, separated by commas. */
export interface AssignmentRuleRow {
  key: number;
  by: TypeRuleBy;
  value: string;
  groupId: string;
  agentIds: string;
}

/** What the help-desk settings form holds. */
export interface HelpdeskValues {
  ticketCreation: HelpdeskTicketTrigger[];
  intents: string[];
  failedResponses: number;
  negativeSentimentPriority: HelpdeskTicketPriority;
  priorityKeywords: { keyword: string; priority: HelpdeskTicketPriority }[];
  defaultPriority: HelpdeskTicketPriority;
  typeRules: { by: TypeRuleBy; value: string; ticketType: HelpdeskTicketType }[];
  defaultType: HelpdeskTicketType;
  tags: string[];
  assignment: AssignmentValues;
}

/** One row of the priority keyword table (`key` keeps its inputs in place when rows are removed). */
export interface KeywordRow {
  key: number;
  keyword: string;
  priority: HelpdeskTicketPriority;
}

/** One row of the type rule table. */
export interface TypeRuleRow {
  key: number;
  by: TypeRuleBy;
  value: string;
  ticketType: HelpdeskTicketType;
}

/** The stored settings as the form holds them (a type rule by intent when it names an intent). */
export function helpdeskValuesOf(settings: {
  ticketCreation: readonly HelpdeskTicketTrigger[];
  intents: readonly string[];
  failedResponses: number;
  negativeSentimentPriority: HelpdeskTicketPriority;
  priorityKeywords: readonly { keyword: string; priority: HelpdeskTicketPriority }[];
  defaultPriority: HelpdeskTicketPriority;
  typeRules: readonly { intent: string | null; keyword: string | null; ticketType: HelpdeskTicketType }[];
  defaultType: HelpdeskTicketType;
  tags: readonly string[];
  assignment: {
    mode: HelpdeskAssignmentMode;
    agents: readonly string[];
    rules: readonly {
      intent: string | null;
      keyword: string | null;
      groupId: string | null;
      agentIds: readonly string[];
    }[];
  };
}): HelpdeskValues {
  return {
    ticketCreation: [...settings.ticketCreation],
    intents: [...settings.intents],
    failedResponses: settings.failedResponses,
    negativeSentimentPriority: settings.negativeSentimentPriority,
    priorityKeywords: settings.priorityKeywords.map((r) => ({ keyword: r.keyword, priority: r.priority })),
    defaultPriority: settings.defaultPriority,
    typeRules: settings.typeRules.map((r) =>
      r.intent
        ? { by: "intent", value: r.intent, ticketType: r.ticketType }
        : { by: "keyword", value: r.keyword ?? "", ticketType: r.ticketType },
    ),
    defaultType: settings.defaultType,
    tags: [...settings.tags],
    assignment: {
      mode: settings.assignment.mode,
      agents: [...settings.assignment.agents],
      rules: settings.assignment.rules.map((r) => ({
        by: r.intent ? "intent" : "keyword",
        value: (r.intent || r.keyword) ?? "",
        groupId: r.groupId ?? "",
        agentIds: [...r.agentIds],
      })),
    },
  };
}

/** The entries of a list trimmed, the empty ones left out. */
function entriesOf(list: readonly string[]): string[] {
  return list.map((entry) => entry.trim()).filter((entry) => entry !== "");
}

/**
 * The assignment as `updateIntegration`'s `assignment` input: whole, each id and word trimmed, empty ones left out
 * (a rule without a group has no `groupId`); the rules stay in the table's order, so that an error's index is the
 * table's.
 */
export function assignmentInput(assignment: AssignmentValues): HelpdeskAssignmentInput {
  return {
    mode: assignment.mode,
    agents: entriesOf(assignment.agents),
    rules: assignment.rules.map((r) => {
      const value = r.value.trim();
      const rule: HelpdeskAssignmentRuleInput = { agentIds: entriesOf(r.agentIds) };
      if (value) rule[r.by] = value;
      const group = r.groupId.trim();
      if (group) rule.groupId = group;
      return rule;
    }),
  };
}

function sameAssignment(a: AssignmentValues, b: AssignmentValues): boolean {
  return JSON.stringify(assignmentInput(a)) === JSON.stringify(assignmentInput(b));
}

function sameWords(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x.trim() === b[i]?.trim());
}

function sameKeywords(a: HelpdeskValues["priorityKeywords"], b: HelpdeskValues["priorityKeywords"]): boolean {
  return (
    a.length === b.length &&
    a.every((r, i) => r.keyword.trim() === b[i]?.keyword.trim() && r.priority === b[i]?.priority)
  );
}

function sameTypeRules(a: HelpdeskValues["typeRules"], b: HelpdeskValues["typeRules"]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (r, i) =>
        r.by === b[i]?.by && r.value.trim() === b[i]?.value.trim() && r.ticketType === b[i]?.ticketType,
    )
  );
}

/**
 * The changes from `before` to `after`, as `updateIntegration`'s `helpdesk` input: only what changed. The triggers
 * keep the form's order; the lists (intents, priority keywords, type rules, tags) are sent whole when any entry
 * changed (the server replaces them), each entry trimmed, in the form's order (so that an error's index is the
 * form's); an emptied list is sent as `[]`. The assignment is sent whole when anything in it changed, as
 * `assignmentInput` makes it.
 */
export function helpdeskChanges(before: HelpdeskValues, after: HelpdeskValues): HelpdeskSettingsInput {
  const input: HelpdeskSettingsInput = {};
  if (!sameSet(after.ticketCreation, before.ticketCreation))
    input.ticketCreation = TICKET_TRIGGERS.filter((t) => after.ticketCreation.includes(t));
  if (!sameWords(after.intents, before.intents)) input.intents = after.intents.map((i) => i.trim());
  if (after.failedResponses !== before.failedResponses) input.failedResponses = after.failedResponses;
  if (after.negativeSentimentPriority !== before.negativeSentimentPriority)
    input.negativeSentimentPriority = after.negativeSentimentPriority;
  if (!sameKeywords(after.priorityKeywords, before.priorityKeywords)) {
    input.priorityKeywords = after.priorityKeywords.map(
      (r): HelpdeskPriorityRuleInput => ({ keyword: r.keyword.trim(), priority: r.priority }),
    );
  }
  if (after.defaultPriority !== before.defaultPriority) input.defaultPriority = after.defaultPriority;
  if (!sameTypeRules(after.typeRules, before.typeRules)) {
    input.typeRules = after.typeRules.map(
      (r): HelpdeskTypeRuleInput =>
        r.by === "intent"
          ? { intent: r.value.trim(), ticketType: r.ticketType }
          : { keyword: r.value.trim(), ticketType: r.ticketType },
    );
  }
  if (after.defaultType !== before.defaultType) input.defaultType = after.defaultType;
  if (!sameWords(after.tags, before.tags)) input.tags = after.tags.map((t) => t.trim());
  if (!sameAssignment(after.assignment, before.assignment))
    input.assignment = assignmentInput(after.assignment);
  return input;
}

/** The parts of a priority keyword row an error may name. */
export type KeywordPart = "keyword" | "priority" | "row";

/** The parts of a type rule row an error may name: its intent or keyword (`value`), its type, or the row. */
export type TypeRulePart = "value" | "ticketType" | "row";

/** The parts of an assignment rule row an error may name: its intent or keyword (`value`), its ids, or the row. */
export type AssignmentRulePart = "value" | "groupId" | "agentIds" | "row";

/** The problems of the help-desk settings form, placed. */
export interface PlacedHelpdeskProblems {
  /**
   * By setting: `ticketCreation`, `intents`, `failedResponses`, `tags`, `priorityKeywords` (the table), …; the
   * assignment's as `assignment` (as a whole), `assignment.mode`, `assignment.agents`, `assignment.rules` (the table).
   */
  fields: Record<string, string>;
  /** By row index of the priority keyword table, then by cell. */
  keywords: Record<number, Partial<Record<KeywordPart, string>>>;
  /** By row index of the type rule table, then by cell. */
  typeRules: Record<number, Partial<Record<TypeRulePart, string>>>;
  /** By row index of the assignment rule table, then by cell. */
  assignmentRules: Record<number, Partial<Record<AssignmentRulePart, string>>>;
  general: Problem[];
}

const DIGITS = /^\d+$/;

/** Places a problem of the assignment (`parts` after `assignment`); answers whether it had a place. */
function placeAssignmentProblem(
  parts: readonly string[],
  message: string,
  placed: PlacedHelpdeskProblems,
): boolean {
  const [what, index, cell, entry] = parts;
  const row = index !== undefined && DIGITS.test(index) ? Number(index) : null;
  if (what === undefined) {
    placed.fields.assignment ??= message;
  } else if (what === "rules" && row !== null) {
    const at: AssignmentRulePart =
      cell === "intent" || cell === "keyword"
        ? "value"
        : cell === "groupId" || cell === "agentIds"
          ? cell
          : "row";
    // One of a rule's agent ids: said with its position.
    const said =
      at === "agentIds" && entry !== undefined && DIGITS.test(entry)
        ? `Agent ${Number(entry) + 1}: ${message}`
        : message;
    const cells = placed.assignmentRules[row] ?? {};
    cells[at] ??= said;
    placed.assignmentRules[row] = cells;
  } else if (what === "agents" && row !== null && parts.length === 2) {
    placed.fields["assignment.agents"] ??= `Agent ${row + 1}: ${message}`;
  } else if ((what === "mode" || what === "agents" || what === "rules") && parts.length === 1) {
    placed.fields[`assignment.${what}`] ??= message;
  } else {
    return false;
  }
  return true;
}

/** The entries of a list setting that an error may name by index, with the noun of one entry. */
const LIST_ENTRIES: Record<string, string> = { intents: "Intent", tags: "Tag" };

/** A field path as the server may spell it (`helpdesk.type_rules[0]`) in the console's spelling (`typeRules.0`). */
function pathParts(field: string): string[] {
  return field
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    .split(".")
    .filter((part) => part !== "");
}

/**
 * Places the problems of `updateIntegration` (their `field` as `fromUserErrors` makes it:
 * `helpdesk.priorityKeywords.1.keyword` for `["input", "helpdesk", "priorityKeywords", "1", "keyword"]`): a cell of
 * a row of the priority keyword, type rule or assignment rule table, a setting (an entry of the intents, the tags
 * or the assignment's agents beside its list, with its position), or the summary.
 */
export function placeHelpdeskProblems(problems: readonly Problem[]): PlacedHelpdeskProblems {
  const placed: PlacedHelpdeskProblems = {
    fields: {},
    keywords: {},
    typeRules: {},
    assignmentRules: {},
    general: [],
  };
  for (const problem of problems) {
    const parts = problem.field ? pathParts(problem.field) : [];
    if (parts[0] === "helpdesk") parts.shift();
    const [setting, index, cell] = parts;
    const row = index !== undefined && DIGITS.test(index) ? Number(index) : null;
    if (setting === "assignment") {
      if (!placeAssignmentProblem(parts.slice(1), problem.message, placed)) placed.general.push(problem);
    } else if (setting === "priorityKeywords" && row !== null) {
      const at: KeywordPart = cell === "keyword" || cell === "priority" ? cell : "row";
      const cells = placed.keywords[row] ?? {};
      cells[at] ??= problem.message;
      placed.keywords[row] = cells;
    } else if (setting === "typeRules" && row !== null) {
      const at: TypeRulePart =
        cell === "intent" || cell === "keyword" ? "value" : cell === "ticketType" ? "ticketType" : "row";
      const cells = placed.typeRules[row] ?? {};
      cells[at] ??= problem.message;
      placed.typeRules[row] = cells;
    } else if (setting && LIST_ENTRIES[setting] && row !== null && parts.length === 2) {
      placed.fields[setting] ??= `${LIST_ENTRIES[setting]} ${row + 1}: ${problem.message}`;
    } else if (setting && parts.length === 1) {
      placed.fields[setting] ??= problem.message;
    } else {
      placed.general.push(problem);
    }
  }
  return placed;
}

/** How the connection to an SMTP server is protected, in words (the choices of its connect form). */
export const SMTP_SECURITY_WORDS: Record<SmtpSecurity, string> = {
  STARTTLS: "STARTTLS",
  TLS: "TLS",
  NONE: "None: a server on this machine only",
};

/** What each way of protecting the connection means, in a sentence (under the choice). */
export const SMTP_SECURITY_HINTS: Record<SmtpSecurity, string> = {
  STARTTLS:
    "Connects, then switches to an encrypted connection before anything is sent (usually port 587). Concierge stops rather than go on unencrypted if the server does not offer it.",
  TLS: "Encrypted from the first byte, sometimes called SMTPS or SSL (usually port 465).",
  NONE: "No encryption: allowed only for a mail server on the same machine as Concierge (127.0.0.1, ::1 or localhost).",
};

/** The choices of protection, in the order the form offers them. */
export const SMTP_SECURITIES = Object.keys(SMTP_SECURITY_WORDS) as SmtpSecurity[];

/** The port the server uses when none is given, by protection. */
export const SMTP_PORTS: Record<SmtpSecurity, number> = { STARTTLS: 587, TLS: 465, NONE: 25 };

/** The protection of a stored connection (`starttls`, as the server keeps it), STARTTLS when unknown. */
export function smtpSecurityOf(stored: string): SmtpSecurity {
  const named = stored.trim().toUpperCase();
  return SMTP_SECURITIES.find((s) => s === named) ?? "STARTTLS";
}

/** What the SMTP connect form holds. */
export interface SmtpValues {
  host: string;
  /** Null: the usual port of the protection chosen. */
  port: number | null;
  security: SmtpSecurity;
  /** Empty: the server takes mail without signing in. */
  username: string;
  /** Empty on a reconnection: the stored password is kept. */
  password: string;
  fromAddress: string;
  fromName: string;
  /** A PEM certificate of a private certificate authority; empty for none. */
  caCertificate: string;
}

/** The settings of a first connection. */
export const NO_SMTP: SmtpValues = {
  host: "",
  port: null,
  security: "STARTTLS",
  username: "",
  password: "",
  fromAddress: "",
  fromName: "",
  caCertificate: "",
};

/** The fields of a connection's account, by name. */
function accountField(account: readonly { name: string; value: string }[], name: string): string {
  return account.find((f) => f.name === name)?.value ?? "";
}

/** The settings a connection was made with, read back from its account (the password is never returned). */
export function smtpValuesOf(account: readonly { name: string; value: string }[]): SmtpValues {
  const field = (name: string) => accountField(account, name);
  const port = Number(field("port"));
  return {
    host: field("host"),
    port: Number.isInteger(port) && port > 0 && port <= 65535 ? port : null,
    security: smtpSecurityOf(field("security")),
    username: field("username"),
    password: "",
    fromAddress: field("from_address"),
    fromName: field("from_name"),
    caCertificate: field("ca_certificate"),
  };
}

/**
 * The settings as `connectIntegration`'s `smtp` input: trimmed (but the password, taken as typed), without a port
 * when none is given (the server's usual one), without a password when it is empty (a reconnection keeps the stored
 * one), and without a certificate when none is pasted.
 */
export function smtpInput(values: SmtpValues): SmtpSettingsInput {
  const input: SmtpSettingsInput = {
    host: values.host.trim(),
    security: values.security,
    username: values.username.trim(),
    fromAddress: values.fromAddress.trim(),
    fromName: values.fromName.trim(),
  };
  if (values.port !== null) input.port = values.port;
  if (values.password !== "") input.password = values.password;
  const certificate = values.caCertificate.trim();
  if (certificate) input.caCertificate = certificate;
  return input;
}

/**
 * What the form can tell without the server: a missing host or sender, a port out of range, a user without a
 * password (unless a stored one is kept). Each problem names its field as the server's would (`smtp.host`).
 */
export function smtpProblems(values: SmtpValues, keepsPassword: boolean): Problem[] {
  const found: Problem[] = [];
  if (!values.host.trim()) {
    found.push({
      field: "smtp.host",
      message: "Enter the mail server's host name, such as smtp.example.com.",
    });
  }
  if (values.port !== null && !(Number.isInteger(values.port) && values.port >= 1 && values.port <= 65535)) {
    found.push({
      field: "smtp.port",
      message: "Enter a port from 1 to 65535, or leave it empty for the usual one.",
    });
  }
  if (values.username.trim() && values.password === "" && !keepsPassword) {
    found.push({ field: "smtp.password", message: "Enter the password of this user." });
  }
  if (!anAddress(values.fromAddress.trim())) {
    found.push({
      field: "smtp.fromAddress",
      message: "Enter the address messages are sent from, such as support@example.com.",
    });
  }
  return found;
}

/** A field of the SMTP connect form. */
export type SmtpField = keyof SmtpValues;

const SMTP_FIELDS = Object.keys(NO_SMTP) as SmtpField[];

/** The problems of the SMTP connect form, placed: beside a field, or in the summary. */
export interface PlacedSmtpProblems {
  fields: Partial<Record<SmtpField, string>>;
  general: Problem[];
}

/**
 * Places the problems of `connectIntegration` for an SMTP server (their `field` as `fromUserErrors` makes it:
 * `smtp.password` for `["input", "smtp", "password"]`, `smtp.fromAddress`, or `smtp.from_address` as a service may
 * spell it): beside their field, the first one of each field kept; the rest (the settings as a whole) in the summary.
 */
export function placeSmtpProblems(problems: readonly Problem[]): PlacedSmtpProblems {
  const placed: PlacedSmtpProblems = { fields: {}, general: [] };
  for (const problem of problems) {
    const parts = problem.field ? pathParts(problem.field) : [];
    if (parts[0] === "smtp") parts.shift();
    const [name] = parts;
    const field = SMTP_FIELDS.find((f) => f === name);
    if (field && parts.length === 1) placed.fields[field] ??= problem.message;
    else placed.general.push(problem);
  }
  return placed;
}

/** Where a custom SMTP server sends, in words: `smtp.example.com:587 with STARTTLS`. */
export function smtpServerWords(account: readonly { name: string; value: string }[]): string {
  const host = accountField(account, "host");
  const port = accountField(account, "port");
  const security = smtpSecurityOf(accountField(account, "security"));
  const at = port ? `${host}:${port}` : host;
  return security === "NONE" ? `${at} without encryption` : `${at} with ${SMTP_SECURITY_WORDS[security]}`;
}

/**
 * Who an email integration sends as (a custom SMTP server, SendGrid): `Acme Support <support@acme.test>`, or the
 * address alone.
 */
export function smtpSenderWords(account: readonly { name: string; value: string }[]): string {
  const address = accountField(account, "from_address");
  const name = accountField(account, "from_name");
  return name ? `${name} <${address}>` : address;
}

/** One fact a connected card shows of its account: its name (unique in the card), label and value. */
export interface AccountFact {
  name: string;
  label: string;
  value: string;
}

/** The account fields an email integration's facts say in words of their own (its sender and last test). */
const EMAIL_FIELDS = ["from_address", "from_name", "last_test_to"];

/** One account field as a fact, by its name. */
function namedFact(field: { name: string; value: string }): AccountFact {
  return { name: field.name, label: accountLabel(field.name), value: field.value };
}

/**
 * The facts a connected card shows of its account. An email integration (a custom SMTP server, or a provider of
 * `category` EMAIL such as SendGrid): its sender first, then a custom SMTP server's server, user and certificate
 * authority in words (never the certificate itself), or another's fields by their names, and its last test at the
 * end. Another provider's fields by their names.
 */
export function accountFacts(
  provider: IntegrationProviderKey,
  account: readonly { name: string; value: string }[],
  category: IntegrationCategory | null = null,
): AccountFact[] {
  const smtp = connectsWithSettings(provider);
  if (keepsMailingList(provider)) return mailingListFacts(account);
  if (!smtp && category !== "EMAIL") return account.map(namedFact);
  const facts: AccountFact[] = [{ name: "sender", label: "Sender", value: smtpSenderWords(account) }];
  if (smtp) {
    const username = accountField(account, "username");
    facts.push(
      { name: "server", label: "Server", value: smtpServerWords(account) },
      {
        name: "username",
        label: "Signs in as",
        value: username || "No one: the server takes mail without signing in",
      },
    );
    if (accountField(account, "ca_certificate")) {
      facts.push({
        name: "ca_certificate",
        label: "Certificate authority",
        value: "Your own, beside the public ones",
      });
    }
  } else {
    facts.push(...account.filter((field) => !EMAIL_FIELDS.includes(field.name)).map(namedFact));
  }
  const tested = accountField(account, "last_test_to");
  if (tested) facts.push({ name: "last_test_to", label: "Last test message to", value: tested });
  return facts;
}

/** The order a mailing list's account fields are shown in (any other after them, as stored). */
const MAILING_LIST_FIELDS = ["account_name", "login_email", "dc", "api_endpoint"];

/** A mailing list's account (Mailchimp): its name, login, data centre and API endpoint; it sends nothing itself. */
function mailingListFacts(account: readonly { name: string; value: string }[]): AccountFact[] {
  const rank = (name: string) => {
    const at = MAILING_LIST_FIELDS.indexOf(name);
    return at < 0 ? MAILING_LIST_FIELDS.length : at;
  };
  return [...account].sort((a, b) => rank(a.name) - rank(b.name)).map(namedFact);
}

// ---- The mailing list (Mailchimp) ----

export const OPT_IN_WORDS: Record<AudienceOptIn, string> = {
  DOUBLE: "Visitors confirm by email (recommended)",
  SINGLE: "Added at once",
};

/** What each opt-in does, in a sentence (beside the choice). */
export const OPT_IN_HINTS: Record<AudienceOptIn, string> = {
  DOUBLE:
    "The list emails each new member a link to confirm; they are subscribed once they follow it (double opt-in).",
  SINGLE: "Subscribed as soon as they tick the box in the widget: the tick is the opt-in (single opt-in).",
};

export const TAG_SOURCE_WORDS: Record<AudienceTagSource, string> = {
  INTENT: "The intents of the visitor's messages",
  PAGE: "The page the conversation started on",
  ASSISTANT: "The assistant the visitor talked to",
};

/** The tag each source gives, as an example (beside its checkbox). */
export const TAG_SOURCE_EXAMPLES: Record<AudienceTagSource, string> = {
  INTENT: "intent:refund",
  PAGE: "page:/pricing",
  ASSISTANT: "assistant:Ava",
};

/** The choices, in the order the form offers them (double opt-in first: the recommended one). */
export const OPT_INS = Object.keys(OPT_IN_WORDS) as AudienceOptIn[];
export const TAG_SOURCES = Object.keys(TAG_SOURCE_WORDS) as AudienceTagSource[];

/** What may fill a merge field: any of the mapping's sources but the email (the member itself). */
export const MERGE_SOURCES: readonly CrmMappingSource[] = SOURCES.filter((s) => s !== "VISITOR_EMAIL");

/** The longest consent wording the server takes. */
export const CONSENT_LABEL_MAX = 200;

/** The most tags, or merge fields, the settings hold. */
export const AUDIENCE_LIST_MAX = 30;

/** One merge field as the form holds it: its default as typed (empty for none). */
export interface MergeFieldValues {
  tag: string;
  source: CrmMappingSource;
  default: string;
}

/** One row of the merge field table (`key` keeps its inputs in place when rows are removed). */
export interface MergeFieldRow extends MergeFieldValues {
  key: number;
}

/** What the mailing-list settings form holds. */
export interface AudienceValues {
  /** The audience's id; empty when none is chosen. */
  audienceId: string;
  optIn: AudienceOptIn;
  tagSources: AudienceTagSource[];
  tags: string[];
  mergeFields: MergeFieldValues[];
  consentLabel: string;
}

/** The stored settings as the form holds them. */
export function audienceValuesOf(audience: {
  audienceId: string | null;
  optIn: AudienceOptIn;
  tagSources: readonly AudienceTagSource[];
  tags: readonly string[];
  mergeFields: readonly { tag: string; source: CrmMappingSource; default: string | null }[];
  consentLabel: string;
}): AudienceValues {
  return {
    audienceId: audience.audienceId ?? "",
    optIn: audience.optIn,
    tagSources: [...audience.tagSources],
    tags: [...audience.tags],
    mergeFields: audience.mergeFields.map((f) => ({
      tag: f.tag,
      source: f.source,
      default: f.default ?? "",
    })),
    consentLabel: audience.consentLabel,
  };
}

function sameMergeFields(a: readonly MergeFieldValues[], b: readonly MergeFieldValues[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (f, i) =>
        f.tag.trim() === b[i]?.tag.trim() &&
        f.source === b[i]?.source &&
        f.default.trim() === b[i]?.default.trim(),
    )
  );
}

/**
 * The changes from `before` to `after`, as `updateIntegration`'s `audience` input: only what changed. No audience
 * chosen is sent as null (which clears it); the tag sources in the form's order; the tags and the merge fields whole
 * (the server replaces them), trimmed, in the table's order (so that an error's row index is the table's), a default
 * left empty sent as none.
 */
export function audienceChanges(before: AudienceValues, after: AudienceValues): AudienceSettingsInput {
  const input: AudienceSettingsInput = {};
  const audience = after.audienceId.trim();
  if (audience !== before.audienceId.trim()) input.audienceId = audience === "" ? null : audience;
  if (after.optIn !== before.optIn) input.optIn = after.optIn;
  if (!sameSet(after.tagSources, before.tagSources))
    input.tagSources = TAG_SOURCES.filter((t) => after.tagSources.includes(t));
  if (!sameWords(after.tags, before.tags)) input.tags = after.tags.map((t) => t.trim());
  if (!sameMergeFields(after.mergeFields, before.mergeFields)) {
    input.mergeFields = after.mergeFields.map((f): AudienceMergeFieldInput => {
      const value = f.default.trim();
      return { tag: f.tag.trim(), source: f.source, default: value === "" ? null : value };
    });
  }
  const label = after.consentLabel.trim();
  if (label !== before.consentLabel.trim()) input.consentLabel = label;
  return input;
}

/** The parts of a merge field row an error may name. */
export type MergeFieldPart = "tag" | "source" | "default" | "row";

/** The problems of the mailing-list settings form, placed. */
export interface PlacedAudienceProblems {
  /** By setting: `audienceId`, `optIn`, `tagSources`, `tags`, `mergeFields` (the table), `consentLabel`. */
  fields: Record<string, string>;
  /** By row index of the merge field table, then by cell. */
  mergeFields: Record<number, Partial<Record<MergeFieldPart, string>>>;
  general: Problem[];
}

/**
 * Places the problems of `updateIntegration` for a mailing list (their `field` as `fromUserErrors` makes it,
 * `audience.mergeFields.0.tag` for `["input", "audience", "mergeFields", "0", "tag"]`, or as a service spells it,
 * `audience.merge_fields[0].tag`): a cell of a merge field row, a setting (an entry of the tags beside the tags, with
 * its position), or the summary.
 */
export function placeAudienceProblems(problems: readonly Problem[]): PlacedAudienceProblems {
  const placed: PlacedAudienceProblems = { fields: {}, mergeFields: {}, general: [] };
  for (const problem of problems) {
    const parts = problem.field ? pathParts(problem.field) : [];
    if (parts[0] === "audience") parts.shift();
    const [setting, index, cell] = parts;
    const row = index !== undefined && DIGITS.test(index) ? Number(index) : null;
    if (setting === "mergeFields" && row !== null) {
      const at: MergeFieldPart = cell === "tag" || cell === "source" || cell === "default" ? cell : "row";
      const cells = placed.mergeFields[row] ?? {};
      cells[at] ??= problem.message;
      placed.mergeFields[row] = cells;
    } else if (setting === "tags" && row !== null && parts.length === 2) {
      placed.fields.tags ??= `Tag ${row + 1}: ${problem.message}`;
    } else if (setting && parts.length === 1) {
      placed.fields[setting] ??= problem.message;
    } else {
      placed.general.push(problem);
    }
  }
  return placed;
}

/** An audience in words, for its option: its name and how many members it had when it was read. */
export function audienceWords(audience: { name: string; memberCount: number }): string {
  const count = audience.memberCount.toLocaleString("en");
  return `${audience.name} (${count} member${audience.memberCount === 1 ? "" : "s"})`;
}
