// members.ts — the team: its members, invitations and their links (emailed when an email integration is
// connected), roles, deactivation, and each member's sessions.
import { graphql } from "../gql";
import type { MemberRole, SignInMethod } from "../gql/graphql";

export const MemberRow = graphql(`
  fragment MemberRow on Member {
    id
    email
    name
    role
    active
    passwordSet
    lockedUntil
    lastLoginAt
    createdAt
  }
`);

export const MembersDocument = graphql(`
  query MembersList($after: String) {
    members(first: 50, after: $after) {
      nodes {
        ...MemberRow
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      totalCount
    }
  }
`);

export const MemberSessionsDocument = graphql(`
  query MemberSessions($id: ID!) {
    node(id: $id) {
      ... on Member {
        id
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
    }
  }
`);

export const InviteMemberDocument = graphql(`
  mutation InviteMember($input: InviteMemberInput!) {
    inviteMember(input: $input) {
      member {
        ...MemberRow
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const IssueInvitationDocument = graphql(`
  mutation IssueInvitation($id: ID!) {
    issueInvitation(id: $id) {
      member {
        ...MemberRow
      }
      url
      token
      expiresAt
      emailed
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ChangeMemberRoleDocument = graphql(`
  mutation ChangeMemberRole($id: ID!, $role: MemberRole!) {
    changeMemberRole(id: $id, role: $role) {
      member {
        ...MemberRow
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const DeactivateMemberDocument = graphql(`
  mutation DeactivateMember($id: ID!) {
    deactivateMember(id: $id) {
      member {
        ...MemberRow
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const MemberRevokeSessionDocument = graphql(`
  mutation MemberRevokeSession($id: ID!) {
    revokeSession(id: $id) {
      session {
        id
        revokedAt
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

/** The roles from most to least privileged. */
export const ROLES: readonly MemberRole[] = ["OWNER", "ADMIN", "AGENT", "ANALYST", "VIEWER"];

export const ROLE_NAMES: Record<MemberRole, string> = {
  OWNER: "Owner",
  ADMIN: "Admin",
  AGENT: "Agent",
  ANALYST: "Analyst",
  VIEWER: "Viewer",
};

/** What each role may do, as the schema describes it. */
export const ROLE_DESCRIPTIONS: Record<MemberRole, string> = {
  OWNER: "Everything an admin may do, plus the plan, single sign-on and making other owners.",
  ADMIN: "Settings, assistants, the knowledge base, API keys, webhooks, the team and the audit log.",
  AGENT: "Reads and replies to conversations, updates visitors and reads the knowledge base.",
  ANALYST: "Reads conversations and analytics, without changing anything.",
  VIEWER: "Reads conversations and the knowledge base, without changing anything.",
};

function rank(role: MemberRole): number {
  return ROLES.indexOf(role);
}

/** The roles someone with `own` may give: none above their own (so only an owner makes owners). */
export function assignableRoles(own: MemberRole): MemberRole[] {
  return ROLES.filter((role) => rank(role) >= rank(own));
}

/** Whether someone with `own` may change a member who has `theirs`: not one above them. */
export function mayManage(own: MemberRole, theirs: MemberRole): boolean {
  return rank(theirs) >= rank(own);
}

export const SIGN_IN_METHODS: Record<SignInMethod, string> = {
  PASSWORD: "Password",
  SAML: "SAML single sign-on",
  OIDC: "OpenID Connect single sign-on",
  OAUTH2: "OAuth 2.0 single sign-on",
  API_KEY: "API key",
  VISITOR: "Widget",
};

/**
 * What issuing an invitation did, announced: emailed to the member (the organization's email integration sends it;
 * the link is still shown, to copy), or a link to send them.
 */
export function invitationStatus(email: string, emailed: boolean): string {
  return emailed
    ? `The invitation was emailed to ${email}. Its link is below too, if you would rather send it yourself.`
    : `Invitation link for ${email} ready: copy it now.`;
}
