// notifications.ts — the Notifications settings page's GraphQL documents: the organization's notification rules
// (which events email whom, about which conversations, how often), with the assistants a rule may be limited to and
// whether an email integration is connected to send them; making, changing and deleting a rule; plus their enums in
// words, and the pure helpers the page needs: a rule in words, the form's values and the input they make, and where
// the server's errors go.
import { graphql } from "../gql";
import type {
  IntegrationCategory,
  IntegrationProviderKey,
  IntegrationStatus,
  NotificationEvent,
  NotificationRecipients,
  NotificationRuleInput,
} from "../gql/graphql";
import { keepsMailingList } from "./integrations";
import type { Problem } from "./problems";

export const NotificationRuleView = graphql(`
  fragment NotificationRuleView on NotificationRule {
    id
    name
    events
    recipients
    addresses
    assistantId
    pagePath
    intent
    windowMinutes
    enabled
    createdAt
    updatedAt
  }
`);

export const NotificationRulesDocument = graphql(`
  query NotificationRules {
    notificationRules {
      ...NotificationRuleView
    }
    assistants {
      id
      name
    }
    integrations {
      key
      name
      category
      integration {
        id
        status
      }
    }
  }
`);

export const CreateNotificationRuleDocument = graphql(`
  mutation CreateNotificationRule($input: NotificationRuleInput!) {
    createNotificationRule(input: $input) {
      notificationRule {
        ...NotificationRuleView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const UpdateNotificationRuleDocument = graphql(`
  mutation UpdateNotificationRule($id: ID!, $input: NotificationRuleInput!) {
    updateNotificationRule(id: $id, input: $input) {
      notificationRule {
        ...NotificationRuleView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const DeleteNotificationRuleDocument = graphql(`
  mutation DeleteNotificationRule($id: ID!) {
    deleteNotificationRule(id: $id) {
      notificationRule {
        id
        name
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

/** Each event as a checkbox names it. */
export const EVENT_WORDS: Record<NotificationEvent, string> = {
  NEW_CONVERSATION: "New conversation",
  HANDOFF: "Hand-off to a person",
  QUERY_FAILED: "Unanswered question",
  NEGATIVE_SENTIMENT: "Negative message",
};

/** What each event is, in a sentence (under its checkbox). */
export const EVENT_HINTS: Record<NotificationEvent, string> = {
  NEW_CONVERSATION: "A visitor starts a conversation.",
  HANDOFF: "A conversation is handed to a person.",
  QUERY_FAILED: "The assistant could not answer a visitor's question.",
  NEGATIVE_SENTIMENT: "A visitor's message reads as clearly negative.",
};

/** Each event in a list of them ("new conversations and hand-offs"). */
const EVENT_PLURALS: Record<NotificationEvent, string> = {
  NEW_CONVERSATION: "new conversations",
  HANDOFF: "hand-offs",
  QUERY_FAILED: "unanswered questions",
  NEGATIVE_SENTIMENT: "negative messages",
};

/** The events, in the order the form offers them. */
export const EVENTS = Object.keys(EVENT_WORDS) as NotificationEvent[];

/** Each choice of recipients as its radio button names it. */
export const RECIPIENT_WORDS: Record<NotificationRecipients, string> = {
  ADMINS: "Owners and admins",
  TEAM: "The whole team",
  ADDRESSES: "Addresses you list",
};

/** What each choice of recipients means, in a sentence (under its radio button). */
export const RECIPIENT_HINTS: Record<NotificationRecipients, string> = {
  ADMINS: "Every active owner and admin of the organization.",
  TEAM: "Every active member, whatever their role.",
  ADDRESSES: "Up to 20 addresses, members or not, such as a shared inbox.",
};

/** The choices of recipients, in the order the form offers them. */
export const RECIPIENTS = Object.keys(RECIPIENT_WORDS) as NotificationRecipients[];

/** The most addresses a rule lists. */
export const ADDRESSES_MAX = 20;

/** The shortest and the longest window, in minutes, and a new rule's. */
export const WINDOW_MIN = 1;
export const WINDOW_MAX = 1440;
export const WINDOW_DEFAULT = 30;

/** Words joined as a person lists them: `a`, `a and b`, `a, b and c`. */
export function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words[0] ?? "";
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A rule's events in words, in the form's order: `New conversations and hand-offs`. */
export function eventsWords(events: readonly NotificationEvent[]): string {
  const words = EVENTS.filter((e) => events.includes(e)).map((e) => EVENT_PLURALS[e]);
  return words.length ? capitalized(listWords(words)) : "No event";
}

/** Who a rule emails, in words: the owners and admins, the whole team, or its addresses. */
export function recipientsWords(rule: {
  recipients: NotificationRecipients;
  addresses: readonly string[];
}): string {
  if (rule.recipients === "ADMINS") return "The owners and admins";
  if (rule.recipients === "TEAM") return "Every active member";
  return rule.addresses.length ? listWords(rule.addresses) : "No address yet";
}

/** Which conversations a rule is about, in words: each of its filters, or every conversation. */
export function filtersWords(
  rule: { assistantId: string | null; pagePath: string | null; intent: string | null },
  assistants: readonly { id: string; name: string }[],
): string {
  const parts: string[] = [];
  if (rule.assistantId) {
    const assistant = assistants.find((a) => a.id === rule.assistantId);
    parts.push(assistant ? `with ${assistant.name}` : "with an assistant that no longer exists");
  }
  if (rule.pagePath) parts.push(`started on a page under ${rule.pagePath}`);
  if (rule.intent) parts.push(`where a visitor showed the intent ${rule.intent}`);
  return parts.length ? capitalized(`conversations ${listWords(parts)}`) : "Every conversation";
}

/** A number of minutes in words: `30 minutes`, `1 hour`, `90 minutes`, `2 hours`, `1 day`. */
export function minutesWords(minutes: number): string {
  if (minutes === WINDOW_MAX) return "1 day";
  if (minutes >= 60 && minutes % 60 === 0) {
    const hours = minutes / 60;
    return `${hours} hour${hours === 1 ? "" : "s"}`;
  }
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

/** How often a rule may email about one conversation, in words. */
export function windowWords(minutes: number): string {
  return `At most one email per conversation and event every ${minutesWords(minutes)}`;
}

/** The addresses typed in the form, one per line or separated by commas or semicolons: trimmed, none empty. */
export function addressesOf(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((address) => address.trim())
    .filter((address) => address !== "");
}

/** What the rule form holds. */
export interface RuleValues {
  name: string;
  events: NotificationEvent[];
  recipients: NotificationRecipients;
  /** As typed: one per line, or separated by commas. */
  addresses: string;
  /** Empty: any assistant. */
  assistantId: string;
  pagePath: string;
  intent: string;
  /** Null when the field is empty (or not a number). */
  windowMinutes: number | null;
  enabled: boolean;
}

/** A new rule's values: the owners and admins, a 30-minute window, on. */
export const NEW_RULE: RuleValues = {
  name: "",
  events: [],
  recipients: "ADMINS",
  addresses: "",
  assistantId: "",
  pagePath: "",
  intent: "",
  windowMinutes: WINDOW_DEFAULT,
  enabled: true,
};

/** A stored rule as the form holds it (its addresses one per line). */
export function ruleValuesOf(rule: {
  name: string;
  events: readonly NotificationEvent[];
  recipients: NotificationRecipients;
  addresses: readonly string[];
  assistantId: string | null;
  pagePath: string | null;
  intent: string | null;
  windowMinutes: number;
  enabled: boolean;
}): RuleValues {
  return {
    name: rule.name,
    events: EVENTS.filter((e) => rule.events.includes(e)),
    recipients: rule.recipients,
    addresses: rule.addresses.join("\n"),
    assistantId: rule.assistantId ?? "",
    pagePath: rule.pagePath ?? "",
    intent: rule.intent ?? "",
    windowMinutes: rule.windowMinutes,
    enabled: rule.enabled,
  };
}

/**
 * The form's values as `createNotificationRule`'s or `updateNotificationRule`'s input: the whole rule, trimmed, its
 * events in the form's order; the addresses only with `ADDRESSES` (an empty list otherwise, so that none is kept for
 * recipients who do not need them); an empty filter as `null` (any, and cleared on a change).
 */
export function ruleInput(values: RuleValues): NotificationRuleInput {
  const input: NotificationRuleInput = {
    name: values.name.trim(),
    events: EVENTS.filter((e) => values.events.includes(e)),
    recipients: values.recipients,
    addresses: values.recipients === "ADDRESSES" ? addressesOf(values.addresses) : [],
    assistantId: values.assistantId || null,
    pagePath: values.pagePath.trim() || null,
    intent: values.intent.trim() || null,
    enabled: values.enabled,
  };
  if (values.windowMinutes !== null) input.windowMinutes = values.windowMinutes;
  return input;
}

/**
 * What the form can tell without the server: a name, at least one event, addresses when the rule lists them (at
 * most 20), a page path that starts with `/`, a window of 1 to 1,440 minutes. Each problem names its field as the
 * server's would (`addresses`, `windowMinutes`).
 */
export function ruleProblems(values: RuleValues): Problem[] {
  const found: Problem[] = [];
  if (!values.name.trim()) found.push({ field: "name", message: "Enter a name for the rule." });
  if (!values.events.length) found.push({ field: "events", message: "Choose at least one event." });
  if (values.recipients === "ADDRESSES") {
    const addresses = addressesOf(values.addresses);
    if (!addresses.length) {
      found.push({ field: "addresses", message: "List at least one address, or choose other recipients." });
    } else if (addresses.length > ADDRESSES_MAX) {
      found.push({ field: "addresses", message: `List at most ${ADDRESSES_MAX} addresses.` });
    }
  }
  const path = values.pagePath.trim();
  if (path && !path.startsWith("/")) {
    found.push({ field: "pagePath", message: "Enter a path that starts with /, such as /pricing." });
  }
  const minutes = values.windowMinutes;
  if (minutes === null || !Number.isInteger(minutes) || minutes < WINDOW_MIN || minutes > WINDOW_MAX) {
    found.push({
      field: "windowMinutes",
      message: `Enter a whole number of minutes from ${WINDOW_MIN} to ${WINDOW_MAX.toLocaleString("en")}.`,
    });
  }
  return found;
}

/** A field of the rule form. */
export type RuleField = keyof RuleValues;

const RULE_FIELDS = Object.keys(NEW_RULE) as RuleField[];

/** The problems of the rule form, placed: beside a field, or in the summary. */
export interface PlacedRuleProblems {
  fields: Partial<Record<RuleField, string>>;
  general: Problem[];
}

/** A field path as the server may spell it (`addresses[1]`, `page_path`) in the console's (`addresses.1`, `pagePath`). */
function pathParts(field: string): string[] {
  return field
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    .split(".")
    .filter((part) => part !== "");
}

/**
 * Places the problems of a rule's mutation (their `field` as `fromUserErrors` makes it: `addresses.1` for
 * `["input", "addresses", "1"]`, `pagePath`, `events.0`): beside their field, an address with its position and
 * what was typed there when `addresses` are given; the first one of each field kept; the rest in the summary.
 */
export function placeRuleProblems(
  problems: readonly Problem[],
  addresses: readonly string[] = [],
): PlacedRuleProblems {
  const placed: PlacedRuleProblems = { fields: {}, general: [] };
  for (const problem of problems) {
    const [name, index, ...rest] = problem.field ? pathParts(problem.field) : [];
    const field = RULE_FIELDS.find((f) => f === name);
    const entry = index !== undefined && /^\d+$/.test(index) ? Number(index) : null;
    if (!field || rest.length > 0 || (index !== undefined && entry === null)) {
      placed.general.push(problem);
    } else if (field === "addresses" && entry !== null) {
      const typed = addresses[entry];
      placed.fields.addresses ??= `Address ${entry + 1}${typed ? ` (${typed})` : ""}: ${problem.message}`;
    } else {
      placed.fields[field] ??= problem.message;
    }
  }
  return placed;
}

/**
 * Whether an email integration that sends mail is connected, through which the rules send (a mailing list such as
 * Mailchimp, also of the email category, sends none).
 */
export function emailConnected(
  providers: readonly {
    key?: IntegrationProviderKey;
    category: IntegrationCategory;
    integration: { status: IntegrationStatus } | null;
  }[],
): boolean {
  return providers.some(
    (p) =>
      p.category === "EMAIL" && !(p.key && keepsMailingList(p.key)) && p.integration?.status === "CONNECTED",
  );
}
