// account.ts — the member's own sessions, listed and signed out.
import { graphql } from "../gql";

export const SessionsDocument = graphql(`
  query AccountSessions {
    sessions {
      id
      method
      ip
      userAgent
      createdAt
      lastSeenAt
      expiresAt
      current
    }
  }
`);

export const RevokeDocument = graphql(`
  mutation RevokeSession($id: ID!) {
    revokeSession(id: $id) {
      session {
        id
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);
