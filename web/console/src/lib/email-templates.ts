// email-templates.ts — the Visitor emails settings page's GraphQL documents: the emails sent to visitors (welcome,
// transcript, follow-up, satisfaction survey) with whether an email integration is connected to send them; changing,
// resetting and previewing one; plus their names and moments in words, the variables the templates may use, and the
// pure helpers the page needs: the form's values and the input they make, what the form tells before the server
// does, where the server's errors go, and the preview's HTML made showable under the console's CSP.
import { graphql } from "../gql";
import type {
  EmailTemplateKind,
  IntegrationCategory,
  IntegrationProviderKey,
  IntegrationStatus,
  UpdateEmailTemplateInput,
} from "../gql/graphql";
import { sendsMail } from "./integrations";
import { listWords } from "./notifications";
import type { Problem } from "./problems";

export const EmailTemplateView = graphql(`
  fragment EmailTemplateView on EmailTemplate {
    kind
    enabled
    subject
    text
    html
    customSubject
    customText
    customHtml
    defaults {
      subject
      text
      html
    }
    sendgridTemplateId
    delayHours
    updatedAt
  }
`);

export const EmailTemplatesDocument = graphql(`
  query EmailTemplates {
    emailTemplates {
      ...EmailTemplateView
    }
    integrations {
      key
      name
      category
      integration {
        id
        status
      }
    }
  }
`);

export const UpdateEmailTemplateDocument = graphql(`
  mutation UpdateEmailTemplate($kind: EmailTemplateKind!, $input: UpdateEmailTemplateInput!) {
    updateEmailTemplate(kind: $kind, input: $input) {
      emailTemplate {
        ...EmailTemplateView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const ResetEmailTemplateDocument = graphql(`
  mutation ResetEmailTemplate($kind: EmailTemplateKind!) {
    resetEmailTemplate(kind: $kind) {
      emailTemplate {
        ...EmailTemplateView
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const PreviewEmailTemplateDocument = graphql(`
  query PreviewEmailTemplate($kind: EmailTemplateKind!, $draft: EmailTemplateDraftInput) {
    previewEmailTemplate(kind: $kind, draft: $draft) {
      to
      subject
      text
      html
      unsubscribeUrl
      sendgridTemplateId
    }
  }
`);

/**
 * The name of the connected email integration the emails go through (a custom SMTP server, SendGrid), or null when
 * none is connected (a mailing list such as Mailchimp sends none of them).
 */
export function mailerName(
  providers: readonly {
    key: IntegrationProviderKey;
    name: string;
    category: IntegrationCategory;
    integration: { status: IntegrationStatus } | null;
  }[],
): string | null {
  return (
    providers.find((p) => sendsMail(p.key, p.category) && p.integration?.status === "CONNECTED")?.name ?? null
  );
}

/** Each email as the page names it. */
export const KIND_WORDS: Record<EmailTemplateKind, string> = {
  WELCOME: "Welcome",
  TRANSCRIPT: "Transcript",
  FOLLOW_UP: "Follow-up",
  SATISFACTION_SURVEY: "Satisfaction survey",
};

/** The emails, in the page's order. */
export const KINDS = Object.keys(KIND_WORDS) as EmailTemplateKind[];

/** The follow-up's wait when the organization chose none, and the shortest and longest it may be. */
export const DELAY_DEFAULT = 24;
export const DELAY_MIN = 1;
export const DELAY_MAX = 720;

/** A number of hours in words: `1 hour`, `24 hours`. */
export function hoursWords(hours: number): string {
  return `${hours} hour${hours === 1 ? "" : "s"}`;
}

/** When an email is sent, in a sentence (the follow-up's with its wait). */
export function whenWords(kind: EmailTemplateKind, delayHours: number | null = null): string {
  switch (kind) {
    case "WELCOME":
      return "When a visitor first leaves their email address, or starts a conversation with one.";
    case "TRANSCRIPT":
      return "When a conversation is resolved: the whole conversation, for the visitor to keep.";
    case "FOLLOW_UP":
      return `${capitalized(hoursWords(delayHours ?? DELAY_DEFAULT))} after a conversation is resolved, to ask whether everything is sorted.`;
    case "SATISFACTION_SURVEY":
      return "When a conversation is resolved: one link per rating from 1 to 5, recorded as the conversation's feedback.";
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A variable the templates may use: how it is written, and what it is. */
export interface Variable {
  code: string;
  means: string;
}

/** The variables the templates may use, for the page's help. */
export const VARIABLES: readonly Variable[] = [
  { code: "{{ organization }}", means: "Your organization's name." },
  { code: "{{ assistant }}", means: "The name of the assistant the visitor talked with." },
  {
    code: "{{ visitor.name }}, {{ visitor.first_name }}, {{ visitor.email }}",
    means: "The visitor, as far as they said: any of them may be empty.",
  },
  {
    code: "{{ conversation.page_title }}, {{ conversation.page_url }}",
    means: "The page the conversation started on.",
  },
  {
    code: "{{ conversation.started_at }}, {{ conversation.status }}, {{ conversation.id }}",
    means: "When it started, where it stands, and its id.",
  },
  {
    code: "{% if conversation.handed_off %}…{% endif %}",
    means: "Whether a person of your team took part.",
  },
  {
    code: "{% for m in conversation.messages %}{{ m.name }} ({{ m.at }}): {{ m.body }}{% endfor %}",
    means: "The messages, oldest first; m.author is visitor, assistant or agent.",
  },
  { code: "{{ first_question }}", means: "The visitor's first message." },
  {
    code: "{% for r in rating_urls %}{{ r.rating }} {{ r.label }}: {{ r.url }}{% endfor %}",
    means: "The survey's links, one per rating from 1 (Very poor) to 5 (Excellent).",
  },
  {
    code: "{{ unsubscribe_url }}",
    means: "The visitor's unsubscribe link (the footer every email gets has it already).",
  },
];

/** The three parts of a template, each a minijinja source. */
export type Part = "subject" | "text" | "html";
export const PARTS: readonly Part[] = ["subject", "text", "html"];

const PART_WORDS: Record<Part, string> = { subject: "subject", text: "plain text", html: "HTML" };

/** Which parts of an email are the organization's own, in words: `Your own subject and plain text; the default HTML.` */
export function partsWords(template: {
  customSubject: boolean;
  customText: boolean;
  customHtml: boolean;
}): string {
  const custom: Record<Part, boolean> = {
    subject: template.customSubject,
    text: template.customText,
    html: template.customHtml,
  };
  const own = PARTS.filter((p) => custom[p]).map((p) => PART_WORDS[p]);
  const rest = PARTS.filter((p) => !custom[p]).map((p) => PART_WORDS[p]);
  if (!own.length) return "The default template.";
  return rest.length
    ? `Your own ${listWords(own)}; the default ${listWords(rest)}.`
    : `Your own ${listWords(own)}.`;
}

/** What an email's form holds. */
export interface TemplateValues {
  subject: string;
  text: string;
  html: string;
  /** As typed; empty for none. */
  sendgridTemplateId: string;
  /** The follow-up's wait; null for the others, or when the field is empty (or not a number). */
  delayHours: number | null;
}

/** A stored email, as far as its form needs it. */
export interface StoredTemplate {
  kind: EmailTemplateKind;
  subject: string;
  text: string;
  html: string;
  defaults: { subject: string; text: string; html: string };
  sendgridTemplateId: string | null;
  delayHours: number | null;
}

/** A stored email as its form holds it: its parts as they are sent (its own, else the defaults). */
export function templateValuesOf(template: StoredTemplate): TemplateValues {
  return {
    subject: template.subject,
    text: template.text,
    html: template.html,
    sendgridTemplateId: template.sendgridTemplateId ?? "",
    delayHours: template.kind === "FOLLOW_UP" ? (template.delayHours ?? DELAY_DEFAULT) : null,
  };
}

/** A part as it would be saved: an empty one, or one that is the default word for word, is the default. */
function isDefault(template: StoredTemplate, part: Part, value: string): boolean {
  return value.trim() === "" || value === template.defaults[part];
}

/**
 * The form's values as `updateEmailTemplate`'s input: only what changed; a part emptied or made the default again
 * as `null` (back to the default, which then follows the built-in one); a SendGrid id trimmed, an empty one `null`.
 */
export function templateInput(template: StoredTemplate, values: TemplateValues): UpdateEmailTemplateInput {
  const input: UpdateEmailTemplateInput = {};
  for (const part of PARTS) {
    if (values[part] === template[part]) continue;
    input[part] = isDefault(template, part, values[part]) ? null : values[part];
  }
  const id = values.sendgridTemplateId.trim();
  if (id !== (template.sendgridTemplateId ?? "")) input.sendgridTemplateId = id || null;
  if (
    template.kind === "FOLLOW_UP" &&
    values.delayHours !== null &&
    values.delayHours !== template.delayHours
  ) {
    input.delayHours = values.delayHours;
  }
  return input;
}

/** The parts to preview: as typed, an emptied one as the default (what saving it would make it). */
export function previewDraft(template: StoredTemplate, values: TemplateValues): Record<Part, string> {
  const draft = { subject: "", text: "", html: "" };
  for (const part of PARTS) draft[part] = values[part].trim() ? values[part] : template.defaults[part];
  return draft;
}

const SENDGRID_ID = /^d-[0-9a-f]{32}$/i;

/**
 * What the form can tell without the server: a subject, a SendGrid id shaped as SendGrid's, a follow-up's wait of 1
 * to 720 hours. Each problem names its field as the server's would (`sendgridTemplateId`, `delayHours`).
 */
export function templateProblems(kind: EmailTemplateKind, values: TemplateValues): Problem[] {
  const found: Problem[] = [];
  if (/[\r\n]/.test(values.subject))
    found.push({ field: "subject", message: "Keep the subject on one line." });
  const id = values.sendgridTemplateId.trim();
  if (id && !SENDGRID_ID.test(id)) {
    found.push({
      field: "sendgridTemplateId",
      message: "Enter the id SendGrid shows for a dynamic template: d- and 32 letters and digits (0-9, a-f).",
    });
  }
  if (kind === "FOLLOW_UP") {
    const hours = values.delayHours;
    if (hours === null || !Number.isInteger(hours) || hours < DELAY_MIN || hours > DELAY_MAX) {
      found.push({
        field: "delayHours",
        message: `Enter a whole number of hours from ${DELAY_MIN} to ${DELAY_MAX} (30 days).`,
      });
    }
  }
  return found;
}

/** A field of the form. */
export type TemplateField = keyof TemplateValues;
const FIELDS: readonly TemplateField[] = ["subject", "text", "html", "sendgridTemplateId", "delayHours"];

/** The problems of an email's form, placed: beside a field, or in the summary. */
export interface PlacedTemplateProblems {
  fields: Partial<Record<TemplateField, string>>;
  general: Problem[];
}

/** A field as the server may spell it (`sendgrid_template_id`, `delay_hours`) in the console's (`sendgridTemplateId`). */
function fieldOf(name: string): TemplateField | undefined {
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return FIELDS.find((f) => f === camel);
}

/**
 * A template's mistake in words for beside its field: without the `the transcript template:` the server starts it
 * with (the field says which), capitalized: `Syntax error: unexpected end of input, expected end of block (line 1)`.
 */
export function mistakeWords(message: string): string {
  return capitalized(message.replace(/^the [a-z_]+ template: /, ""));
}

/**
 * Places the problems of a save (userErrors, their `field` as `fromUserErrors` makes it: `text`,
 * `sendgridTemplateId`) or of a preview (a GraphQL error without a field, its message starting with the part it
 * names: `text: the transcript template: syntax error: … (line 1)`): beside their field, the first one of each
 * field kept; the rest in the summary.
 */
export function placeTemplateProblems(problems: readonly Problem[]): PlacedTemplateProblems {
  const placed: PlacedTemplateProblems = { fields: {}, general: [] };
  for (const problem of problems) {
    let field = problem.field ? fieldOf(problem.field) : undefined;
    let message = problem.message;
    if (!problem.field) {
      const named = /^([a-z_]+): ([\s\S]+)$/.exec(problem.message);
      field = named?.[1] ? fieldOf(named[1]) : undefined;
      if (field && named?.[2]) message = named[2];
    }
    if (field) placed.fields[field] ??= mistakeWords(message);
    else placed.general.push(problem);
  }
  return placed;
}

/** The attribute a preview's `style` attributes are renamed to before it is shown (see `inertStyles`). */
export const PREVIEW_STYLE = "data-preview-style";

const TAG_NAME = /<([a-zA-Z][^\s/>]*)/y;
const ATTRIBUTE = /([^\s"'>/=]+)(\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?/y;
const SPACE = /[\s/]+/y;

/**
 * The preview's HTML with each `style` attribute renamed `data-preview-style`. The console's CSP (`style-src
 * 'self'`) applies to the preview's frame too: there, the style attributes emails are made of would be refused (a
 * CSP violation each). Renamed, the frame shows the email without them; the page then gives each element its style
 * through the CSSOM, which the CSP allows. Comments, and the contents of `<script>` and `<style>`, are kept as they
 * are.
 */
export function inertStyles(html: string): string {
  let out = "";
  let at = 0;
  while (at < html.length) {
    const open = html.indexOf("<", at);
    if (open < 0) {
      out += html.slice(at);
      break;
    }
    out += html.slice(at, open);
    at = open;
    if (html.startsWith("<!--", at)) {
      const end = html.indexOf("-->", at + 4);
      const stop = end < 0 ? html.length : end + 3;
      out += html.slice(at, stop);
      at = stop;
      continue;
    }
    TAG_NAME.lastIndex = at;
    const tag = TAG_NAME.exec(html);
    if (!tag?.[1]) {
      out += "<";
      at += 1;
      continue;
    }
    out += tag[0];
    at = TAG_NAME.lastIndex;
    // The attributes, to the tag's end.
    while (at < html.length && html[at] !== ">") {
      SPACE.lastIndex = at;
      const space = SPACE.exec(html);
      if (space) {
        out += space[0];
        at = SPACE.lastIndex;
        continue;
      }
      ATTRIBUTE.lastIndex = at;
      const attribute = ATTRIBUTE.exec(html);
      if (!attribute?.[1]) {
        out += html[at];
        at += 1;
        continue;
      }
      out += attribute[1].toLowerCase() === "style" ? PREVIEW_STYLE : attribute[1];
      out += attribute[2] ?? "";
      at = ATTRIBUTE.lastIndex;
    }
    if (at < html.length) {
      out += ">";
      at += 1;
    }
    // Raw text: nothing in it is a tag.
    const name = tag[1].toLowerCase();
    if (name === "script" || name === "style") {
      const close = html.toLowerCase().indexOf(`</${name}`, at);
      const stop = close < 0 ? html.length : close;
      out += html.slice(at, stop);
      at = stop;
    }
  }
  return out;
}
