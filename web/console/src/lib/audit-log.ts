// audit-log.ts — the organization's audit log, newest first: the entries with who acted and on what, the filters
// (action, actor, target, dates), and the actions in words.
import { graphql } from "../gql";
import type { AuditAction, AuditActorType, AuditEntryViewFragment } from "../gql/graphql";

export const AuditEntryView = graphql(`
  fragment AuditEntryView on AuditEntry {
    id
    seq
    actorType
    actorId
    actor {
      id
      ... on Member {
        memberName: name
        email
      }
      ... on ApiKey {
        name
        prefix
      }
    }
    action
    targetType
    targetId
    target {
      id
      ... on Member {
        memberName: name
        email
      }
      ... on ApiKey {
        name
        prefix
      }
      ... on Webhook {
        url
      }
      ... on SsoConnection {
        name
      }
      ... on Organization {
        name
      }
      ... on Assistant {
        name
      }
    }
    ip
    userAgent
    before
    after
    createdAt
    prevHash
    hash
  }
`);

export const AuditLogDocument = graphql(`
  query AuditLog(
    $after: String
    $action: AuditAction
    $actorId: ID
    $targetId: ID
    $createdAfter: DateTime
    $createdBefore: DateTime
  ) {
    auditLog(
      first: 50
      after: $after
      action: $action
      actorId: $actorId
      targetId: $targetId
      createdAfter: $createdAfter
      createdBefore: $createdBefore
    ) {
      nodes {
        ...AuditEntryView
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      totalCount
    }
  }
`);

/** The members and API keys that may have acted, for the actor filter (each list only when the role reads it). */
export const AuditActorsDocument = graphql(`
  query AuditActors($members: Boolean!, $keys: Boolean!) {
    members(first: 100) @include(if: $members) {
      nodes {
        id
        name
        email
      }
    }
    apiKeys(first: 100) @include(if: $keys) {
      nodes {
        id
        name
        prefix
      }
    }
  }
`);

type ActionWords = { label: string; description: string; group: string };

/** Each action: a short label, the schema's description, and the area it belongs to. */
export const ACTIONS: Record<AuditAction, ActionWords> = {
  API_KEY_CREATED: { group: "API keys", label: "API key created", description: "An API key was created." },
  API_KEY_REVOKED: { group: "API keys", label: "API key revoked", description: "An API key was revoked." },
  API_KEY_ROTATED: {
    group: "API keys",
    label: "API key rotated",
    description: "An API key's secret was replaced.",
  },
  INTEGRATION_CONNECTED: {
    group: "Integrations",
    label: "Integration connected",
    description: "An integration was connected.",
  },
  INTEGRATION_UPDATED: {
    group: "Integrations",
    label: "Integration changed",
    description: "An integration's settings changed.",
  },
  INTEGRATION_DISCONNECTED: {
    group: "Integrations",
    label: "Integration disconnected",
    description: "An integration was disconnected.",
  },
  EMAIL_TEMPLATE_UPDATED: {
    group: "Integrations",
    label: "Visitor email changed",
    description: "A visitor email's template changed, was turned on or off, or was put back to the default.",
  },
  MEMBER_INVITED: { group: "Members", label: "Member invited", description: "A member was invited." },
  MEMBER_INVITATION_ISSUED: {
    group: "Members",
    label: "Invitation link issued",
    description: "An invitation link was issued to a member.",
  },
  MEMBER_PASSWORD_SET: {
    group: "Members",
    label: "Password set",
    description: "A member set a password through an invitation.",
  },
  MEMBER_ROLE_CHANGED: {
    group: "Members",
    label: "Role changed",
    description: "A member's role changed, by a person or by single sign-on role mapping.",
  },
  MEMBER_DEACTIVATED: {
    group: "Members",
    label: "Member deactivated",
    description: "A member was deactivated.",
  },
  MEMBER_PROVISIONED: {
    group: "Members",
    label: "Member provisioned",
    description: "A member was created by their first single sign-on.",
  },
  MEMBER_LOGIN: { group: "Sign-in", label: "Signed in", description: "A member signed in." },
  MEMBER_LOGIN_FAILED: {
    group: "Sign-in",
    label: "Sign-in failed",
    description: "A sign-in failed (wrong password, locked or deactivated account).",
  },
  MEMBER_SSO_FAILED: {
    group: "Sign-in",
    label: "Single sign-on refused",
    description: "A single sign-on was refused.",
  },
  MEMBER_LOGOUT: { group: "Sign-in", label: "Signed out", description: "A member signed out." },
  SESSION_REVOKED: { group: "Sign-in", label: "Session ended", description: "A member's session was ended." },
  ORGANIZATION_CREATED: {
    group: "Organization",
    label: "Organization created",
    description: "The organization was created.",
  },
  ORGANIZATION_PLAN_CHANGED: {
    group: "Organization",
    label: "Plan changed",
    description: "The organization's plan changed.",
  },
  ORGANIZATION_SSO_ENFORCED: {
    group: "Single sign-on",
    label: "Single sign-on requirement changed",
    description: "Single sign-on was required or made optional.",
  },
  SSO_CONNECTION_CREATED: {
    group: "Single sign-on",
    label: "SSO connection added",
    description: "A single sign-on connection was added.",
  },
  SSO_CONNECTION_UPDATED: {
    group: "Single sign-on",
    label: "SSO connection changed",
    description: "A single sign-on connection was changed.",
  },
  SSO_CONNECTION_DELETED: {
    group: "Single sign-on",
    label: "SSO connection deleted",
    description: "A single sign-on connection was deleted.",
  },
  WEBHOOK_CREATED: {
    group: "Webhooks",
    label: "Webhook added",
    description: "A webhook endpoint was added.",
  },
  WEBHOOK_UPDATED: {
    group: "Webhooks",
    label: "Webhook changed",
    description: "A webhook endpoint was changed.",
  },
  WEBHOOK_SECRET_ROTATED: {
    group: "Webhooks",
    label: "Webhook secret rotated",
    description: "A webhook endpoint's signing secret was replaced.",
  },
  WEBHOOK_DELETED: {
    group: "Webhooks",
    label: "Webhook deleted",
    description: "A webhook endpoint was deleted.",
  },
};

/** The actions by area, in the order of `ACTIONS`, for the filter's groups. */
export function actionGroups(): { group: string; actions: AuditAction[] }[] {
  const groups: { group: string; actions: AuditAction[] }[] = [];
  for (const [action, words] of Object.entries(ACTIONS) as [AuditAction, ActionWords][]) {
    let group = groups.find((g) => g.group === words.group);
    if (!group) {
      group = { group: words.group, actions: [] };
      groups.push(group);
    }
    group.actions.push(action);
  }
  return groups;
}

export function isAction(value: string | null): value is AuditAction {
  return value !== null && value in ACTIONS;
}

export const ACTOR_TYPES: Record<AuditActorType, string> = {
  USER: "Member",
  API_KEY: "API key",
  VISITOR: "Visitor",
  ANONYMOUS: "Someone not signed in",
  SYSTEM: "The server",
};

const TARGET_TYPES: Record<string, string> = {
  api_key: "API key",
  member: "Member",
  organization: "Organization",
  sso_connection: "SSO connection",
  webhook: "Webhook",
  assistant: "Assistant",
  session: "Session",
};

export function targetTypeName(type: string): string {
  return TARGET_TYPES[type] ?? type.replaceAll("_", " ");
}

type Named = AuditEntryViewFragment["actor"] | AuditEntryViewFragment["target"];

/** What a member, key, endpoint or connection is called, when the entry's node says so. */
function nameOf(node: Named): string | null {
  if (!node) return null;
  if ("email" in node) return node.memberName ? `${node.memberName} (${node.email})` : node.email;
  if ("prefix" in node) return `${node.name} (${node.prefix}…)`;
  if ("url" in node) return node.url;
  if ("name" in node && typeof node.name === "string") return node.name;
  return null;
}

/** Who acted, in words. */
export function actorWords(entry: AuditEntryViewFragment): {
  kind: string;
  name: string | null;
  gone: boolean;
} {
  const kind = ACTOR_TYPES[entry.actorType];
  const name = nameOf(entry.actor);
  return {
    kind,
    name: name ?? entry.actorId ?? null,
    gone: !name && entry.actorId !== null && entry.actorType !== "VISITOR",
  };
}

/** What was acted on, in words. */
export function targetWords(entry: AuditEntryViewFragment): {
  kind: string;
  name: string | null;
  gone: boolean;
} {
  const kind = targetTypeName(entry.targetType);
  const name = nameOf(entry.target);
  return { kind, name: name ?? entry.targetId ?? null, gone: !name && entry.targetId !== null };
}

export type Change = { key: string; before: string; after: string; changed: boolean };

function show(value: unknown): string {
  if (value === undefined) return "";
  if (value === null) return "null";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The recorded state before and after, key by key (when both are objects or absent); null otherwise. */
export function changes(before: unknown, after: unknown): Change[] | null {
  const b = before ?? {};
  const a = after ?? {};
  if (!isRecord(b) || !isRecord(a)) return null;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
  return keys.map((key) => {
    const was = show(b[key]);
    const now = show(a[key]);
    return { key, before: key in b ? was : "", after: key in a ? now : "", changed: was !== now };
  });
}

/** A day (`2026-01-31` of a date input) as the start of that day where the browser is. */
export function startOfDay(day: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const at = new Date(`${day}T00:00:00`);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** The start of the day after `day`, so that a range "to" a day includes it. */
export function endOfDay(day: string): string | null {
  const start = startOfDay(day);
  if (!start) return null;
  const at = new Date(start);
  at.setDate(at.getDate() + 1);
  return at.toISOString();
}
