//! Team members and plan changes: roles are granted no higher than one's own, the last owner stays, and
//! every change lands in the audit log.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app};

/// The code of a top-level error (authorization, or GraphQL's own validation): the mutation's field is null.
fn code<'a>(reply: &'a Reply, field: &str) -> &'a str {
    assert!(reply.body["data"][field].is_null(), "{}", reply.text);
    reply.graphql_code()
}

/// The code of the one user error of a mutation that did not run.
fn user_code(reply: &Reply, field: &str) -> String {
    reply.user_error(field)["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn invite(app: &TestApp, key: &str, email: &str, role: &str) -> Reply {
    app.graphql_as(
        key,
        "mutation($email: String!, $role: MemberRole!) { inviteMember(input: {email: $email, role: $role}) { member { id email role active } userErrors { field message code } } }",
        json!({"email": email, "role": role}),
    )
    .await
}

async fn change_role(app: &TestApp, key: &str, id: &Value, role: &str) -> Reply {
    app.graphql_as(
        key,
        "mutation($id: ID!, $role: MemberRole!) { changeMemberRole(id: $id, role: $role) { member { id role } userErrors { field message code } } }",
        json!({"id": id, "role": role}),
    )
    .await
}

#[tokio::test]
async fn members_are_invited_listed_and_validated() {
    let app = spawn_app().await;
    let reply = invite(&app, &app.key, "Agent@Acme.test", "AGENT").await;
    let invited = reply.payload("inviteMember");
    assert_eq!(invited["member"]["email"], "agent@acme.test");
    assert_eq!(invited["member"]["role"], "AGENT");

    let list = app
        .graphql_ok(
            "{ members { edges { node { email role active } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["members"]["edges"].as_array().unwrap().len(), 2);

    let taken = invite(&app, &app.key, "agent@acme.test", "VIEWER")
        .await
        .user_error("inviteMember");
    assert_eq!(taken["code"], "CONFLICT", "{taken}");
    assert_eq!(taken["field"], Value::Null, "{taken}");
    let bad_email = invite(&app, &app.key, "not an email", "VIEWER")
        .await
        .user_error("inviteMember");
    assert_eq!(bad_email["code"], "BAD_USER_INPUT", "{bad_email}");
    assert_eq!(bad_email["field"], json!(["input", "email"]), "{bad_email}");
    // A role that does not exist is refused by GraphQL itself.
    let reply = invite(&app, &app.key, "x@acme.test", "EMPEROR").await;
    assert_eq!(
        code(&reply, "inviteMember"),
        "BAD_USER_INPUT",
        "{}",
        reply.text
    );
    assert_eq!(app.count_rows("users").await, 2);
}

#[tokio::test]
async fn admins_manage_the_team_below_them_but_never_owners() {
    let app = spawn_app().await;
    let admin = app.key_with_role("admin").await;
    assert_eq!(
        code(
            &invite(&app, &admin, "boss@acme.test", "OWNER").await,
            "inviteMember"
        ),
        "FORBIDDEN"
    );
    let agent = invite(&app, &admin, "agent@acme.test", "AGENT").await;
    let agent_id = agent.payload("inviteMember")["member"]["id"].clone();
    let reply = change_role(&app, &admin, &agent_id, "VIEWER").await;
    assert_eq!(
        reply.payload("changeMemberRole")["member"]["role"],
        "VIEWER"
    );
    let owner_id = json!(app.org.owner.id);
    assert_eq!(
        code(
            &change_role(&app, &admin, &owner_id, "VIEWER").await,
            "changeMemberRole"
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(
            &change_role(&app, &admin, &agent_id, "OWNER").await,
            "changeMemberRole"
        ),
        "FORBIDDEN"
    );

    let agent_key = app.key_with_role("agent").await;
    assert_eq!(
        code(
            &invite(&app, &agent_key, "x@acme.test", "VIEWER").await,
            "inviteMember"
        ),
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_deactivated() {
    let app = spawn_app().await;
    let owner_id = json!(app.org.owner.id);
    assert_eq!(
        user_code(
            &change_role(&app, &app.key, &owner_id, "ADMIN").await,
            "changeMemberRole"
        ),
        "CONFLICT"
    );
    let deactivate = "mutation($id: ID!) { deactivateMember(id: $id) { member { id active } userErrors { field message code } } }";
    let reply = app.graphql(deactivate, json!({"id": owner_id})).await;
    assert_eq!(user_code(&reply, "deactivateMember"), "CONFLICT");

    // With a second owner, the first may step down.
    invite(&app, &app.key, "second@acme.test", "OWNER")
        .await
        .payload("inviteMember");
    let reply = change_role(&app, &app.key, &owner_id, "ADMIN").await;
    assert_eq!(reply.payload("changeMemberRole")["member"]["role"], "ADMIN");

    let log = app
        .get("/api/v1/audit-log?action=member.role_changed")
        .await;
    assert_eq!(log.body["data"][0]["before"]["role"], "owner");
    assert_eq!(log.body["data"][0]["after"]["role"], "admin");
}

#[tokio::test]
async fn only_owners_change_the_plan_and_the_new_tier_applies_at_once() {
    let app = spawn_app().await;
    let admin = app.key_with_role("admin").await;
    let set = "mutation($plan: OrganizationPlan!) { setOrganizationPlan(plan: $plan) { organization { plan } userErrors { field message code } } }";
    assert_eq!(
        code(
            &app.graphql_as(&admin, set, json!({"plan": "BASIC"})).await,
            "setOrganizationPlan"
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(
            &app.graphql(set, json!({"plan": "GOLD"})).await,
            "setOrganizationPlan"
        ),
        "BAD_USER_INPUT"
    );

    let data = app
        .mutate(set, json!({"plan": "BASIC"}), "setOrganizationPlan")
        .await;
    assert_eq!(data["organization"]["plan"], "BASIC");
    let reply = app.get("/api/v1/knowledge-base").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers["ratelimit-limit"], "60",
        "the basic tier applies to the next request"
    );

    let log = app
        .get("/api/v1/audit-log?action=organization.plan_changed")
        .await;
    assert_eq!(log.body["data"][0]["before"]["plan"], "premium");
    assert_eq!(log.body["data"][0]["after"]["plan"], "basic");
}

#[tokio::test]
async fn the_operator_changes_a_plan_from_the_command_line() {
    let (settings, _cleanup) = crate::helpers::fresh_settings().await;
    let run = |args: &[&str]| {
        crate::helpers::concierge_command(&settings)
            .args(args)
            .output()
            .unwrap()
    };
    let boot = run(&[
        "bootstrap",
        "--org",
        "Acme",
        "--plan",
        "basic",
        "--email",
        "o@acme.test",
    ]);
    let stdout = String::from_utf8_lossy(&boot.stdout).to_string();
    let org = stdout.split_whitespace().nth(1).unwrap().to_owned();
    assert!(org.starts_with("org_"), "{stdout}");
    let out = run(&["org", "set-plan", "--org", &org, "--plan", "premium"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("premium plan"));
    let bad = run(&[
        "org",
        "set-plan",
        "--org",
        "org_01JD0000000000000000000000",
        "--plan",
        "standard",
    ]);
    assert!(!bad.status.success());
    let verify = run(&["audit", "verify"]);
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).contains("3 entries"));
}
