//! The messages' templates, rendered with minijinja: a subject, a plain-text part and an HTML part (escaped
//! automatically), each with personalization and conditional content from the context given.

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::service::mail::Mail;

/// One template: the subject line, the text part and the HTML part.
#[derive(Clone, Copy, Debug)]
pub struct Template {
    pub name: &'static str,
    pub subject: &'static str,
    pub text: &'static str,
    pub html: &'static str,
}

const HTML_HEAD: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{{ subject }}</title></head><body style="font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2933;line-height:1.5;max-width:560px;margin:0 auto;padding:24px">"#;
const HTML_FOOT: &str = "</body></html>";

/// A member's invitation to the organization.
pub const INVITATION: Template = Template {
    name: "invitation",
    subject: "{{ inviter }} invited you to {{ organization }} on Concierge",
    text: "Hello,\n\n{{ inviter }} invited you to join {{ organization }} on Concierge as {{ role }}.\n\nAccept the invitation and choose your password:\n{{ accept_url }}\n\nThe link works until {{ expires_at }}. If you did not expect it, ignore this message.\n",
    html: r#"<p>Hello,</p><p>{{ inviter }} invited you to join <strong>{{ organization }}</strong> on Concierge as {{ role }}.</p><p><a href="{{ accept_url }}" style="display:inline-block;background:#2457c5;color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">Accept the invitation</a></p><p style="color:#52606d;font-size:14px">The link works until {{ expires_at }}. If you did not expect it, ignore this message.</p>"#,
};

/// A test message, sent by `testIntegration`.
pub const TEST: Template = Template {
    name: "test",
    subject: "Concierge test message for {{ organization }}",
    text: "This is a test message from Concierge for {{ organization }}, sent by {{ sender }} through {{ server }}.\n\nIf you read it, email from Concierge reaches this address.\n",
    html: "<p>This is a test message from Concierge for <strong>{{ organization }}</strong>, sent by {{ sender }} through {{ server }}.</p><p>If you read it, email from Concierge reaches this address.</p>",
};

/// A team notification: a new conversation, a handoff, an unanswered question or a negative message.
pub const NOTIFICATION: Template = Template {
    name: "notification",
    subject: "{% if kind == 'new_conversation' %}New conversation{% elif kind == 'handoff' %}A visitor asks for a person{% elif kind == 'query_failed' %}Unanswered question{% else %}A visitor seems unhappy{% endif %}{% if visitor %} from {{ visitor }}{% endif %} · {{ organization }}",
    text: "{{ headline }}\n\n{% if visitor %}Visitor: {{ visitor }}{% if visitor_email %} <{{ visitor_email }}>{% endif %}\n{% endif %}{% if page %}Page: {{ page }}\n{% endif %}{% if assistant %}Assistant: {{ assistant }}\n{% endif %}{% if reason %}Why: {{ reason }}\n{% endif %}{% if sentiment is not none %}Sentiment: {{ sentiment }}\n{% endif %}{% if message %}\n\"{{ message }}\"\n{% endif %}\nOpen the conversation: {{ conversation_url }}\n\nYou get this because of the rule \"{{ rule }}\" in {{ organization }}'s notification settings.\n",
    html: r#"<h1 style="font-size:18px;margin:0 0 12px">{{ headline }}</h1><table role="presentation" style="border-collapse:collapse;font-size:14px">{% if visitor %}<tr><th scope="row" style="text-align:left;padding:2px 12px 2px 0;color:#52606d">Visitor</th><td>{{ visitor }}{% if visitor_email %} &lt;{{ visitor_email }}&gt;{% endif %}</td></tr>{% endif %}{% if page %}<tr><th scope="row" style="text-align:left;padding:2px 12px 2px 0;color:#52606d">Page</th><td>{{ page }}</td></tr>{% endif %}{% if assistant %}<tr><th scope="row" style="text-align:left;padding:2px 12px 2px 0;color:#52606d">Assistant</th><td>{{ assistant }}</td></tr>{% endif %}{% if reason %}<tr><th scope="row" style="text-align:left;padding:2px 12px 2px 0;color:#52606d">Why</th><td>{{ reason }}</td></tr>{% endif %}{% if sentiment is not none %}<tr><th scope="row" style="text-align:left;padding:2px 12px 2px 0;color:#52606d">Sentiment</th><td>{{ sentiment }}</td></tr>{% endif %}</table>{% if message %}<blockquote style="margin:16px 0;padding:8px 12px;border-left:3px solid #cbd2d9;color:#323f4b">{{ message }}</blockquote>{% endif %}<p><a href="{{ conversation_url }}" style="display:inline-block;background:#2457c5;color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">Open the conversation</a></p><p style="color:#52606d;font-size:13px">You get this because of the rule “{{ rule }}” in {{ organization }}'s notification settings.</p>"#,
};

/// Renders `template` with `context` into a message to `to`.
pub fn render(template: &Template, context: &impl Serialize, to: Vec<String>) -> ApiResult<Mail> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    let html_source = format!("{HTML_HEAD}{}{HTML_FOOT}", template.html);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    let failed = |part: &str, e: minijinja::Error| {
        ApiError::internal_msg(format!(
            "the {} template's {part} failed: {e}",
            template.name
        ))
    };
    env.add_template_owned("subject.txt", template.subject.to_owned())
        .map_err(|e| failed("subject", e))?;
    env.add_template_owned("body.txt", template.text.to_owned())
        .map_err(|e| failed("text", e))?;
    env.add_template_owned("body.html", html_source)
        .map_err(|e| failed("html", e))?;
    let subject = env
        .get_template("subject.txt")
        .and_then(|t| t.render(Serde(context)))
        .map_err(|e| failed("subject", e))?;
    // The subject is rendered first, then given to the HTML part's <title>.
    let html = {
        let mut value = serde_json::to_value(context).map_err(ApiError::internal)?;
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "subject".to_owned(),
                serde_json::Value::String(subject.clone()),
            );
        }
        env.get_template("body.html")
            .and_then(|t| t.render(Serde(&value)))
            .map_err(|e| failed("html", e))?
    };
    let text = env
        .get_template("body.txt")
        .and_then(|t| t.render(Serde(context)))
        .map_err(|e| failed("text", e))?;
    Ok(Mail {
        to,
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text,
        html,
        unsubscribe_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notifications_say_what_happened_and_escape_what_visitors_wrote() {
        let mail = render(
            &NOTIFICATION,
            &json!({"kind": "handoff", "headline": "Ivy asks for a person", "visitor": "Ivy <script>",
                "visitor_email": "ivy@example.test", "page": "https://shop.example/cart", "assistant": "Shop help",
                "reason": "visitor_request", "sentiment": null, "message": "I want <b>a human</b>",
                "conversation_url": "https://support.example/console/inbox/conv_1", "rule": "Admins",
                "organization": "Acme"}),
            vec!["ada@acme.test".to_owned()],
        )
        .unwrap();
        assert_eq!(
            mail.subject,
            "A visitor asks for a person from Ivy <script> · Acme"
        );
        assert!(
            mail.html.contains("I want &lt;b&gt;a human&lt;&#x2f;b&gt;"),
            "{}",
            mail.html
        );
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(
            mail.text.contains("\"I want <b>a human</b>\""),
            "{}",
            mail.text
        );
        assert!(
            !mail.text.contains("Sentiment"),
            "no sentiment, no line: {}",
            mail.text
        );
        assert!(
            mail.html.contains("<title>A visitor asks for a person"),
            "{}",
            mail.html
        );
    }
}
