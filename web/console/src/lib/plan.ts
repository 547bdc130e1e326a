// plan.ts — the plans and what each includes (from the server's policy), and changing the organization's plan.
import { graphql } from "../gql";
import type { PlanFeature } from "../gql/graphql";

export const PlansDocument = graphql(`
  query Plans {
    plans {
      plan
      current
      features
      adds
    }
  }
`);

export const SetPlanDocument = graphql(`
  mutation SetPlan($plan: OrganizationPlan!) {
    setOrganizationPlan(plan: $plan) {
      organization {
        id
        plan
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

/** Each feature in words. */
export const FEATURES: Record<PlanFeature, string> = {
  CORE: "Inbox, knowledge base, assistants, analytics, API keys, members and audit log",
  EMBED: "The website widget, with embed code for HTML, WordPress and Shopify",
  INTEGRATIONS_BASIC: "Basic integrations",
  INTEGRATIONS_CMS: "Embed code for site builders (Wix, Squarespace)",
  INTEGRATIONS_CRM: "CRM integrations",
  INTEGRATIONS_HELPDESK: "Help-desk integrations",
  WEBHOOKS: "Webhooks: signed events posted to your endpoints",
  API_WRITE: "API keys that change data (Basic keys only read, through REST)",
  API_GRAPHQL: "The GraphQL API for API keys",
  INTEGRATIONS_CRM_ADVANCED: "Advanced CRM integrations",
  API_SUBSCRIPTIONS: "Live GraphQL subscriptions for API keys",
  API_ANALYTICS_EXPORT: "Analytics CSV export",
  SSO: "Single sign-on (SAML 2.0, OpenID Connect, OAuth 2.0) and its enforcement",
};
