// rest.ts — the sign-in endpoints of REST v1 and /sso, which the console uses before it has a session, and the
// one write GraphQL does not carry: a screenshot's bytes (a message then names the upload).
import { ApiFailure, fromResponse } from "./problems";

/** The session as `GET /api/v1/auth/session` shows it. */
export interface CurrentSession {
  csrf_token: string;
  session: { id: string; member_id: string; method: string; expires_at: string };
}

/** Where an email's domain signs in through SSO. */
export interface SsoLookup {
  connection_id: string;
  protocol: "saml" | "oidc" | "oauth2";
  login_url: string;
  enforced: boolean;
}

/** An upload as `POST /api/v1/conversations/{id}/attachments` answers it. */
export interface UploadedAttachment {
  id: string;
  content_type: string;
  byte_size: number;
  url: string;
  url_expires_at: string;
  created_at: string;
}

/** A request with the session cookie (and its anti-CSRF token for writes): a Blob goes as raw bytes, else JSON. */
async function call<T>(method: string, path: string, body?: unknown, csrf?: string | null): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (csrf) headers["x-csrf-token"] = csrf;
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body instanceof Blob) {
    headers["content-type"] = body.type || "application/octet-stream";
    init.body = body;
  } else if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw new ApiFailure(await fromResponse(response), response.status);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The session of the cookie, or null when there is none (or it ended). */
export async function currentSession(): Promise<CurrentSession | null> {
  try {
    return await call<CurrentSession>("GET", "/api/v1/auth/session");
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) return null;
    throw error;
  }
}

/** Signs in with a password; the server sets the HttpOnly session cookie. */
export function login(
  email: string,
  password: string,
  organizationId?: string,
): Promise<{ csrf_token: string }> {
  const body: Record<string, string> = { email, password };
  if (organizationId) body.organization_id = organizationId;
  return call("POST", "/api/v1/auth/login", body);
}

/** Ends the session and removes its cookie. */
export function logout(csrf: string | null): Promise<void> {
  return call("POST", "/api/v1/auth/logout", undefined, csrf);
}

/** Sets a password from an invitation's token. */
export function acceptInvitation(token: string, password: string): Promise<{ email: string }> {
  return call("POST", "/api/v1/auth/accept-invitation", { token, password });
}

/** The SSO connection that serves the email's domain, or null (sign in with a password). */
export async function lookupSso(email: string): Promise<SsoLookup | null> {
  try {
    return await call<SsoLookup>("GET", `/sso/lookup?email=${encodeURIComponent(email)}`);
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) return null;
    throw error;
  }
}

/**
 * Uploads an image for a message of the conversation to carry (the server judges its type by its bytes: 415 when
 * it is no PNG, JPEG or WebP; 413 over its size limit). The answer's id goes in the message's `attachmentIds`.
 */
export function uploadAttachment(
  conversationId: string,
  file: Blob,
  csrf: string | null,
): Promise<UploadedAttachment> {
  return call("POST", `/api/v1/conversations/${encodeURIComponent(conversationId)}/attachments`, file, csrf);
}
