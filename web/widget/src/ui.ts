// ui.ts — the chat panel inside the shadow root: header, message log, typing indicator, status line, contact form,
// composer and ratings.

import {
  CONTACT_FIELDS,
  type ContactField,
  type ContactFields,
  type ContactProblem,
  contactText,
} from "./contact";
import { CLOSE, icon, SEND, THUMB_DOWN, THUMB_UP } from "./icons";
import { renderText } from "./text";
import type { Message } from "./wire";

export interface PanelHandlers {
  send(text: string): void;
  close(): void;
  endChat(): void;
  rateAnswer(messageId: string, helpful: boolean): void;
  rateConversation(rating: number): void;
  retry(bubble: Bubble): void;
  /** The visitor's known contact details, to prefill the contact form with. */
  contactDetails(): ContactFields;
  /** The contact form was submitted; answered with contactSaved() or contactFailed(). */
  saveContact(fields: ContactFields): void;
}

/** The inline contact form and its parts. */
interface ContactForm {
  form: HTMLFormElement;
  inputs: Record<ContactField, HTMLInputElement>;
  errors: Record<ContactField, HTMLElement>;
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
    form.append(label, this.input, send);
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

  /** Opens the contact form, prefilled with what is known of the visitor, and puts the focus in it. */
  openContact(): void {
    const { form, inputs } = this.contact;
    if (this.contactBar.hidden) return;
    if (form.hidden) {
      const known = this.handlers.contactDetails();
      for (const field of CONTACT_FIELDS) inputs[field].value = known[field];
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
  }

  has(messageId: string): boolean {
    return this.byId.has(messageId);
  }

  /** The visitor's message, shown at once, before the server has it. */
  addPendingVisitor(body: string): Bubble {
    const bubble = this.bubble("visitor", body, null);
    bubble.el.setAttribute("data-pending", "");
    this.insert(bubble.el, true);
    return bubble;
  }

  /** The server has the message: the bubble takes its id (or goes, when the id is already shown). */
  confirm(bubble: Bubble, message: Message): void {
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
    const bubble = this.bubble(message.author, message.body, message.id);
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
      this.handlers.saveContact(fields);
    });
    // Escape closes the form only (not the panel) and gives the focus back to "Leave your contact details".
    form.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.stopPropagation();
      event.preventDefault();
      this.closeContact(true);
    });
    return { form, inputs, errors, alert, submit };
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
    // Nothing typed: nothing to send. Only blanks: sent as they are, so that the visitor reads the server's
    // reason (an empty message is refused), as for a message that is too long.
    if (!raw) return;
    this.input.value = "";
    this.fitInput();
    this.handlers.send(raw.trim() || raw);
  }

  private fitInput(): void {
    // CSSOM, not a style attribute: allowed by a strict style-src.
    const style = this.input.style;
    style.setProperty("height", "auto");
    if (this.input.scrollHeight > 0)
      style.setProperty("height", `${Math.min(this.input.scrollHeight + 2, 120)}px`);
  }

  private bubble(author: string, body: string, messageId: string | null): Bubble {
    const el = this.h("div", "cw-msg", { "data-testid": "message", "data-author": author });
    if (messageId) el.setAttribute("data-message-id", messageId);
    if (author === "agent") {
      const label = this.h("span", "cw-author");
      label.textContent = "Agent";
      el.appendChild(label);
    }
    const content = this.h("div", "cw-bubble");
    renderText(this.doc, content, body);
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
