// contact.test.ts — the contact form's request body, confirmation and error placement.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError, NetworkError } from "../src/api";
import {
  consentToSend,
  contactBody,
  contactConfirmation,
  contactPrefill,
  contactProblem,
  contactText,
  fieldOfMessage,
} from "../src/contact";

const unprocessable = (message: string) => new HttpError(422, "BAD_USER_INPUT", message, null);

describe("contact form helpers", () => {
  it("builds the body from trimmed, non-empty fields", () => {
    assert.deepEqual(contactBody({ name: " Ann Lee ", email: "ann@example.test", phone: "+43 1 234 5678" }), {
      name: "Ann Lee",
      email: "ann@example.test",
      phone: "+43 1 234 5678",
    });
    assert.deepEqual(contactBody({ name: "Ann Lee", email: "   ", phone: "" }), { name: "Ann Lee" });
    assert.deepEqual(contactBody({ name: "", email: "", phone: "" }), {});
    assert.deepEqual(contactBody({ phone: " 123 " }), { phone: "123" });
  });

  it("says marketing consent only when the form shows its checkbox, never withdrawing it by default", () => {
    assert.deepEqual(contactBody({ email: "ann@example.test" }, true), {
      email: "ann@example.test",
      marketing_consent: true,
    });
    assert.deepEqual(contactBody({ email: "ann@example.test" }, false), {
      email: "ann@example.test",
      marketing_consent: false,
    });
    assert.deepEqual(contactBody({ email: "ann@example.test" }, undefined), { email: "ann@example.test" });
    // No checkbox: nothing said.
    assert.equal(consentToSend(null, false), undefined);
    assert.equal(consentToSend(null, true), undefined);
    // Ticked: given.
    assert.equal(consentToSend(true, false), true);
    assert.equal(consentToSend(true, true), true);
    // Left unticked: not given, but a consent given before is not withdrawn by a box that starts unticked.
    assert.equal(consentToSend(false, false), false);
    assert.equal(consentToSend(false, true), undefined);
  });

  it("prefills from the known visitor, blanks for what is unknown", () => {
    assert.deepEqual(contactPrefill(null), { name: "", email: "", phone: "" });
    assert.deepEqual(contactPrefill({ name: "Ann", email: null, phone: "+43 1" }), {
      name: "Ann",
      email: "",
      phone: "+43 1",
    });
  });

  it("confirms with the ways the team can reach the visitor", () => {
    assert.equal(
      contactConfirmation({ email: "ann@example.test", phone: "+43 1 234 5678" }),
      "Thanks — the team can now reach you at ann@example.test or +43 1 234 5678.",
    );
    assert.equal(
      contactConfirmation({ email: null, phone: "+43 1" }),
      "Thanks — the team can now reach you at +43 1.",
    );
    assert.equal(contactConfirmation({}), contactText.sentNoContact);
  });

  it("maps a validation message to the field it names", () => {
    assert.deepEqual(fieldOfMessage("email: give an email address or a phone number"), {
      field: "email",
      text: "Give an email address or a phone number.",
    });
    assert.deepEqual(fieldOfMessage("phone: may hold only digits, spaces and + - ( ) ."), {
      field: "phone",
      text: "May hold only digits, spaces and + - ( ) .",
    });
    assert.deepEqual(fieldOfMessage("visitor.email: must be an email address"), {
      field: "email",
      text: "Must be an email address.",
    });
    assert.deepEqual(fieldOfMessage("Name: must be at most 200 characters!"), {
      field: "name",
      text: "Must be at most 200 characters!",
    });
    assert.equal(fieldOfMessage("input: nothing to update"), null);
    assert.equal(fieldOfMessage("the email is wrong"), null);
    assert.equal(fieldOfMessage("emails: nope"), null);
  });

  it("places each failure beside a field or in the alert line", () => {
    assert.deepEqual(contactProblem(unprocessable("email: give an email address or a phone number")), {
      field: "email",
      text: "Give an email address or a phone number.",
    });
    assert.deepEqual(contactProblem(unprocessable("something else is wrong")), {
      field: null,
      text: "Something else is wrong.",
    });
    assert.deepEqual(contactProblem(unprocessable("")), { field: null, text: contactText.failed });
    assert.deepEqual(contactProblem(new HttpError(404, "NOT_FOUND", "conversation not found", null)), {
      field: null,
      text: contactText.gone,
    });
    assert.deepEqual(contactProblem(new HttpError(401, "UNAUTHENTICATED", "expired", null)), {
      field: null,
      text: contactText.sessionEnded,
    });
    assert.deepEqual(contactProblem(new HttpError(403, "FORBIDDEN", "no", null)), {
      field: null,
      text: contactText.failed,
    });
    assert.deepEqual(contactProblem(new HttpError(429, "RATE_LIMITED", "slow down", 2500)), {
      field: null,
      text: "Too many requests. Please try again in 3 s.",
    });
    assert.deepEqual(contactProblem(new HttpError(429, "RATE_LIMITED", "slow down", null)), {
      field: null,
      text: contactText.tooMany,
    });
    assert.deepEqual(contactProblem(new HttpError(500, "INTERNAL", "internal error", null)), {
      field: null,
      text: contactText.failed,
    });
    assert.deepEqual(contactProblem(new NetworkError(true)), { field: null, text: contactText.offline });
    assert.deepEqual(contactProblem(new Error("boom")), { field: null, text: contactText.failed });
  });
});
