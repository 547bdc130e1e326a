//! Casbin policies in the database: stored with each change, applied on every instance at once, never raised by oneself.

use api::auth::{Actor, Origin, Plan, Principal, Role};
use api::authz::Tenant;
use api::error::ApiError;
use api::service::identity::members;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Server, TestApp, concierge_command, spawn_app};

async fn policies(app: &TestApp, condition: &str) -> i64 {
    app.count_rows(&format!("authz_policies WHERE {condition}"))
        .await
}

async fn graphql_on(app: &TestApp, address: &str, key: &str) -> (StatusCode, String) {
    let reply = app
        .client
        .post(format!("{address}/graphql"))
        .bearer_auth(key)
        .json(&json!({"query": "{ me { role } }"}))
        .send()
        .await
        .unwrap();
    let status = reply.status();
    (status, reply.text().await.unwrap())
}

#[tokio::test]
async fn a_plan_change_on_one_instance_applies_on_another_at_the_next_request() {
    // Instances that share a database share Redis too: the change reaches the other's key cache through it.
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.redis_url = Some(secrecy::SecretString::from(crate::helpers::redis_url()));
    })
    .await;
    let org = &app.org.organization.id;
    let instance = Server::start(app.settings.clone()).await;
    let other = instance.address.clone();
    // The second instance has judged this key once, so its enforcer holds the premium plan.
    let (status, body) = graphql_on(&app, &other, &app.key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        policies(
            &app,
            &format!("ptype = 'g2' AND v0 = '{org}' AND v1 = 'plan:premium'")
        )
        .await,
        1
    );

    let changed = app
        .mutate(
            "mutation { setOrganizationPlan(plan: BASIC) { organization { plan } userErrors { field message code } } }",
            json!({}),
            "setOrganizationPlan",
        )
        .await;
    assert_eq!(changed["organization"]["plan"], "BASIC");
    assert_eq!(
        policies(
            &app,
            &format!("ptype = 'g2' AND v0 = '{org}' AND v1 = 'plan:basic'")
        )
        .await,
        1,
        "the plan's policy is stored with the change"
    );
    // As soon as the notice has crossed Redis.
    let (status, body) = within_a_second(&app, &other, StatusCode::FORBIDDEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("PLAN_UPGRADE_REQUIRED"), "{body}");
    let write = app
        .client
        .post(format!("{other}/api/v1/knowledge-base"))
        .bearer_auth(&app.key)
        .json(&json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN);

    // The operator upgrades again from the command line: both instances follow at once.
    let out = concierge_command(&app.settings)
        .args(["org", "set-plan", "--org", org, "--plan", "standard"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for address in [&app.address, &other] {
        let (status, body) = within_a_second(&app, address, StatusCode::OK).await;
        assert_eq!(status, StatusCode::OK, "{address}: {body}");
    }
}

/// [`graphql_on`] with the app's key, again every 20 ms until it answers `wanted` or a second has passed.
async fn within_a_second(app: &TestApp, address: &str, wanted: StatusCode) -> (StatusCode, String) {
    let started = std::time::Instant::now();
    loop {
        let (status, body) = graphql_on(app, address, &app.key).await;
        if status == wanted || started.elapsed() > std::time::Duration::from_secs(1) {
            return (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn keys_and_members_hold_their_roles_in_the_policy_table_until_revoked_or_deactivated() {
    let app = spawn_app().await;
    let owner = &app.org.owner.id;
    assert_eq!(
        policies(
            &app,
            &format!("ptype = 'g' AND v0 = '{owner}' AND v1 = 'role:owner'")
        )
        .await,
        1
    );

    let scoped = app
        .post(
            "/api/v1/api-keys",
            json!({"name": "export", "role": "analyst", "scopes": ["conversations:read", "analytics:read"]}),
        )
        .await;
    assert_eq!(scoped.status, StatusCode::CREATED, "{}", scoped.text);
    let key_id = scoped.body["id"].as_str().unwrap().to_owned();
    let held = |role: &str| format!("ptype = 'g' AND v0 = '{key_id}' AND v1 = '{role}'");
    assert_eq!(policies(&app, &held("scope:conversations:read")).await, 1);
    assert_eq!(policies(&app, &held("scope:analytics:read")).await, 1);
    assert_eq!(policies(&app, &held("service_key")).await, 1);
    assert_eq!(
        policies(&app, &held("role:analyst")).await,
        0,
        "scopes replace the role"
    );

    let revoked = app.delete(&format!("/api/v1/api-keys/{key_id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(policies(&app, &format!("v0 = '{key_id}'")).await, 0);

    let invited = app
        .mutate(
            "mutation { inviteMember(input: {email: \"ann@acme.test\", role: AGENT}) { member { id } userErrors { field message code } } }",
            json!({}),
            "inviteMember",
        )
        .await;
    let member = invited["member"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        policies(&app, &format!("v0 = '{member}' AND v1 = 'role:agent'")).await,
        1
    );
    app.mutate(
        "mutation($id: ID!) { changeMemberRole(id: $id, role: VIEWER) { member { id } userErrors { field message code } } }",
        json!({"id": member}),
        "changeMemberRole",
    )
    .await;
    assert_eq!(policies(&app, &format!("v0 = '{member}'")).await, 1);
    assert_eq!(
        policies(&app, &format!("v0 = '{member}' AND v1 = 'role:viewer'")).await,
        1
    );
    app.mutate(
        "mutation($id: ID!) { deactivateMember(id: $id) { member { id } userErrors { field message code } } }",
        json!({"id": member}),
        "deactivateMember",
    )
    .await;
    assert_eq!(policies(&app, &format!("v0 = '{member}'")).await, 0);
}

#[tokio::test]
async fn nobody_raises_their_own_role() {
    let app = spawn_app().await;
    // A key cannot mint a key above its own role.
    let admin_key = app.key_with_role("admin").await;
    let keys = app.count_rows("api_keys").await;
    let reply = app
        .send(
            Method::POST,
            "/api/v1/api-keys",
            Some(&admin_key),
            Some(json!({"name": "up", "role": "owner"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(reply.error_code(), "FORBIDDEN");
    assert_eq!(app.count_rows("api_keys").await, keys);

    // A member signed in as an admin cannot promote themself, nor touch their own membership at all.
    let invited = app
        .mutate(
            "mutation { inviteMember(input: {email: \"adm@acme.test\", role: ADMIN}) { member { id } userErrors { field message code } } }",
            json!({}),
            "inviteMember",
        )
        .await;
    let id = invited["member"]["id"].as_str().unwrap().to_owned();
    let session = Principal {
        organization: Tenant::new(app.org.organization.id.clone()),
        plan: Plan::Premium,
        role: Role::Admin,
        actor: Actor::User {
            id: id.clone(),
            session_id: "ses_test".to_owned(),
            method: "password".to_owned(),
        },
        origin: Origin::default(),
        scopes: None,
        authz: app.state.authz.clone(),
    };
    for role in [Role::Owner, Role::Admin] {
        let err = members::change_role(&app.db, &session, &id, role)
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::Forbidden(_)), "{role}: {err:?}");
    }
    let err = members::deactivate(&app.db, &session, &id)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Forbidden(_)), "{err:?}");
    assert_eq!(
        policies(&app, &format!("v0 = '{id}' AND v1 = 'role:admin'")).await,
        1,
        "the stored role is unchanged"
    );
    assert_eq!(app.count_rows("users WHERE role = 'owner'").await, 1);
}

#[tokio::test]
async fn the_seaorm_adapter_reads_and_writes_policies_for_casbin_itself() {
    use api::authz::adapter::SeaOrmAdapter;
    use casbin::{CoreApi, DefaultModel, Enforcer, Filter, MgmtApi};

    let app = spawn_app().await;
    let org = app.org.organization.id.clone();
    let model = DefaultModel::from_str(api::authz::MODEL).await.unwrap();
    let mut enforcer = Enforcer::new(model, SeaOrmAdapter::new(app.db.clone()))
        .await
        .unwrap();
    // Loaded from the table: the shipped rules and this organization's assignments.
    let owner = app.org.owner.id.clone();
    assert!(
        enforcer
            .enforce((owner.as_str(), org.as_str(), "plan", "write"))
            .unwrap()
    );
    assert!(
        !enforcer
            .enforce(("usr_nobody", org.as_str(), "plan", "read"))
            .unwrap()
    );

    // With auto-save on, Casbin's own management calls go through the adapter into the table.
    let rule = vec![
        "usr_casbin".to_owned(),
        "role:viewer".to_owned(),
        org.clone(),
    ];
    assert!(
        enforcer
            .add_named_grouping_policy("g", rule.clone())
            .await
            .unwrap()
    );
    assert_eq!(
        policies(&app, "v0 = 'usr_casbin' AND v1 = 'role:viewer'").await,
        1
    );
    assert!(
        enforcer
            .enforce(("usr_casbin", org.as_str(), "conversations", "read"))
            .unwrap()
    );
    assert!(
        enforcer
            .remove_named_grouping_policy("g", rule)
            .await
            .unwrap()
    );
    assert_eq!(policies(&app, "v0 = 'usr_casbin'").await, 0);
    let rules = vec![
        vec!["usr_a".to_owned(), "role:agent".to_owned(), org.clone()],
        vec!["usr_b".to_owned(), "role:agent".to_owned(), org.clone()],
    ];
    enforcer
        .add_named_grouping_policies("g", rules)
        .await
        .unwrap();
    assert_eq!(policies(&app, "v1 = 'role:agent'").await, 2);
    enforcer
        .remove_filtered_named_grouping_policy("g", 1, vec!["role:agent".to_owned()])
        .await
        .unwrap();
    assert_eq!(policies(&app, "v1 = 'role:agent'").await, 0);

    // A filtered load keeps only the matching rules.
    enforcer
        .load_filtered_policy(Filter {
            p: vec!["role:viewer"],
            g: vec![owner.as_str()],
        })
        .await
        .unwrap();
    assert!(
        enforcer
            .get_policy()
            .iter()
            .all(|rule| rule[0] == "role:viewer")
    );
    assert_eq!(enforcer.get_grouping_policy().len(), 1);
    assert!(enforcer.is_filtered());
}
