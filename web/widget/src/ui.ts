// ui.ts — the chat panel inside the shadow root: header, message log, typing indicator, status line, contact form,
// composer (with screenshots to attach) and ratings.

import {
  filesOf,
  joinProblems,
  MAX_SHOTS,
  previewAlt,
  SHOT_TYPES,
  type Shot,
  SNIFF_BYTES,
  shotAlt,
  shotProblem,
  shotText,
  sniffImage,
} from "./attachments";
import {
  CONTACT_FIELDS,
  type ContactField,
  type ContactFields,
  type ContactProblem,
  contactText,
} from "./contact";
import { ATTACH, CLOSE, icon, SEND, THUMB_DOWN, THUMB_UP } from "./icons";
import { renderText } from "./text";
import type { Attachment, Message } from "./wire";

export interface PanelHandlers {
  /** The visitor sends `text` (may be empty when there are screenshots) with the screenshots chosen. */
  send(text: string, shots: Shot[]): void;
  close(): void;
  endChat(): void;
  rateAnswer(messageId: string, helpful: boolean): void;
  rateConversation(rating: number): void;
  retry(bubble: Bubble): void;
  /** The visitor's known contact details, to prefill the contact form with. */
  contactDetails(): ContactFields;
  /**
   * The contact form was submitted, with its marketing-consent checkbox's state (null when it shows none); answered
   * with contactSaved() or contactFailed().
   */
  saveContact(fields: ContactFields, consent: boolean | null): void;
}

/** The inline contact form and its parts. */
interface ContactForm {
  form: HTMLFormElement;
  inputs: Record<ContactField, HTMLInputElement>;
  errors: Record<ContactField, HTMLElement>;
  /** The marketing-consent checkbox's row (hidden when the organization keeps no mailing list), box and words. */
  consent: HTMLElement;
  consentBox: HTMLInputElement;
  consentLabel: HTMLElement;
  alert: HTMLElement;
  submit: HTMLButtonElement;
}

/** A message bubble in the log; `messageId` is null until the server has the message. */
export interface Bubble {
  el: HTMLElement;
  author: string;
  body: string;
  messageId: string | null;
  /** The text node a streamed answer grows in. */
  stream?: Text;
  /** The visitor's screenshots, with their upload ids once uploaded (kept for retries). */
  shots?: Shot[];
}

export type StatusTone = "info" | "error";

let panelCount = 0;

export class Panel {
  readonly el: HTMLElement;
  readonly input: HTMLTextAreaElement;
  private readonly doc: Document;
  private readonly title: HTMLElement;
  private readonly avatar: HTMLImageElement;
  private readonly endButton: HTMLButtonElement;
  private readonly log: HTMLElement;
  private readonly welcome: HTMLElement;
  private readonly typing: HTMLElement;
  private readonly typingLabel: HTMLElement;
  private readonly status: HTMLElement;
  private readonly byId = new Map<string, Bubble>();
  private readonly feedback = new Map<string, [HTMLButtonElement, HTMLButtonElement]>();
  private rating: HTMLFormElement | null = null;
  private readonly contactBar: HTMLElement;
  private readonly contactButton: HTMLButtonElement;
  private readonly contact: ContactForm;
  private contactSending = false;
  private readonly uid: string;
  private readonly sendButton: HTMLButtonElement;
  private readonly fileInput: HTMLInputElement;
  private readonly thumbs: HTMLElement;
  private readonly attachAlert: HTMLElement;
  /** Screenshots chosen for the next message. */
  private shots: Shot[] = [];
  /** An upload runs: sending waits. */
  private busy = false;
  /** Object URLs this panel made, revoked once nothing shows them. */
  private readonly objectUrls = new Set<string>();

  constructor(
    root: HTMLElement,
    private readonly handlers: PanelHandlers,
  ) {
    this.doc = root.ownerDocument;
    this.uid = `cw${++panelCount}`;
    const el = this.h("section", "cw-panel", {
      id: `${this.uid}-panel`,
      role: "dialog",
      "aria-modal": "false",
      "aria-label": "Chat",
      "data-testid": "panel",
    });
    el.hidden = true;
    this.el = el;

    const header = this.h("header", "cw-header");
    this.avatar = this.h("img", "cw-avatar", { alt: "" }) as HTMLImageElement;
    this.avatar.hidden = true;
    this.avatar.addEventListener("error", () => {
      this.avatar.hidden = true;
    });
    this.title = this.h("h2", "cw-title", { id: `${this.uid}-title` });
    this.title.textContent = "Chat";
    this.endButton = this.button("cw-end", "");
    this.endButton.textContent = "End chat";
    this.endButton.hidden = true;
    this.endButton.addEventListener("click", () => this.handlers.endChat());
    const close = this.button("cw-close", "Close chat");
    close.appendChild(icon(this.doc, CLOSE));
    close.addEventListener("click", () => this.handlers.close());
    header.append(this.avatar, this.title, this.endButton, close);

    this.log = this.h("div", "cw-log", {
      role: "log",
      "aria-live": "polite",
      "aria-label": "Messages",
      "data-testid": "log",
      tabindex: "0",
    });
    this.welcome = this.h("div", "cw-msg", { "data-author": "assistant", "data-testid": "welcome" });
    this.welcome.appendChild(this.h("div", "cw-bubble"));
    this.typing = this.h("div", "cw-typing");
    this.typing.hidden = true;
    for (let i = 0; i < 3; i++) this.typing.appendChild(this.h("span", "cw-dot", { "aria-hidden": "true" }));
    this.typingLabel = this.h("span", "cw-sr");
    this.typingLabel.textContent = "Typing…";
    this.typing.appendChild(this.typingLabel);
    this.log.append(this.welcome, this.typing);

    this.status = this.h("p", "cw-status", { role: "status", "data-testid": "status" });

    this.contactBar = this.h("div", "cw-contact-bar");
    this.contactBar.hidden = true;
    this.contactButton = this.button("cw-contact-open", "");
    this.contactButton.textContent = contactText.open;
    this.contactButton.setAttribute("aria-expanded", "false");
    this.contactButton.setAttribute("aria-controls", `${this.uid}-contact`);
    this.contactButton.setAttribute("data-testid", "contact-open");
    this.contactButton.addEventListener("click", () => {
      if (this.contact.form.hidden) this.openContact();
      else this.closeContact(true);
    });
    this.contactBar.appendChild(this.contactButton);
    // Escape on the button while the form is open closes the form first, then (pressed again) the panel.
    this.contactButton.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || this.contact.form.hidden) return;
      event.stopPropagation();
      event.preventDefault();
      this.closeContact(true);
    });
    this.contact = this.contactForm();

    const form = this.h("form", "cw-composer") as HTMLFormElement;
    // Screenshots to send, above the text box; an error about a refused file under them.
    this.thumbs = this.h("ul", "cw-thumbs", { "aria-label": shotText.pending, "data-testid": "shots" });
    this.thumbs.hidden = true;
    this.attachAlert = this.h("p", "cw-attach-error", { role: "alert", "data-testid": "attach-error" });
    const row = this.h("div", "cw-row");
    const attach = this.button("cw-attach", shotText.attach);
    attach.setAttribute("data-testid", "attach");
    attach.appendChild(icon(this.doc, ATTACH));
    this.fileInput = this.h("input", undefined, {
      type: "file",
      accept: SHOT_TYPES.join(","),
      multiple: "",
      tabindex: "-1",
      "data-testid": "attach-input",
    }) as HTMLInputElement;
    this.fileInput.hidden = true;
    attach.addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      const files = filesOf(this.fileInput);
      // Cleared, so that choosing the same file again is a change too.
      this.fileInput.value = "";
      void this.addFiles(files);
    });
    const label = this.h("label", "cw-sr", { for: `${this.uid}-input` });
    label.textContent = "Message";
    this.input = this.h("textarea", "cw-input", {
      id: `${this.uid}-input`,
      rows: "1",
      placeholder: "Type your message…",
      "data-testid": "input",
      autocomplete: "off",
    }) as HTMLTextAreaElement;
    const send = this.button("cw-send", "Send");
    send.type = "submit";
    send.setAttribute("data-testid", "send");
    send.appendChild(icon(this.doc, SEND));
    this.sendButton = send;
    row.append(attach, this.fileInput, label, this.input, send);
    form.append(this.thumbs, this.attachAlert, row);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter is a new line; not while an input method is composing.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.fitInput());
    // A pasted image (a screenshot from the clipboard) is attached; text pasted with it still goes in.
    this.input.addEventListener("paste", (event) => {
      const data = event.clipboardData;
      const files = filesOf(data);
      if (!files.length) return;
      if (!data?.getData("text/plain")) event.preventDefault();
      void this.addFiles(files);
    });
    el.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.handlers.close();
      }
    });

    el.append(header, this.log, this.status, this.contactBar, this.contact.form, form);
    root.appendChild(el);
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  setOpen(open: boolean): void {
    this.el.hidden = !open;
    if (open) {
      this.scrollToEnd();
      this.input.focus();
    }
  }

  /** The assistant's name (title and dialog label), the welcome message and the avatar. */
  configure(name: string | null, welcome: string, avatarUrl: string | null): void {
    const title = name?.trim() || "Chat";
    this.title.textContent = title;
    this.el.setAttribute("aria-label", title);
    const bubble = this.welcome.firstChild as HTMLElement;
    bubble.textContent = "";
    renderText(this.doc, bubble, welcome);
    if (avatarUrl) {
      if (this.avatar.getAttribute("src") !== avatarUrl) this.avatar.src = avatarUrl;
      this.avatar.hidden = false;
    } else {
      this.avatar.hidden = true;
      this.avatar.removeAttribute("src");
    }
  }

  setStatus(text: string | null, tone: StatusTone = "info"): void {
    const value = text ?? "";
    if (this.status.textContent !== value) this.status.textContent = value;
    this.status.setAttribute("data-tone", tone);
  }

  setTyping(on: boolean, who = "The assistant"): void {
    this.typingLabel.textContent = `${who} is typing…`;
    if (this.typing.hidden === !on) return;
    const stick = this.nearBottom();
    this.typing.hidden = !on;
    if (stick) this.scrollToEnd();
  }

  setCanEnd(on: boolean): void {
    this.endButton.hidden = !on;
  }

  /** "Leave your contact details" is offered while there is a conversation. */
  setCanContact(on: boolean): void {
    if (this.contactBar.hidden === !on) return;
    if (!on) {
      const active = this.activeElement();
      const hadFocus = !!active && (this.contactBar.contains(active) || this.contact.form.contains(active));
      this.closeContact(false);
      this.contactBar.hidden = true;
      if (hadFocus && this.isOpen) this.input.focus();
    } else this.contactBar.hidden = false;
  }

  /**
   * The marketing-consent checkbox of the contact form, with the organization's words (`label`), or none (null).
   * It is never ticked for the visitor.
   */
  setConsentLabel(label: string | null): void {
    const { consent, consentBox, consentLabel } = this.contact;
    const words = label?.trim() ?? "";
    if (consentLabel.textContent !== words) consentLabel.textContent = words;
    if (consent.hidden === !words) return;
    consent.hidden = !words;
    consentBox.checked = false;
  }

  /** Opens the contact form, prefilled with what is known of the visitor, and puts the focus in it. */
  openContact(): void {
    const { form, inputs, consentBox } = this.contact;
    if (this.contactBar.hidden) return;
    if (form.hidden) {
      const known = this.handlers.contactDetails();
      for (const field of CONTACT_FIELDS) inputs[field].value = known[field];
      // Unticked each time the form opens: consent is given by the visitor's own tick, never assumed.
      consentBox.checked = false;
      this.clearContactErrors();
      form.hidden = false;
      this.contactButton.setAttribute("aria-expanded", "true");
    }
    inputs.name.focus();
  }

  /** Closes the contact form; `returnFocus` puts the focus back on the button that opened it. */
  closeContact(returnFocus: boolean): void {
    const { form } = this.contact;
    if (!form.hidden) {
      form.hidden = true;
      this.contactButton.setAttribute("aria-expanded", "false");
      this.clearContactErrors();
    }
    if (returnFocus && !this.contactBar.hidden) this.contactButton.focus();
  }

  /** The details were saved: the form closes and the confirmation shows in the status line (a live region). */
  contactSaved(confirmation: string): void {
    const active = this.activeElement();
    const hadFocus = !active || this.contact.form.contains(active);
    this.setContactSending(false);
    this.closeContact(hadFocus && this.isOpen);
    this.setStatus(confirmation);
  }

  /** Sending failed: the message goes beside the field it names, else in the form's alert line. */
  contactFailed(problem: ContactProblem): void {
    const { form, inputs, errors, alert, submit } = this.contact;
    this.setContactSending(false);
    if (form.hidden) {
      this.setStatus(problem.text, "error");
      return;
    }
    this.clearContactErrors();
    if (problem.field) {
      const input = inputs[problem.field];
      const error = errors[problem.field];
      error.textContent = problem.text;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
      input.focus();
      return;
    }
    alert.textContent = problem.text;
    const active = this.activeElement();
    if (!active || !form.contains(active)) submit.focus();
  }

  focusInput(): void {
    this.input.focus();
  }

  /** Puts text back in an empty composer (a message the server refused). */
  restoreInput(text: string): void {
    if (this.input.value.trim()) return;
    this.input.value = text;
    this.fitInput();
  }

  /** Puts a refused message's screenshots back in the composer (before any chosen since); `refused` goes. */
  restoreShots(shots: Shot[], refused: Shot | null = null): void {
    if (refused) this.revoke(refused.url);
    if (!shots.length) return;
    const all = [...shots, ...this.shots];
    for (const dropped of all.slice(MAX_SHOTS)) this.revoke(dropped.url);
    this.shots = all.slice(0, MAX_SHOTS);
    this.renderThumbs();
  }

  /** A problem with a chosen or uploaded file, in the composer's alert line (null clears it). */
  attachProblem(text: string | null): void {
    const value = text ?? "";
    if (this.attachAlert.textContent !== value) this.attachAlert.textContent = value;
  }

  /** While screenshots upload, sending waits (the button says so and stays focusable). */
  setBusy(on: boolean): void {
    this.busy = on;
    if (on) this.sendButton.setAttribute("aria-disabled", "true");
    else this.sendButton.removeAttribute("aria-disabled");
  }

  /** "Uploading screenshot 1 of 2…" under a message being sent (null: done). */
  setUploading(bubble: Bubble, text: string | null): void {
    let line = bubble.el.querySelector<HTMLElement>(".cw-upload");
    if (!text) {
      line?.remove();
      bubble.el.removeAttribute("data-uploading");
      return;
    }
    if (!line) {
      line = this.h("p", "cw-upload", { "data-testid": "upload-status" });
      bubble.el.appendChild(line);
    }
    line.textContent = text;
    bubble.el.setAttribute("data-uploading", "");
  }

  /** Back to a fresh panel: only the welcome message. */
  reset(): void {
    while (this.welcome.nextSibling && this.welcome.nextSibling !== this.typing) {
      this.log.removeChild(this.welcome.nextSibling);
    }
    this.byId.clear();
    this.feedback.clear();
    this.rating = null;
    this.setTyping(false);
    this.setStatus(null);
    this.setCanEnd(false);
    this.setCanContact(false);
    this.input.value = "";
    this.fitInput();
    this.shots = [];
    this.renderThumbs();
    this.attachProblem(null);
    this.setBusy(false);
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls.clear();
  }

  has(messageId: string): boolean {
    return this.byId.has(messageId);
  }

  /** The visitor's message, shown at once (its screenshots from the local files), before the server has it. */
  addPendingVisitor(body: string, shots: Shot[] = []): Bubble {
    const bubble = this.bubble(
      "visitor",
      body,
      null,
      shots.map((shot) => ({ url: shot.url, shot })),
    );
    if (shots.length) bubble.shots = shots;
    bubble.el.setAttribute("data-pending", "");
    this.insert(bubble.el, true);
    return bubble;
  }

  /** The server has the message: the bubble takes its id (or goes, when the id is already shown). */
  confirm(bubble: Bubble, message: Message): void {
    if (message.attachments?.length) this.serverShots(bubble, message.attachments);
    if (bubble.messageId === message.id) return;
    if (this.byId.has(message.id)) {
      this.remove(bubble);
      return;
    }
    bubble.messageId = message.id;
    bubble.el.setAttribute("data-message-id", message.id);
    bubble.el.removeAttribute("data-pending");
    bubble.el.removeAttribute("data-failed");
    bubble.el.querySelector(".cw-retry")?.remove();
    this.byId.set(message.id, bubble);
  }

  /** The message could not be sent: a Retry button under it. */
  markFailed(bubble: Bubble): void {
    bubble.el.removeAttribute("data-pending");
    bubble.el.setAttribute("data-failed", "");
    if (bubble.el.querySelector(".cw-retry")) return;
    const retry = this.button("cw-retry", "");
    retry.textContent = "Not sent. Retry";
    retry.addEventListener("click", () => {
      retry.remove();
      bubble.el.removeAttribute("data-failed");
      bubble.el.setAttribute("data-pending", "");
      this.handlers.retry(bubble);
    });
    bubble.el.appendChild(retry);
  }

  remove(bubble: Bubble): void {
    bubble.el.remove();
    if (bubble.messageId && this.byId.get(bubble.messageId) === bubble) this.byId.delete(bubble.messageId);
  }

  /** A message from the server; returns its bubble, or null when it is already shown. */
  addMessage(message: Message, before?: Bubble): Bubble | null {
    if (this.byId.has(message.id)) return null;
    const bubble = this.bubble(
      message.author,
      message.body,
      message.id,
      (message.attachments ?? []).map((a) => ({ url: a.url })),
    );
    this.byId.set(message.id, bubble);
    if (before?.el.parentNode === this.log) {
      this.log.insertBefore(bubble.el, before.el);
    } else this.insert(bubble.el, false);
    return bubble;
  }

  /** An empty assistant bubble that a streamed answer grows in. */
  startAnswer(): Bubble {
    const bubble = this.bubble("assistant", "", null);
    bubble.el.setAttribute("data-pending", "");
    bubble.el.setAttribute("aria-busy", "true");
    const text = this.doc.createTextNode("");
    bubble.el.querySelector(".cw-bubble")?.appendChild(text);
    bubble.stream = text;
    this.insert(bubble.el, false);
    return bubble;
  }

  appendToAnswer(bubble: Bubble, text: string): void {
    if (!bubble.stream) return;
    const stick = this.nearBottom();
    bubble.body += text;
    bubble.stream.appendData(text);
    if (stick) this.scrollToEnd();
  }

  /** Replaces a streamed bubble with the real messages (those not shown yet); returns the ones added. */
  replaceAnswer(bubble: Bubble, messages: Message[]): Message[] {
    const added: Message[] = [];
    for (const message of messages) if (this.addMessage(message, bubble)) added.push(message);
    this.remove(bubble);
    return added;
  }

  /** A line about the conversation itself (handed off, ended…). */
  notice(text: string): void {
    const p = this.h("p", "cw-notice");
    p.textContent = text;
    this.insert(p, false);
  }

  setAnswerFeedback(messageId: string, helpful: boolean | null): void {
    const buttons = this.feedback.get(messageId);
    if (!buttons) return;
    buttons[0].setAttribute("aria-pressed", String(helpful === true));
    buttons[1].setAttribute("aria-pressed", String(helpful === false));
  }

  /** The 1–5 star rating of the conversation, as radio buttons with labels, under the log. */
  offerRating(): void {
    if (this.rating) return;
    const form = this.h("form", "cw-rating") as HTMLFormElement;
    const fieldset = this.h("fieldset", undefined, { "data-testid": "rating" });
    const legend = this.h("legend");
    legend.textContent = "How would you rate this conversation?";
    const stars = this.h("div", "cw-stars");
    const labels: HTMLElement[] = [];
    const submit = this.button("cw-rating-send", "");
    submit.type = "submit";
    submit.textContent = "Send rating";
    submit.disabled = true;
    let chosen = 0;
    for (let value = 1; value <= 5; value++) {
      const id = `${this.uid}-star-${value}`;
      const radio = this.h("input", "cw-sr", {
        type: "radio",
        name: `${this.uid}-rating`,
        id,
        value: String(value),
      }) as HTMLInputElement;
      const label = this.h("label", undefined, { for: id });
      const star = this.h("span", undefined, { "aria-hidden": "true" });
      star.textContent = "★";
      const name = this.h("span", "cw-sr");
      name.textContent = value === 1 ? "1 star" : `${value} stars`;
      label.append(star, name);
      radio.addEventListener("change", () => {
        chosen = value;
        submit.disabled = false;
        labels.forEach((l, i) => {
          if (i < value) l.setAttribute("data-on", "");
          else l.removeAttribute("data-on");
        });
      });
      labels.push(label);
      stars.append(radio, label);
    }
    fieldset.append(legend, stars, submit);
    form.appendChild(fieldset);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!chosen || submit.disabled) return;
      submit.disabled = true;
      this.handlers.rateConversation(chosen);
    });
    this.rating = form;
    this.insert(form, false);
  }

  /** The rating was saved (true: thanks in its place) or not (false: it can be sent again). */
  ratingDone(saved: boolean): void {
    const form = this.rating;
    if (!form) return;
    if (!saved) {
      const submit = form.querySelector<HTMLButtonElement>(".cw-rating-send");
      if (submit) submit.disabled = false;
      return;
    }
    const root = this.el.getRootNode() as ShadowRoot | Document;
    const hadFocus = !root.activeElement || form.contains(root.activeElement);
    const thanks = this.h("p", "cw-notice");
    thanks.textContent = "Thank you for your feedback!";
    form.replaceWith(thanks);
    this.rating = null;
    // The focused control is gone: keep the keyboard in the panel.
    if (hadFocus && this.isOpen) this.input.focus();
  }

  /** Forgets the rating offer (a new conversation started) without removing what the log shows. */
  dropRating(): void {
    this.rating?.remove();
    this.rating = null;
  }

  private contactForm(): ContactForm {
    const id = `${this.uid}-contact`;
    const form = this.h("form", "cw-contact", {
      id,
      "aria-labelledby": `${id}-title`,
      "aria-describedby": `${id}-hint`,
      "data-testid": "contact-form",
      novalidate: "",
    }) as HTMLFormElement;
    form.hidden = true;
    const title = this.h("h3", "cw-contact-title", { id: `${id}-title` });
    title.textContent = contactText.title;
    const hint = this.h("p", "cw-contact-hint", { id: `${id}-hint` });
    hint.textContent = contactText.hint;
    form.append(title, hint);
    const attributes: Record<ContactField, Record<string, string>> = {
      name: { type: "text", autocomplete: "name", maxlength: "200" },
      email: {
        type: "email",
        autocomplete: "email",
        maxlength: "254",
        spellcheck: "false",
        autocapitalize: "off",
      },
      phone: { type: "tel", autocomplete: "tel", maxlength: "40" },
    };
    const inputs = {} as Record<ContactField, HTMLInputElement>;
    const errors = {} as Record<ContactField, HTMLElement>;
    for (const field of CONTACT_FIELDS) {
      const fieldId = `${id}-${field}`;
      const row = this.h("div", "cw-field");
      const label = this.h("label", undefined, { for: fieldId });
      label.textContent = contactText.labels[field];
      const input = this.h("input", undefined, {
        ...attributes[field],
        id: fieldId,
        name: field,
        "data-testid": `contact-${field}`,
      }) as HTMLInputElement;
      const error = this.h("p", "cw-field-error", {
        id: `${fieldId}-error`,
        "data-testid": `contact-${field}-error`,
      });
      error.hidden = true;
      row.append(label, input, error);
      form.appendChild(row);
      inputs[field] = input;
      errors[field] = error;
    }
    // The marketing-consent checkbox: shown with the organization's words when it keeps a mailing list, unticked.
    const consentId = `${id}-consent`;
    const consent = this.h("div", "cw-consent", { "data-testid": "contact-consent-row" });
    consent.hidden = true;
    const consentBox = this.h("input", undefined, {
      type: "checkbox",
      id: consentId,
      name: "marketing_consent",
      "data-testid": "contact-consent",
    }) as HTMLInputElement;
    const consentLabel = this.h("label", undefined, {
      for: consentId,
      "data-testid": "contact-consent-label",
    });
    consent.append(consentBox, consentLabel);
    form.appendChild(consent);
    const alert = this.h("p", "cw-contact-alert", { role: "alert", "data-testid": "contact-alert" });
    const actions = this.h("div", "cw-contact-actions");
    const submit = this.button("cw-contact-send", "");
    submit.type = "submit";
    submit.textContent = contactText.send;
    submit.setAttribute("data-testid", "contact-send");
    const cancel = this.button("cw-contact-cancel", "");
    cancel.textContent = contactText.cancel;
    cancel.setAttribute("data-testid", "contact-cancel");
    cancel.addEventListener("click", () => this.closeContact(true));
    actions.append(submit, cancel);
    form.append(alert, actions);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.contactSending) return;
      this.clearContactErrors();
      const fields = {} as ContactFields;
      for (const field of CONTACT_FIELDS) fields[field] = inputs[field].value;
      this.setContactSending(true);
      this.handlers.saveContact(fields, consent.hidden ? null : consentBox.checked);
    });
    // Escape closes the form only (not the panel) and gives the focus back to "Leave your contact details".
    form.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.stopPropagation();
      event.preventDefault();
      this.closeContact(true);
    });
    return { form, inputs, errors, consent, consentBox, consentLabel, alert, submit };
  }

  private setContactSending(on: boolean): void {
    const { form, submit } = this.contact;
    this.contactSending = on;
    submit.disabled = on;
    submit.textContent = on ? contactText.sending : contactText.send;
    if (on) form.setAttribute("aria-busy", "true");
    else form.removeAttribute("aria-busy");
  }

  private clearContactErrors(): void {
    const { inputs, errors, alert } = this.contact;
    for (const field of CONTACT_FIELDS) {
      inputs[field].removeAttribute("aria-invalid");
      inputs[field].removeAttribute("aria-describedby");
      errors[field].textContent = "";
      errors[field].hidden = true;
    }
    alert.textContent = "";
  }

  private activeElement(): Element | null {
    return (this.el.getRootNode() as ShadowRoot | Document).activeElement;
  }

  private submit(): void {
    const raw = this.input.value;
    const shots = this.shots;
    // Nothing typed and nothing attached: nothing to send. Only blanks: sent as they are, so that the visitor
    // reads the server's reason (an empty message is refused), as for a message that is too long; with
    // screenshots, the text may be empty.
    if (!raw && !shots.length) return;
    if (this.busy) {
      this.setStatus(shotText.wait);
      return;
    }
    this.input.value = "";
    this.fitInput();
    this.shots = [];
    this.renderThumbs();
    this.attachProblem(null);
    this.handlers.send(shots.length ? raw.trim() : raw.trim() || raw, shots);
  }

  /** Checks chosen or pasted files (type by their bytes, size, count); the good ones wait in the composer. */
  private async addFiles(files: File[]): Promise<void> {
    if (!files.length) return;
    const problems: string[] = [];
    for (const file of files) {
      let head = new Uint8Array(0);
      try {
        head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
      } catch {
        // Unreadable: refused below as not an image.
      }
      const problem = shotProblem(file, head, this.shots.length);
      const type = sniffImage(head);
      if (problem || !type) {
        if (problem) problems.push(problem);
        continue;
      }
      const name = file.name || "screenshot";
      this.shots.push({ file, name, type, url: this.objectUrl(file), id: null, conversationId: null });
    }
    this.renderThumbs();
    this.attachProblem(joinProblems(problems) || null);
  }

  /** The previews of the screenshots to send, each with its remove button. */
  private renderThumbs(): void {
    const list = this.thumbs;
    while (list.firstChild) list.removeChild(list.firstChild);
    this.shots.forEach((shot, i) => {
      const item = this.h("li", "cw-thumb", { "data-testid": "shot" });
      const img = this.h("img", undefined, { alt: previewAlt(i + 1, shot.name) }) as HTMLImageElement;
      this.showLocal(img, null, shot);
      const remove = this.button("cw-thumb-remove", shotText.remove(i + 1));
      remove.setAttribute("data-testid", "remove-shot");
      remove.appendChild(icon(this.doc, CLOSE));
      remove.addEventListener("click", () => this.removeShot(i));
      item.append(img, remove);
      list.appendChild(item);
    });
    list.hidden = this.shots.length === 0;
  }

  private removeShot(index: number): void {
    const [removed] = this.shots.splice(index, 1);
    if (removed) this.revoke(removed.url);
    this.renderThumbs();
    this.attachProblem(null);
    // The focus goes to the next remove button (or the one before), else back to the text box.
    const buttons = this.thumbs.querySelectorAll<HTMLButtonElement>(".cw-thumb-remove");
    (buttons[Math.min(index, buttons.length - 1)] ?? this.input).focus();
  }

  private objectUrl(file: Blob): string {
    const url = URL.createObjectURL(file);
    this.objectUrls.add(url);
    return url;
  }

  private revoke(url: string): void {
    if (!this.objectUrls.delete(url)) return;
    URL.revokeObjectURL(url);
  }

  /**
   * Shows a local screenshot: its object URL, or (where the page's Content-Security-Policy allows data: images but
   * not blob: ones) the same bytes as a data: URL.
   */
  private showLocal(img: HTMLImageElement, link: HTMLAnchorElement | null, shot: Shot): void {
    img.src = shot.url;
    if (!shot.url.startsWith("blob:")) return;
    img.addEventListener(
      "error",
      () => {
        const reader = new FileReader();
        reader.onload = () => {
          if (typeof reader.result !== "string") return;
          this.revoke(shot.url);
          shot.url = reader.result;
          img.src = reader.result;
          if (link) link.href = reader.result;
        };
        reader.readAsDataURL(shot.file);
      },
      { once: true },
    );
  }

  /** The images of a message, each a link to the full image in a new tab. */
  private shotLinks(author: string, images: { url: string; shot?: Shot }[], alone: boolean): HTMLElement {
    const box = this.h("div", "cw-shots");
    if (alone) box.setAttribute("data-alone", "");
    images.forEach(({ url, shot }, i) => {
      const link = this.h("a", "cw-shot", {
        target: "_blank",
        rel: "noopener",
        "data-testid": "shot-link",
      }) as HTMLAnchorElement;
      link.href = url;
      const img = this.h("img", undefined, {
        alt: shotAlt(i + 1, author === "visitor"),
        "data-testid": "shot-image",
      }) as HTMLImageElement;
      // An image that loads after the view was at the bottom keeps it there.
      img.addEventListener("load", () => {
        const log = this.log;
        if (log.scrollHeight - log.scrollTop - log.clientHeight - img.offsetHeight < 48) this.scrollToEnd();
      });
      if (shot) this.showLocal(img, link, shot);
      else img.src = url;
      const hint = this.h("span", "cw-sr");
      hint.textContent = shotText.opensInNewTab;
      link.append(img, hint);
      box.appendChild(link);
    });
    return box;
  }

  /**
   * The server has the visitor's screenshots: each image moves to its signed URL once that loaded (no flicker),
   * and the local copy is let go; where it does not load, the local copy stays.
   */
  private serverShots(bubble: Bubble, attachments: Attachment[]): void {
    const links = bubble.el.querySelectorAll<HTMLAnchorElement>(".cw-shot");
    if (links.length !== attachments.length) {
      const content = bubble.el.querySelector(".cw-bubble");
      bubble.el.querySelector(".cw-shots")?.remove();
      content?.appendChild(
        this.shotLinks(
          bubble.author,
          attachments.map((a) => ({ url: a.url })),
          !bubble.body.trim(),
        ),
      );
      for (const shot of bubble.shots ?? []) this.revoke(shot.url);
      bubble.shots = undefined;
      return;
    }
    attachments.forEach((attachment, i) => {
      const link = links[i];
      const img = link?.querySelector("img");
      if (!link || !img || img.getAttribute("src") === attachment.url) return;
      const probe = this.doc.createElement("img");
      probe.addEventListener("load", () => {
        const local = img.getAttribute("src") ?? "";
        img.src = attachment.url;
        link.href = attachment.url;
        this.revoke(local);
      });
      probe.src = attachment.url;
    });
  }

  private fitInput(): void {
    // CSSOM, not a style attribute: allowed by a strict style-src.
    const style = this.input.style;
    style.setProperty("height", "auto");
    if (this.input.scrollHeight > 0)
      style.setProperty("height", `${Math.min(this.input.scrollHeight + 2, 120)}px`);
  }

  private bubble(
    author: string,
    body: string,
    messageId: string | null,
    images: { url: string; shot?: Shot }[] = [],
  ): Bubble {
    const el = this.h("div", "cw-msg", { "data-testid": "message", "data-author": author });
    if (messageId) el.setAttribute("data-message-id", messageId);
    if (author === "agent") {
      const label = this.h("span", "cw-author");
      label.textContent = "Agent";
      el.appendChild(label);
    }
    const content = this.h("div", "cw-bubble");
    renderText(this.doc, content, body);
    if (images.length) {
      const alone = !body.trim();
      if (alone) content.setAttribute("data-shots-only", "");
      content.appendChild(this.shotLinks(author, images, alone));
    }
    el.appendChild(content);
    if (author === "assistant" && messageId) el.appendChild(this.rateControls(messageId));
    return { el, author, body, messageId };
  }

  private rateControls(messageId: string): HTMLElement {
    const group = this.h("div", "cw-rate", { role: "group", "aria-label": "Was this answer helpful?" });
    const up = this.button("", "Helpful");
    up.setAttribute("data-testid", "rate-up");
    up.appendChild(icon(this.doc, THUMB_UP));
    const down = this.button("", "Not helpful");
    down.setAttribute("data-testid", "rate-down");
    down.appendChild(icon(this.doc, THUMB_DOWN));
    for (const [button, helpful] of [
      [up, true],
      [down, false],
    ] as const) {
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => {
        if (button.getAttribute("aria-pressed") === "true") return;
        this.setAnswerFeedback(messageId, helpful);
        this.handlers.rateAnswer(messageId, helpful);
      });
    }
    this.feedback.set(messageId, [up, down]);
    group.append(up, down);
    return group;
  }

  /** Adds to the log above the typing indicator, keeping the view at the bottom when it was there. */
  private insert(node: HTMLElement, alwaysScroll: boolean): void {
    const stick = alwaysScroll || this.nearBottom();
    this.log.insertBefore(node, this.typing);
    if (stick) this.scrollToEnd();
  }

  private nearBottom(): boolean {
    const log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  private scrollToEnd(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  private button(className: string, label: string): HTMLButtonElement {
    const button = this.h("button", className || undefined) as HTMLButtonElement;
    button.type = "button";
    if (label) button.setAttribute("aria-label", label);
    return button;
  }

  private h(tag: string, className?: string, attributes?: Record<string, string>): HTMLElement {
    const el = this.doc.createElement(tag);
    if (className) el.className = className;
    if (attributes) for (const name of Object.keys(attributes)) el.setAttribute(name, attributes[name] ?? "");
    return el;
  }
}
