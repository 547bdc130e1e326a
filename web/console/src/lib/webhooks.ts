// webhooks.ts — the Webhooks settings page's GraphQL documents: the endpoints, one endpoint's delivery log, and
// what an admin does with them (create, change, delete, rotate the secret, test, redeliver, replay); plus the
// event types an endpoint may subscribe to, in words.
import { graphql } from "../gql";
import type { EventType, WebhookDeliveryStatus, WebhookStatus } from "../gql/graphql";
import type { Problem } from "./problems";

export const WebhookView = graphql(`
  fragment WebhookView on Webhook {
    id
    url
    events
    description
    active
    status
    disabledReason
    previousSecretExpiresAt
    createdAt
    updatedAt
  }
`);

export const DeliveryView = graphql(`
  fragment DeliveryView on WebhookDelivery {
    id
    eventId
    eventType
    status
    attemptCount
    nextAttemptAt
    lastStatusCode
    lastError
    createdAt
    attempts {
      attempt
      statusCode
      latencyMs
      error
      responseExcerpt
      createdAt
    }
  }
`);

export const WebhooksDocument = graphql(`
  query Webhooks($after: String) {
    webhooks(first: 50, after: $after) {
      nodes {
        ...WebhookView
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const WebhookDocument = graphql(`
  query Webhook($id: ID!) {
    webhook(id: $id) {
      ...WebhookView
    }
  }
`);

export const DeliveriesDocument = graphql(`
  query WebhookDeliveries($webhookId: ID!, $first: Int, $after: String) {
    webhookDeliveries(webhookId: $webhookId, first: $first, after: $after) {
      nodes {
        ...DeliveryView
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const CreateWebhookDocument = graphql(`
  mutation CreateWebhook($input: CreateWebhookInput!) {
    createWebhook(input: $input) {
      webhook {
        ...WebhookView
      }
      secret
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const UpdateWebhookDocument = graphql(`
  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) {
      webhook {
        ...WebhookView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const DeleteWebhookDocument = graphql(`
  mutation DeleteWebhook($id: ID!) {
    deleteWebhook(id: $id) {
      deletedWebhookId
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RotateWebhookSecretDocument = graphql(`
  mutation RotateWebhookSecret($id: ID!) {
    rotateWebhookSecret(id: $id) {
      webhook {
        ...WebhookView
      }
      secret
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const TestWebhookDocument = graphql(`
  mutation TestWebhook($id: ID!) {
    testWebhook(id: $id) {
      delivery {
        ...DeliveryView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const RedeliverWebhookDocument = graphql(`
  mutation RedeliverWebhook($id: ID!, $deliveryId: ID!) {
    redeliverWebhook(id: $id, deliveryId: $deliveryId) {
      delivery {
        ...DeliveryView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ReplayWebhookDocument = graphql(`
  mutation ReplayWebhook($id: ID!, $input: ReplayWebhookInput!) {
    replayWebhook(id: $id, input: $input) {
      queued
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

/**
 * The event types an endpoint may subscribe to, with their wire name and what they mean. The server refuses the
 * others of `EventType`: the knowledge-base entry events (read them from the event stream) and `webhook.test`,
 * which only `testWebhook` sends.
 */
export const SUBSCRIBABLE: readonly { type: EventType; description: string }[] = [
  {
    type: "CONVERSATION_CREATED",
    description: "A visitor or an API client started a conversation.",
  },
  {
    type: "CONVERSATION_UPDATED",
    description: "A conversation's status, subject or sentiment changed.",
  },
  {
    type: "CONVERSATION_RESOLVED",
    description: "A conversation was marked resolved.",
  },
  { type: "MESSAGE_CREATED", description: "A message was added to a conversation." },
  {
    type: "HANDOFF_REQUESTED",
    description: "A conversation was handed to a person.",
  },
  {
    type: "FEEDBACK_RECEIVED",
    description: "A visitor rated an answer or a conversation.",
  },
  {
    type: "KNOWLEDGE_BASE_QUERY_FAILED",
    description: "The assistant found no answer in the knowledge base.",
  },
  { type: "VISITOR_UPDATED", description: "A visitor's contact details changed." },
  {
    type: "VISITOR_FORM_SUBMITTED",
    description: "A visitor left their contact details through the widget's contact form, in a conversation.",
  },
  {
    type: "WEBHOOK_DISABLED",
    description: "Deliveries to a webhook endpoint were switched off after failing.",
  },
  {
    type: "INTEGRATION_CONNECTED",
    description: "An integration was connected (or reconnected) to its vendor.",
  },
  { type: "INTEGRATION_DISCONNECTED", description: "An integration was disconnected." },
  {
    type: "INTEGRATION_AUTH_FAILED",
    description:
      "An integration's authorization was refused for good: it waits for the organization to reconnect it.",
  },
  {
    type: "INTEGRATION_SYNC_FAILED",
    description:
      "An integration job failed for good: the vendor refused what was sent, or its retries ran out.",
  },
];

/** An event type as receivers see it (`CONVERSATION_CREATED` is `conversation.created`). */
const WIRE_NAMES: Record<EventType, string> = {
  CONVERSATION_CREATED: "conversation.created",
  CONVERSATION_UPDATED: "conversation.updated",
  CONVERSATION_RESOLVED: "conversation.resolved",
  MESSAGE_CREATED: "message.created",
  HANDOFF_REQUESTED: "handoff.requested",
  FEEDBACK_RECEIVED: "feedback.received",
  KNOWLEDGE_BASE_QUERY_FAILED: "knowledge_base.query_failed",
  VISITOR_UPDATED: "visitor.updated",
  VISITOR_FORM_SUBMITTED: "visitor.form_submitted",
  KNOWLEDGE_BASE_ENTRY_CREATED: "knowledge_base.entry_created",
  KNOWLEDGE_BASE_ENTRY_UPDATED: "knowledge_base.entry_updated",
  KNOWLEDGE_BASE_ENTRY_DELETED: "knowledge_base.entry_deleted",
  WEBHOOK_DISABLED: "webhook.disabled",
  INTEGRATION_CONNECTED: "integration.connected",
  INTEGRATION_DISCONNECTED: "integration.disconnected",
  INTEGRATION_AUTH_FAILED: "integration.auth_failed",
  INTEGRATION_SYNC_FAILED: "integration.sync_failed",
  WEBHOOK_TEST: "webhook.test",
};

export function eventName(type: EventType): string {
  return WIRE_NAMES[type];
}

/** Whether an endpoint's events are every one it may subscribe to. */
export function allEvents(events: readonly EventType[]): boolean {
  return SUBSCRIBABLE.every((e) => events.includes(e.type));
}

export const STATUS_WORDS: Record<WebhookStatus, string> = {
  ACTIVE: "Active",
  PAUSED: "Paused",
  DISABLED: "Disabled",
  PLAN_INACTIVE: "Plan inactive",
};

export const DELIVERY_WORDS: Record<WebhookDeliveryStatus, string> = {
  PENDING: "Pending",
  SUCCEEDED: "Delivered",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

/**
 * The problems of a webhook mutation, each beside its field: a conflict names no field in `userErrors` but says
 * which in its message (`url: webhook whk_… already delivers to …`).
 */
export function placed(problems: readonly Problem[]): Problem[] {
  return problems.map((p) => {
    if (p.field) return p;
    const named = /^(url|events|description): (.+)$/s.exec(p.message);
    return named?.[1] && named[2] ? { ...p, field: named[1], message: named[2] } : p;
  });
}

/** A `datetime-local` value (the browser's time zone) as an RFC 3339 instant; null when empty or invalid. */
export function instant(local: string): string | null {
  if (!local) return null;
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** An instant as a `datetime-local` value in the browser's time zone, to the minute. */
export function localInput(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}
