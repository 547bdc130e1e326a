// api-keys.ts — the API keys settings page's GraphQL documents: the keys, their usage per day, and what an admin
// does with them (create, rotate, revoke); plus the roles and scopes a key may have, in words.
import { graphql } from "../gql";
import type { ApiKeyScope, MemberRole } from "../gql/graphql";

export const ApiKeyView = graphql(`
  fragment ApiKeyView on ApiKey {
    id
    name
    prefix
    role
    scopes
    expiresAt
    revokedAt
    lastUsedAt
    allowedCidrs
    requestCount
    previousSecretExpiresAt
    createdAt
    createdById
    createdBy {
      ... on Member {
        id
        name
        email
      }
      ... on ApiKey {
        id
        keyName: name
      }
    }
  }
`);

export const ApiKeysDocument = graphql(`
  query ApiKeys($after: String) {
    apiKeys(first: 100, after: $after) {
      nodes {
        ...ApiKeyView
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ApiKeyUsageDocument = graphql(`
  query ApiKeyUsage($days: Int!, $apiKeyId: ID) {
    apiKeyUsage(days: $days, apiKeyId: $apiKeyId) {
      apiKeyId
      day
      requests
    }
  }
`);

export const CreateApiKeyDocument = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      apiKey {
        ...ApiKeyView
      }
      secret
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RotateApiKeyDocument = graphql(`
  mutation RotateApiKey($id: ID!, $gracePeriodSeconds: Int!) {
    rotateApiKey(id: $id, gracePeriodSeconds: $gracePeriodSeconds) {
      apiKey {
        ...ApiKeyView
      }
      secret
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RevokeApiKeyDocument = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      apiKey {
        ...ApiKeyView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

/** The scopes a key may be narrowed to, in the schema's order, with what each allows. */
export const SCOPES: readonly { scope: ApiKeyScope; label: string; description: string }[] = [
  {
    scope: "ORGANIZATION_READ",
    label: "Organization: read",
    description: "The organization, its assistants and plan.",
  },
  {
    scope: "CONVERSATIONS_READ",
    label: "Conversations: read",
    description: "Read conversations, their messages and visitors.",
  },
  {
    scope: "CONVERSATIONS_WRITE",
    label: "Conversations: write",
    description: "Create and update conversations and messages (includes reading them).",
  },
  {
    scope: "KNOWLEDGE_BASE_READ",
    label: "Knowledge base: read",
    description: "Read knowledge-base entries and search them.",
  },
  {
    scope: "KNOWLEDGE_BASE_WRITE",
    label: "Knowledge base: write",
    description: "Create, update and delete entries (includes reading them).",
  },
  {
    scope: "ANALYTICS_READ",
    label: "Analytics: read",
    description: "Read analytics (and export them where the plan includes it).",
  },
  {
    scope: "API_KEYS_MANAGE",
    label: "API keys: manage",
    description: "List, create, rotate and revoke API keys.",
  },
  {
    scope: "MEMBERS_MANAGE",
    label: "Members: manage",
    description: "List, invite, change and deactivate team members (granting roles up to admin).",
  },
  { scope: "AUDIT_LOG_READ", label: "Audit log: read", description: "Read the audit log." },
  {
    scope: "WEBHOOKS_MANAGE",
    label: "Webhooks: manage",
    description: "Webhook endpoints and their deliveries.",
  },
];

const SCOPE_LABELS = Object.fromEntries(SCOPES.map((s) => [s.scope, s.label])) as Record<ApiKeyScope, string>;

export function scopeLabel(scope: ApiKeyScope): string {
  return SCOPE_LABELS[scope] ?? scope;
}

/** The roles a key may have, strongest first, with what each may do. */
export const ROLES: readonly { role: MemberRole; label: string; description: string }[] = [
  {
    role: "OWNER",
    label: "Owner",
    description: "Everything an admin may do, plus the plan, single sign-on and making other owners.",
  },
  {
    role: "ADMIN",
    label: "Admin",
    description: "Settings, assistants, the knowledge base, API keys, webhooks, the team and the audit log.",
  },
  {
    role: "AGENT",
    label: "Agent",
    description: "Reads and replies to conversations, updates visitors and reads the knowledge base.",
  },
  {
    role: "ANALYST",
    label: "Analyst",
    description: "Reads conversations and analytics, without changing anything.",
  },
  {
    role: "VIEWER",
    label: "Viewer",
    description: "Reads conversations and the knowledge base, without changing anything.",
  },
];

export function roleLabel(role: MemberRole): string {
  return ROLES.find((r) => r.role === role)?.label ?? role;
}

/** The roles a member may give a key: none above their own (only an owner makes owner keys). */
export function grantable(own: MemberRole): MemberRole[] {
  return ROLES.map((r) => r.role).filter((role) => own === "OWNER" || role !== "OWNER");
}

/** How long the old secret keeps working after a rotation, in seconds (the API allows 0 to 7 days). */
export const GRACE_PERIODS: readonly { seconds: number; label: string }[] = [
  { seconds: 0, label: "Stop at once" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 86400, label: "24 hours" },
  { seconds: 259200, label: "3 days" },
  { seconds: 604800, label: "7 days" },
];

/** The lines of a textarea, trimmed, without the empty ones. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

/** The end of a `yyyy-mm-dd` day in the browser's time zone, as an RFC 3339 instant; null when empty. */
export function endOfDay(day: string): string | null {
  if (!day) return null;
  const at = new Date(`${day}T23:59:59`);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** Today as a `yyyy-mm-dd` value of a date input, in the browser's time zone. */
export function today(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** The `YYYY-MM-DD` UTC days of the last `days` days, newest first, today included. */
export function lastDays(days: number, now = new Date()): string[] {
  const out: string[] = [];
  for (let i = 0; i < days; i++) {
    const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - i));
    out.push(at.toISOString().slice(0, 10));
  }
  return out;
}
