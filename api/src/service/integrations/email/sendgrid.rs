//! SendGrid's v3 API with an API key: the key's scopes (it must send mail), and mail sent from the verified
//! sender given when connecting, as `POST /v3/mail/send` (202 Accepted, the message id in `X-Message-Id`),
//! rendered here or by one of the account's dynamic templates.

use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::{Call, Failure, Vendors};
use crate::service::mail::Mail;

/// `GET /v3/scopes`: what the key may do; a key that cannot send mail is refused.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(connection, None, &Call::get("{api_base}/v3/scopes"))
        .await?
        .success(connection.provider)?;
    let scopes: Vec<&str> = answer
        .body
        .get("scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !scopes.contains(&"mail.send") {
        return Err(Failure::Authorization(
            "the SendGrid API key may not send mail: give it the Mail Send permission".to_owned(),
        ));
    }
    let sender = connection.credentials.email.clone().unwrap_or_default();
    let mut account = Map::new();
    account.insert("from_address".to_owned(), Value::String(sender.clone()));
    Ok(AccountInfo {
        description: format!("Connected to SendGrid; mail goes from {sender}"),
        account,
    })
}

/// `POST /v3/mail/send` with the text and HTML parts (and the unsubscribe headers).
pub async fn send(
    vendors: &Vendors,
    connection: &mut Connection,
    mail: &Mail,
) -> Result<String, Failure> {
    let sender = connection.credentials.email.clone().unwrap_or_default();
    let to: Vec<Value> = mail.to.iter().map(|t| json!({"email": t})).collect();
    let mut body = match &mail.template {
        // A dynamic template of the account: SendGrid renders it from the data (subject included).
        Some(template) => json!({
            "personalizations": [{"to": to, "dynamic_template_data": template.data}],
            "from": {"email": sender},
            "template_id": template.id,
        }),
        None => json!({
            "personalizations": [{"to": to}],
            "from": {"email": sender},
            "subject": mail.subject,
            "content": [
                {"type": "text/plain", "value": mail.text},
                {"type": "text/html", "value": mail.html},
            ],
        }),
    };
    if let Some(url) = &mail.unsubscribe_url {
        body["headers"] = json!({"List-Unsubscribe": format!("<{url}>"),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"});
    }
    let answer = vendors
        .call(
            connection,
            None,
            &Call::post("{api_base}/v3/mail/send", body),
        )
        .await?
        .success(connection.provider)?;
    let id = answer
        .headers
        .get("x-message-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    Ok(format!("{} Accepted (message id {id})", answer.status))
}
