// sso.ts — single sign-on: the organization's connections (SAML, OpenID Connect, OAuth 2.0), what to give the
// identity provider, the test of a connection, and enforcement; with the form's draft and the inputs built
// from it.
import { graphql } from "../gql";
import type {
  CreateSsoConnectionInput,
  MemberRole,
  SamlSettingsInput,
  SsoConnectionViewFragment,
  SsoProtocol,
  SsoRoleRuleInput,
  UpdateSsoConnectionInput,
} from "../gql/graphql";
import type { Problem } from "./problems";

export const SsoConnectionView = graphql(`
  fragment SsoConnectionView on SsoConnection {
    id
    name
    protocol
    enabled
    domains
    oidc {
      issuer
      clientId
      scopes
    }
    oauth2 {
      authorizationUrl
      tokenUrl
      userinfoUrl
      clientId
      scopes
    }
    saml {
      idpEntityId
      ssoUrl
      certificates
      metadataUrl
      metadataFetchedAt
      allowIdpInitiated
      clockSkewSeconds
    }
    metadataPath
    clientSecretSet
    attributes {
      subject
      email
      name
      groups
    }
    roleRules {
      attribute
      value
      role
    }
    defaultRole
    denyUnmatched
    jitProvisioning
    loginPath
    callbackPath
    createdAt
    updatedAt
  }
`);

export const SsoSettingsDocument = graphql(`
  query SsoSettings {
    ssoConnections {
      ...SsoConnectionView
    }
    organization {
      id
      ssoEnforced
    }
  }
`);

export const CreateSsoConnectionDocument = graphql(`
  mutation CreateSsoConnection($input: CreateSsoConnectionInput!) {
    createSsoConnection(input: $input) {
      ssoConnection {
        ...SsoConnectionView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const UpdateSsoConnectionDocument = graphql(`
  mutation UpdateSsoConnection($id: ID!, $input: UpdateSsoConnectionInput!) {
    updateSsoConnection(id: $id, input: $input) {
      ssoConnection {
        ...SsoConnectionView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const TestSsoConnectionDocument = graphql(`
  mutation TestSsoConnection($id: ID!) {
    testSsoConnection(id: $id) {
      test {
        ok
        checks {
          name
          ok
          detail
        }
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const DeleteSsoConnectionDocument = graphql(`
  mutation DeleteSsoConnection($id: ID!) {
    deleteSsoConnection(id: $id) {
      deletedSsoConnectionId
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const SetSsoEnforcedDocument = graphql(`
  mutation SetSsoEnforced($enforced: Boolean!) {
    setSsoEnforced(enforced: $enforced) {
      organization {
        id
        ssoEnforced
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const PROTOCOLS: readonly SsoProtocol[] = ["SAML", "OIDC", "OAUTH2"];

export const PROTOCOL_NAMES: Record<SsoProtocol, string> = {
  SAML: "SAML 2.0",
  OIDC: "OpenID Connect",
  OAUTH2: "OAuth 2.0",
};

export const PROTOCOL_HINTS: Record<SsoProtocol, string> = {
  SAML: "Okta, Microsoft Entra ID, Google Workspace, ADFS and most enterprise directories.",
  OIDC: "Providers with OpenID Connect discovery: Okta, Entra ID, Google, Keycloak, Auth0.",
  OAUTH2: "A provider without OpenID Connect: its authorization, token and user-info endpoints.",
};

/** The absolute URL of a path the server gives relative to its public address. */
export function absolute(path: string | null | undefined): string {
  return path ? new URL(path, location.origin).href : "";
}

export type SamlSource = "URL" | "XML" | "PARTS";

export interface RuleDraft {
  key: number;
  attribute: string;
  value: string;
  role: MemberRole;
}

/** What the connection form holds: text as typed, turned into an input when it is sent. */
export interface SsoDraft {
  name: string;
  protocol: SsoProtocol;
  domains: string;
  enabled: boolean;
  oidc: { issuer: string; clientId: string; clientSecret: string; scopes: string };
  oauth2: {
    authorizationUrl: string;
    tokenUrl: string;
    userinfoUrl: string;
    clientId: string;
    clientSecret: string;
    scopes: string;
  };
  saml: {
    source: SamlSource;
    metadataUrl: string;
    metadataXml: string;
    entityId: string;
    ssoUrl: string;
    certificates: string;
    allowIdpInitiated: boolean;
    clockSkewSeconds: string;
  };
  attributes: { subject: string; email: string; name: string; groups: string };
  roleRules: RuleDraft[];
  defaultRole: MemberRole;
  denyUnmatched: boolean;
  jitProvisioning: boolean;
}

let keys = 0;

export function newRule(role: MemberRole = "AGENT"): RuleDraft {
  keys += 1;
  return { key: keys, attribute: "", value: "", role };
}

/** The form's draft: of a stored connection to change, or of a new one. */
export function draftOf(c?: SsoConnectionViewFragment): SsoDraft {
  const saml = c?.saml;
  return {
    name: c?.name ?? "",
    protocol: c?.protocol ?? "OIDC",
    domains: c?.domains.join(", ") ?? "",
    // A new connection starts switched off: test it, then switch it on.
    enabled: c?.enabled ?? false,
    oidc: {
      issuer: c?.oidc?.issuer ?? "",
      clientId: c?.oidc?.clientId ?? "",
      clientSecret: "",
      scopes: c?.oidc?.scopes.join(" ") ?? "",
    },
    oauth2: {
      authorizationUrl: c?.oauth2?.authorizationUrl ?? "",
      tokenUrl: c?.oauth2?.tokenUrl ?? "",
      userinfoUrl: c?.oauth2?.userinfoUrl ?? "",
      clientId: c?.oauth2?.clientId ?? "",
      clientSecret: "",
      scopes: c?.oauth2?.scopes.join(" ") ?? "",
    },
    saml: {
      source: saml ? (saml.metadataUrl ? "URL" : "PARTS") : "URL",
      metadataUrl: saml?.metadataUrl ?? "",
      metadataXml: "",
      entityId: saml?.idpEntityId ?? "",
      ssoUrl: saml?.ssoUrl ?? "",
      certificates: saml?.certificates.join("\n\n") ?? "",
      allowIdpInitiated: saml?.allowIdpInitiated ?? false,
      clockSkewSeconds: String(saml?.clockSkewSeconds ?? 60),
    },
    attributes: {
      subject: c?.attributes.subject ?? "sub",
      email: c?.attributes.email ?? "email",
      name: c?.attributes.name ?? "name",
      groups: c?.attributes.groups ?? "groups",
    },
    roleRules: (c?.roleRules ?? []).map((r) => ({
      ...newRule(r.role),
      attribute: r.attribute ?? "",
      value: r.value,
    })),
    defaultRole: c?.defaultRole ?? "VIEWER",
    denyUnmatched: c?.denyUnmatched ?? false,
    jitProvisioning: c?.jitProvisioning ?? true,
  };
}

/** Domains typed with commas, spaces or one a line. */
export function domainList(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((d) => d.trim().replace(/^@/, ""))
    .filter(Boolean);
}

function words(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** PEM blocks, or base64 DER certificates separated by blank lines. */
export function certificateList(text: string): string[] {
  const pem = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (pem) return pem;
  return text
    .split(/\n\s*\n/)
    .map((c) => c.replace(/\s+/g, ""))
    .filter(Boolean);
}

function samlInput(d: SsoDraft): SamlSettingsInput {
  const s = d.saml;
  const skew = s.clockSkewSeconds.trim() === "" ? null : Number(s.clockSkewSeconds);
  const common = { allowIdpInitiated: s.allowIdpInitiated, clockSkewSeconds: skew };
  switch (s.source) {
    case "URL":
      return { ...common, metadataUrl: s.metadataUrl.trim() };
    case "XML":
      return { ...common, metadataXml: s.metadataXml };
    case "PARTS":
      return {
        ...common,
        entityId: s.entityId.trim(),
        ssoUrl: s.ssoUrl.trim(),
        certificates: certificateList(s.certificates),
      };
  }
}

function oidcInput(d: SsoDraft) {
  const o = d.oidc;
  return {
    issuer: o.issuer.trim(),
    clientId: o.clientId.trim(),
    clientSecret: o.clientSecret === "" ? null : o.clientSecret,
    scopes: words(o.scopes),
  };
}

function oauth2Input(d: SsoDraft) {
  const o = d.oauth2;
  return {
    authorizationUrl: o.authorizationUrl.trim(),
    tokenUrl: o.tokenUrl.trim(),
    userinfoUrl: o.userinfoUrl.trim(),
    clientId: o.clientId.trim(),
    clientSecret: o.clientSecret === "" ? null : o.clientSecret,
    scopes: words(o.scopes),
  };
}

function rules(d: SsoDraft): SsoRoleRuleInput[] {
  return d.roleRules.map((r) => ({
    attribute: r.attribute.trim() === "" ? null : r.attribute.trim(),
    value: r.value,
    role: r.role,
  }));
}

/** The input that creates the connection of a draft. */
export function createInput(d: SsoDraft): CreateSsoConnectionInput {
  return {
    name: d.name.trim(),
    protocol: d.protocol,
    domains: domainList(d.domains),
    enabled: d.enabled,
    oidc: d.protocol === "OIDC" ? oidcInput(d) : null,
    oauth2: d.protocol === "OAUTH2" ? oauth2Input(d) : null,
    saml: d.protocol === "SAML" ? samlInput(d) : null,
    attributes: {
      subject: d.attributes.subject.trim(),
      email: d.attributes.email.trim(),
      name: d.attributes.name.trim(),
      groups: d.attributes.groups.trim(),
    },
    roleRules: rules(d),
    defaultRole: d.defaultRole,
    denyUnmatched: d.denyUnmatched,
    jitProvisioning: d.jitProvisioning,
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The input that changes `stored` into the draft: only what changed, since a protocol's settings given in an
 * update replace the stored ones (and SAML metadata is read again); null when nothing changed.
 */
export function updateInput(d: SsoDraft, stored: SsoConnectionViewFragment): UpdateSsoConnectionInput | null {
  const was = draftOf(stored);
  const input: UpdateSsoConnectionInput = {};
  const protocolChanged = d.protocol !== was.protocol;
  if (d.name.trim() !== was.name) input.name = d.name.trim();
  if (protocolChanged) input.protocol = d.protocol;
  if (!same(domainList(d.domains), stored.domains)) input.domains = domainList(d.domains);
  if (d.enabled !== was.enabled) input.enabled = d.enabled;
  if (d.protocol === "OIDC" && (protocolChanged || !same(oidcInput(d), oidcInput(was))))
    input.oidc = oidcInput(d);
  if (d.protocol === "OAUTH2" && (protocolChanged || !same(oauth2Input(d), oauth2Input(was))))
    input.oauth2 = oauth2Input(d);
  if (d.protocol === "SAML" && (protocolChanged || !same(d.saml, was.saml))) input.saml = samlInput(d);
  const attributes: Record<string, string> = {};
  for (const name of ["subject", "email", "name", "groups"] as const) {
    if (d.attributes[name].trim() !== was.attributes[name]) attributes[name] = d.attributes[name].trim();
  }
  if (Object.keys(attributes).length) input.attributes = attributes;
  if (!same(rules(d), rules(was))) input.roleRules = rules(d);
  if (d.defaultRole !== was.defaultRole) input.defaultRole = d.defaultRole;
  if (d.denyUnmatched !== was.denyUnmatched) input.denyUnmatched = d.denyUnmatched;
  if (d.jitProvisioning !== was.jitProvisioning) input.jitProvisioning = d.jitProvisioning;
  return Object.keys(input).length ? input : null;
}

/**
 * A server message as a sentence: `is required for a new connection` → `Is required for a new connection.`; a
 * message that starts with a name (`idp.example.com: valid …`) keeps its case.
 */
export function sentence(message: string): string {
  const text = /^[a-z]+[\s,:]/.test(message) ? message.charAt(0).toUpperCase() + message.slice(1) : message;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** The problems of a field and the fields below it (`saml` has `saml.certificates.0`). */
export function problemAt(problems: readonly Problem[], field: string): string | undefined {
  const found = problems.filter((p) => p.field === field || p.field?.startsWith(`${field}.`));
  return found.length ? found.map((p) => sentence(p.message)).join(" ") : undefined;
}

/** The problems that no field of `shown` (or a field below one) shows. */
export function unshown(problems: readonly Problem[], shown: readonly string[]): Problem[] {
  return problems.filter(
    (p) => !p.field || !shown.some((f) => p.field === f || p.field?.startsWith(`${f}.`)),
  );
}

/** A taken domain is a conflict that names no field: it belongs beside the domains. */
export function placeDomainConflicts(problems: Problem[]): Problem[] {
  return problems.map((p) => (!p.field && /^the domain /i.test(p.message) ? { ...p, field: "domains" } : p));
}

/** What each check of `testSsoConnection` looked at, in words. */
export function checkName(name: string): string {
  const known: Record<string, string> = {
    discovery: "Discovery document",
    signing_keys: "Signing keys",
    endpoints: "Endpoints",
    authorization_url: "Authorization endpoint",
    token_url: "Token endpoint",
    userinfo_url: "User-info endpoint",
    metadata: "IdP metadata",
    sso_url: "Sign-on URL",
    client_secret: "Client secret",
  };
  const certificate = /^certificate\[(\d+)\]$/.exec(name);
  if (certificate) return `Signing certificate ${Number(certificate[1]) + 1}`;
  return known[name] ?? name.replaceAll("_", " ");
}
