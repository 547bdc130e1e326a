// conversations.ts — the inbox's GraphQL documents: the list's rows, one conversation with its messages, the
// live events, and the agent's actions.
import { graphql } from "../gql";

export const ConversationRow = graphql(`
  fragment ConversationRow on Conversation {
    id
    status
    subject
    sourceUrl
    pageTitle
    sentiment
    createdAt
    updatedAt
    handedOffAt
    assistantId
    visitor {
      id
      name
      email
    }
    assistant {
      id
      name
    }
    lastMessage: messages(last: 1) {
      nodes {
        id
        author
        body
        createdAt
        attachments {
          id
        }
      }
    }
  }
`);

export const InboxDocument = graphql(`
  query Inbox($status: ConversationStatus, $assistantId: ID, $after: String) {
    conversations(first: 50, status: $status, assistantId: $assistantId, after: $after) {
      nodes {
        ...ConversationRow
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      totalCount
    }
    assistants {
      id
      name
    }
  }
`);

export const RowDocument = graphql(`
  query InboxRow($id: ID!) {
    conversation(id: $id) {
      ...ConversationRow
    }
  }
`);

export const MessageView = graphql(`
  fragment MessageView on Message {
    id
    author
    body
    createdAt
    confidence
    sentiment
    replySource
    fallbackReason
    sourceEntry {
      id
      title
    }
    citedEntries {
      id
      title
    }
    attachments {
      id
      contentType
      byteSize
      url
      urlExpiresAt
    }
  }
`);

export const ConversationDocument = graphql(`
  query Conversation($id: ID!) {
    conversation(id: $id) {
      ...ConversationRow
      visitor {
        id
        marketingConsent
        marketingConsentAt
      }
      browser
      device
      handoffReason
      resolvedAt
      firstResponseAt
      messages(last: 100) {
        nodes {
          ...MessageView
        }
      }
    }
  }
`);

export const InboxEventsDocument = graphql(`
  subscription InboxEvents($after: ID) {
    organizationEvents(
      types: [CONVERSATION_CREATED, CONVERSATION_UPDATED, CONVERSATION_RESOLVED, MESSAGE_CREATED, HANDOFF_REQUESTED]
      after: $after
    ) {
      id
      type
      conversationId
    }
  }
`);

export const MessageAddedDocument = graphql(`
  subscription MessageAdded($conversationId: ID!) {
    messageAdded(conversationId: $conversationId) {
      ...MessageView
    }
  }
`);

export const HandOffDocument = graphql(`
  mutation HandOff($id: ID!) {
    handOffConversation(id: $id) {
      conversation {
        id
        status
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ReopenDocument = graphql(`
  mutation Reopen($id: ID!) {
    reopenConversation(id: $id) {
      conversation {
        id
        status
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ResolveDocument = graphql(`
  mutation Resolve($id: ID!) {
    resolveConversation(id: $id) {
      conversation {
        id
        status
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ReplyDocument = graphql(`
  mutation Reply($input: SendMessageInput!) {
    sendMessage(input: $input) {
      message {
        ...MessageView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const STATUS_NAMES = {
  OPEN: "Open",
  HANDED_OFF: "Handed off",
  RESOLVED: "Resolved",
  CLOSED: "Closed",
} as const;

export const HANDOFF_REASONS = {
  REQUESTED: "a team member took over",
  VISITOR_REQUEST: "the visitor asked for a person",
  FAILED_RESPONSES: "the assistant could not answer several times",
  NEGATIVE_SENTIMENT: "the visitor seemed unhappy",
} as const;

/**
 * The visitor's marketing consent in words: given on a date, withdrawn on one, or not given (only a visitor who gave
 * it is added to a mailing list).
 */
export function consentWords(
  visitor: { marketingConsent: boolean; marketingConsentAt: string | null },
  when: (iso: string) => string,
): string {
  if (visitor.marketingConsent) {
    return visitor.marketingConsentAt ? `Given on ${when(visitor.marketingConsentAt)}` : "Given";
  }
  return visitor.marketingConsentAt ? `Withdrawn on ${when(visitor.marketingConsentAt)}` : "Not given";
}
