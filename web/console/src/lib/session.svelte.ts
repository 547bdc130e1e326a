// session.svelte.ts — who is signed in: the session (its anti-CSRF token kept in memory only, never in storage),
// the member, the organization, and what the role and plan allow.
import { graphql } from "../gql";
import type {
  OrganizationPlan,
  PermissionAction,
  PermissionResource,
  PlanFeature,
  ViewerQuery,
} from "../gql/graphql";
import { csrf, query, useSession } from "./graphql";
import * as rest from "./rest";

const ViewerDocument = graphql(`
  query Viewer {
    me {
      role
      plan
      signInMethod
      sessionId
      member {
        id
        name
        email
      }
      organization {
        id
        name
        plan
        ssoEnforced
      }
      permissions {
        resource
        action
        allowed
        requiredPlan
      }
    }
    plans {
      plan
      features
    }
  }
`);

export type Viewer = ViewerQuery["me"] & { plans: ViewerQuery["plans"] };

type State =
  | { status: "loading" }
  | { status: "signed-out"; reason?: string }
  | { status: "signed-in"; viewer: Viewer };

export const session: { current: State } = $state({ current: { status: "loading" } });

function signedOut(reason?: string): void {
  useSession(null, () => {});
  session.current = reason ? { status: "signed-out", reason } : { status: "signed-out" };
}

/** Reads the session of the cookie (after a password or SSO sign-in, or a reload) and who holds it, both at
 * once: each needs only the cookie. */
export async function load(): Promise<void> {
  const [current, viewer] = await Promise.all([
    rest.currentSession(),
    query(ViewerDocument, {}).catch((error: unknown) =>
      error instanceof Error ? error : new Error(String(error)),
    ),
  ]);
  if (!current) {
    signedOut();
    return;
  }
  useSession(current.csrf_token, () => signedOut("Your session ended. Sign in again."));
  if (viewer instanceof Error) throw viewer;
  session.current = { status: "signed-in", viewer: { ...viewer.me, plans: viewer.plans } };
}

/** Reads the member's role, plan and permissions again (after a change of plan, for example). */
export async function refresh(): Promise<void> {
  const { me, plans } = await query(ViewerDocument, {});
  session.current = { status: "signed-in", viewer: { ...me, plans } };
}

/** Signs in with a password, then loads the session. */
export async function signIn(email: string, password: string): Promise<void> {
  await rest.login(email, password);
  await load();
}

/** Ends the session. */
export async function signOut(): Promise<void> {
  await rest.logout(csrf());
  signedOut();
}

/** The signed-in viewer; only pages behind the sign-in call it. */
export function viewer(): Viewer {
  if (session.current.status !== "signed-in") throw new Error("not signed in");
  return session.current.viewer;
}

function permission(resource: PermissionResource, action: PermissionAction) {
  if (session.current.status !== "signed-in") return undefined;
  return session.current.viewer.permissions.find((p) => p.resource === resource && p.action === action);
}

/** Whether the role and the plan allow it. */
export function can(resource: PermissionResource, action: PermissionAction = "READ"): boolean {
  return permission(resource, action)?.allowed ?? false;
}

/** The plan that would allow it, when the role does but the plan does not. */
export function planFor(
  resource: PermissionResource,
  action: PermissionAction = "READ",
): OrganizationPlan | null {
  return permission(resource, action)?.requiredPlan ?? null;
}

/** The lowest plan that includes a feature, when the organization's plan does not (whatever the role). */
export function featurePlan(feature: PlanFeature): OrganizationPlan | null {
  if (session.current.status !== "signed-in") return null;
  const { plan, plans } = session.current.viewer;
  if (plans.find((p) => p.plan === plan)?.features.includes(feature)) return null;
  return plans.find((p) => p.features.includes(feature))?.plan ?? null;
}

/** Whether the role allows it on some plan: shown (as an upgrade) rather than hidden. */
export function offered(resource: PermissionResource, action: PermissionAction = "READ"): boolean {
  return can(resource, action) || planFor(resource, action) !== null;
}

const PLAN_NAMES: Record<OrganizationPlan, string> = {
  BASIC: "Basic",
  STANDARD: "Standard",
  PREMIUM: "Premium",
};

export function planName(plan: OrganizationPlan): string {
  return PLAN_NAMES[plan];
}
