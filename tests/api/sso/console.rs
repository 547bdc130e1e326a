//! Single sign-on from the console's sign-in page in Chromium, through oidc-provider's own pages, back into
//! the console page the member asked for; with SSO enforced, no password is offered.

use super::*;
use crate::console_browser::{assert_clean, drive};

#[tokio::test]
async fn oidc_sign_in_from_the_console_lands_on_the_page_asked_for_and_enforcement_hides_the_password()
 {
    let (app, connection, port) = app_with_connection(json!({})).await;
    let callback = app.url(&format!("/sso/oidc/{connection}/callback"));
    let _idp = Idp::start(port, &callback, accounts(json!(["support"]))).await;

    let seen = drive(
        &app,
        json!({"scenario": "sso", "email": "alice@corp.test", "login": "alice", "target": "/account"}),
    )
    .await;
    assert_clean(&seen, &["sign-in-sso", "account-after-sso"]);
    assert_eq!(seen["signInPath"], "/console/sign-in?next=%2Faccount");
    assert_eq!(seen["passwordOffered"], true, "{seen}");
    assert_eq!(seen["landed"], "/console/account", "{seen}");
    assert_eq!(seen["heading"], "Your account");
    assert!(
        seen["sessionMethod"]
            .as_str()
            .unwrap()
            .contains("OpenID Connect"),
        "{seen}"
    );
    // Provisioned just in time with the role its groups map to.
    assert_eq!(
        seen["nav"],
        json!(["Inbox", "Knowledge base", "Plan", "Your account"]),
        "{seen}"
    );

    app.mutate(
        "mutation { setSsoEnforced(enforced: true) { organization { ssoEnforced } userErrors { message } } }",
        json!({}),
        "setSsoEnforced",
    )
    .await;
    let enforced = drive(
        &app,
        json!({"scenario": "sso", "email": "alice@corp.test", "login": "alice", "target": "/inbox", "lookOnly": true}),
    )
    .await;
    assert_eq!(enforced["passwordOffered"], false, "{enforced}");
    assert!(
        enforced["ssoText"]
            .as_str()
            .unwrap()
            .contains("signs in through single sign-on"),
        "{enforced}"
    );
}
