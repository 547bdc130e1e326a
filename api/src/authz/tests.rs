//! The policy and the enforcer, checked without a server.

use super::*;

async fn principal(role: Role, plan: Plan, key: bool) -> Principal {
    Principal {
        organization: Tenant::new("org_test".to_owned()),
        plan,
        role,
        actor: if key {
            Actor::ApiKey {
                id: "key_test".to_owned(),
            }
        } else {
            Actor::User {
                id: "usr_test".to_owned(),
                session_id: "ses_test".to_owned(),
                method: "password".to_owned(),
            }
        },
        origin: Origin::default(),
        scopes: None,
        authz: Authz::detached().await.unwrap(),
    }
}

#[tokio::test]
async fn the_role_decides_and_the_plan_gates_features() {
    let agent = principal(Role::Agent, Plan::Premium, false).await;
    assert!(
        authorize(&agent, Resource::Conversation, Action::Write)
            .await
            .is_ok()
    );
    let err = authorize(&agent, Resource::ApiKey, Action::Write)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Forbidden(_)), "{err:?}");
    let basic_key = principal(Role::Owner, Plan::Basic, true).await;
    assert!(
        authorize(&basic_key, Resource::Conversation, Action::Read)
            .await
            .is_ok()
    );
    let err = authorize(&basic_key, Resource::Conversation, Action::Write)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::PlanUpgradeRequired(_)), "{err:?}");
}

#[tokio::test]
async fn a_visitor_may_use_the_widget_on_every_plan_and_nothing_else() {
    let authz = Authz::detached().await.unwrap();
    for plan in [Plan::Basic, Plan::Standard, Plan::Premium] {
        let visitor = Principal {
            organization: Tenant::new(format!("org_{plan}")),
            plan,
            role: Role::Owner,
            actor: Actor::Visitor {
                id: "vis_1".to_owned(),
                session_id: "wses_1".to_owned(),
                assistant_id: "asst_1".to_owned(),
            },
            origin: Origin::default(),
            scopes: None,
            authz: authz.clone(),
        };
        for action in [Action::Read, Action::Write] {
            assert!(
                authorize(&visitor, Resource::Widget, action).await.is_ok(),
                "{plan}"
            );
        }
        // Its `role` field is not what it is judged by: even `owner` there gives nothing else.
        for (resource, action) in [
            (Resource::Conversation, Action::Read),
            (Resource::Message, Action::Write),
            (Resource::Visitor, Action::Read),
            (Resource::KnowledgeBase, Action::Read),
            (Resource::Analytics, Action::Read),
        ] {
            let err = authorize(&visitor, resource, action).await.unwrap_err();
            assert!(
                matches!(&err, ApiError::Forbidden(m) if m.contains("website visitor")),
                "{err:?}"
            );
        }
    }
    // Visitors leave no per-visitor links in the enforcer.
    assert!(!authz.inner.read().await.links.contains_key("vis_1"));
    // And team members do not get the widget's object.
    let owner = principal(Role::Owner, Plan::Premium, false).await;
    assert!(
        authorize(&owner, Resource::Widget, Action::Read)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_changed_role_applies_to_the_next_check() {
    let mut member = principal(Role::Viewer, Plan::Standard, false).await;
    assert!(
        authorize(&member, Resource::KnowledgeBase, Action::Write)
            .await
            .is_err()
    );
    member.role = Role::Admin;
    assert!(
        authorize(&member, Resource::KnowledgeBase, Action::Write)
            .await
            .is_ok()
    );
    member.role = Role::Analyst;
    assert!(
        authorize(&member, Resource::KnowledgeBase, Action::Read)
            .await
            .is_err()
    );
}
