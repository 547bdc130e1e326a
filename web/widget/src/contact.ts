// contact.ts — the contact form's wording and pure helpers: the request body (with the marketing-consent checkbox,
// when the organization keeps a mailing list), the confirmation, and which field an error of
// `POST /conversations/{id}/contact` is about. The form itself is drawn by ui.ts; app.ts sends it.

import { HttpError, NetworkError } from "./api";

export type ContactField = "name" | "email" | "phone";

export const CONTACT_FIELDS: readonly ContactField[] = ["name", "email", "phone"];

/** What the visitor typed (or what the form was prefilled with). */
export type ContactFields = Record<ContactField, string>;

/** The request body: trimmed values, empty fields left out; the consent checkbox's state when it is sent. */
export type ContactBody = Partial<Record<ContactField, string>> & { marketing_consent?: boolean };

/** A refusal to show: beside `field` when the server named one, else in the form's alert line. */
export interface ContactProblem {
  field: ContactField | null;
  text: string;
}

/** Everything the form says. */
export const contactText = {
  open: "Leave your contact details",
  title: "Your contact details",
  hint: "The team can follow up by email or phone. Give at least one of them.",
  labels: { name: "Name", email: "Email", phone: "Phone" } as Record<ContactField, string>,
  send: "Send",
  sending: "Sending…",
  cancel: "Cancel",
  thanks: "Thanks — the team can now reach you",
  sentNoContact: "Thanks — your details were sent to the team.",
  failed: "Your details could not be sent. Please try again.",
  offline: "Can't reach support right now. Please try again.",
  tooMany: "Too many requests. Please try again shortly.",
  sessionEnded: "Your chat session has ended. Send a message to start a new one.",
  gone: "This conversation is no longer available, so your details were not sent.",
  noConversation: "Send a message first; then you can leave your contact details.",
};

/** The form's initial values from what the server knows of the visitor. */
export function contactPrefill(
  known: { name?: string | null; email?: string | null; phone?: string | null } | null,
): ContactFields {
  return { name: known?.name ?? "", email: known?.email ?? "", phone: known?.phone ?? "" };
}

/**
 * `{"name"?, "email"?, "phone"?, "marketing_consent"?}`: each value trimmed, blank ones omitted; the consent as
 * `marketingConsent` says (left out when undefined, see `consentToSend`).
 */
export function contactBody(fields: Partial<ContactFields>, marketingConsent?: boolean): ContactBody {
  const body: ContactBody = {};
  for (const key of CONTACT_FIELDS) {
    const value = (fields[key] ?? "").trim();
    if (value) body[key] = value;
  }
  if (marketingConsent !== undefined) body.marketing_consent = marketingConsent;
  return body;
}

/**
 * What the form says of marketing consent: nothing when it shows no checkbox (`ticked` null); given when ticked; not
 * given when left unticked, except by a visitor who had already agreed (the box starts unticked for everyone, so
 * leaving it so is no withdrawal: nothing is said).
 */
export function consentToSend(ticked: boolean | null, alreadyGiven: boolean): boolean | undefined {
  if (ticked === null) return undefined;
  if (ticked) return true;
  return alreadyGiven ? undefined : false;
}

/** "Thanks — the team can now reach you at ann@example.test or +43 1 234 5678." */
export function contactConfirmation(saved: { email?: string | null; phone?: string | null }): string {
  const ways = [saved.email, saved.phone].map((v) => (v ?? "").trim()).filter((v) => v);
  return ways.length ? `${contactText.thanks} at ${ways.join(" or ")}.` : contactText.sentNoContact;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

const FIELD_MESSAGE = /^\s*(?:[A-Za-z_]+\.)*(name|email|phone)\s*:\s*([\s\S]*)$/i;

/**
 * The field a validation message is about ("email: must be an email address", "visitor.phone: …") and what to show
 * beside it ("Must be an email address."); null when the message names no field of the form.
 */
export function fieldOfMessage(message: string): ContactProblem | null {
  const m = FIELD_MESSAGE.exec(message);
  if (!m) return null;
  const field = (m[1] ?? "").toLowerCase() as ContactField;
  const text = sentence(m[2] ?? "");
  return { field, text: text || sentence(`check the ${contactText.labels[field].toLowerCase()}`) };
}

/** What the visitor reads when sending the form failed, and where. */
export function contactProblem(error: unknown): ContactProblem {
  if (error instanceof NetworkError) return { field: null, text: contactText.offline };
  if (!(error instanceof HttpError)) return { field: null, text: contactText.failed };
  const { status, message } = error;
  if (status === 400 || status === 422) {
    return fieldOfMessage(message) ?? { field: null, text: message ? sentence(message) : contactText.failed };
  }
  if (status === 401) return { field: null, text: contactText.sessionEnded };
  if (status === 404) return { field: null, text: contactText.gone };
  if (status === 429) {
    const seconds = error.retryAfterMs !== null ? Math.ceil(error.retryAfterMs / 1000) : 0;
    return {
      field: null,
      text: seconds ? `Too many requests. Please try again in ${seconds} s.` : contactText.tooMany,
    };
  }
  return { field: null, text: contactText.failed };
}
