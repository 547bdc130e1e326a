// The Members page's helpers: the roles one may give and change, and what issuing an invitation announces.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assignableRoles, invitationStatus, mayManage } from "../src/lib/members";

test("an invitation emailed says so; one that is not asks for its link to be copied", () => {
  assert.equal(
    invitationStatus("dana@acme.test", true),
    "The invitation was emailed to dana@acme.test. Its link is below too, if you would rather send it yourself.",
  );
  assert.equal(
    invitationStatus("dana@acme.test", false),
    "Invitation link for dana@acme.test ready: copy it now.",
  );
});

test("no one gives or changes a role above their own", () => {
  assert.deepEqual(assignableRoles("ADMIN"), ["ADMIN", "AGENT", "ANALYST", "VIEWER"]);
  assert.equal(assignableRoles("OWNER")[0], "OWNER");
  assert.equal(mayManage("ADMIN", "OWNER"), false);
  assert.equal(mayManage("ADMIN", "AGENT"), true);
});
