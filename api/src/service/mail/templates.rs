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

/// A visitor's welcome, when they first leave their email address.
pub const WELCOME: Template = Template {
    name: "welcome",
    subject: "Welcome{% if visitor.first_name %}, {{ visitor.first_name }}{% endif %} · {{ organization }}",
    text: "Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},\n\nThank you for getting in touch with {{ organization }}.{% if first_question %} We have your question \"{{ first_question }}\" and will follow up on it here if needed.{% endif %}\n\nReply to this email whenever you like: a person on our team reads it.\n",
    html: r#"<p>Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},</p><p>Thank you for getting in touch with <strong>{{ organization }}</strong>.{% if first_question %} We have your question “{{ first_question }}” and will follow up on it here if needed.{% endif %}</p><p>Reply to this email whenever you like: a person on our team reads it.</p>"#,
};

/// The whole conversation, when it is resolved.
pub const TRANSCRIPT: Template = Template {
    name: "transcript",
    subject: "Your conversation with {{ organization }}",
    text: "Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},\n\nHere is your conversation with {{ organization }}{% if conversation.page_title %} on \"{{ conversation.page_title }}\"{% endif %}, started {{ conversation.started_at }}.\n\n{% for m in conversation.messages %}{{ m.name }} ({{ m.at }}):\n{{ m.body }}\n\n{% endfor %}",
    html: r#"<p>Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},</p><p>Here is your conversation with <strong>{{ organization }}</strong>{% if conversation.page_title %} on “{{ conversation.page_title }}”{% endif %}, started {{ conversation.started_at }}.</p>{% for m in conversation.messages %}<div style="margin:12px 0;padding:8px 12px;border-radius:8px;background:{% if m.author == 'visitor' %}#e8f0fe{% else %}#f5f7fa{% endif %}"><p style="margin:0;font-size:13px;color:#52606d"><strong>{{ m.name }}</strong> · {{ m.at }}</p><p style="margin:4px 0 0;white-space:pre-wrap">{{ m.body }}</p></div>{% endfor %}"#,
};

/// A follow-up some hours after the conversation was resolved.
pub const FOLLOW_UP: Template = Template {
    name: "follow_up",
    subject: "Is everything sorted? · {{ organization }}",
    text: "Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},\n\n{% if first_question %}You asked us \"{{ first_question }}\"{% else %}You talked with us{% endif %}{% if conversation.handed_off %}, and our team took it from there{% endif %}. We hope it is all sorted now.\n\nIf it is not, reply to this email{% if conversation.page_url %} or come back to {{ conversation.page_url }}{% endif %}.\n",
    html: r#"<p>Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},</p><p>{% if first_question %}You asked us “{{ first_question }}”{% else %}You talked with us{% endif %}{% if conversation.handed_off %}, and our team took it from there{% endif %}. We hope it is all sorted now.</p><p>If it is not, reply to this email{% if conversation.page_url %} or <a href="{{ conversation.page_url }}">come back to the page</a>{% endif %}.</p>"#,
};

/// The satisfaction survey: one link per rating, which records it.
pub const SATISFACTION_SURVEY: Template = Template {
    name: "satisfaction_survey",
    subject: "How did we do? · {{ organization }}",
    text: "Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},\n\nHow would you rate your conversation with {{ organization }}? Choose a link:\n\n{% for r in rating_urls %}{{ r.rating }} - {{ r.label }}: {{ r.url }}\n{% endfor %}\nThank you: it helps us answer better.\n",
    html: r#"<p>Hello{% if visitor.first_name %} {{ visitor.first_name }}{% endif %},</p><p>How would you rate your conversation with <strong>{{ organization }}</strong>?</p><table role="presentation" style="border-collapse:separate;border-spacing:6px 0"><tr>{% for r in rating_urls %}<td><a href="{{ r.url }}" style="display:inline-block;min-width:64px;text-align:center;padding:10px 8px;border:1px solid #2457c5;border-radius:6px;color:#2457c5;text-decoration:none"><strong style="font-size:18px">{{ r.rating }}</strong><br><span style="font-size:12px">{{ r.label }}</span></a></td>{% endfor %}</tr></table><p style="color:#52606d;font-size:14px">Thank you: it helps us answer better.</p>"#,
};

/// Renders `template` with `context` into a message to `to` (a built-in template: a failure is ours).
pub fn render(template: &Template, context: &impl Serialize, to: Vec<String>) -> ApiResult<Mail> {
    render_parts(
        &Parts {
            subject: template.subject,
            text: template.text,
            html: template.html,
        },
        context,
        to,
    )
    .map_err(|(part, e)| {
        ApiError::internal_msg(format!(
            "the {} template's {part} failed: {e}",
            template.name
        ))
    })
}

/// A template's three sources, built in or an organization's own.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

/// What closes every message to a visitor, whatever the template says: who sends it and the unsubscribe link
/// (when the context has `unsubscribe_url`).
const TEXT_FOOT: &str = "{% if unsubscribe_url %}\n-- \nYou get this email because you talked with {{ organization }}. Unsubscribe: {{ unsubscribe_url }}\n{% endif %}";
const HTML_UNSUBSCRIBE: &str = r#"{% if unsubscribe_url %}<hr style="border:none;border-top:1px solid #e4e7eb;margin:24px 0 12px"><p style="color:#52606d;font-size:12px">You get this email because you talked with {{ organization }}. <a href="{{ unsubscribe_url }}" style="color:#52606d">Unsubscribe</a></p>{% endif %}"#;

/// Renders three sources with `context` into a message to `to`; a failure names the part (`subject`, `text`,
/// `html`) and says what minijinja found, with its line.
pub fn render_parts(
    parts: &Parts<'_>,
    context: &impl Serialize,
    to: Vec<String>,
) -> Result<Mail, (&'static str, minijinja::Error)> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // The parts are checked one by one first, so that an error's line is the part's own.
    for (part, source) in [
        ("subject", parts.subject),
        ("text", parts.text),
        ("html", parts.html),
    ] {
        let name = if part == "html" {
            "check.html"
        } else {
            "check.txt"
        };
        env.add_template_owned(name, source.to_owned())
            .map_err(|e| (part, e))?;
    }
    let html_source = format!("{HTML_HEAD}{}{HTML_UNSUBSCRIBE}{HTML_FOOT}", parts.html);
    let text_source = format!("{}{TEXT_FOOT}", parts.text);
    env.add_template_owned("subject.txt", parts.subject.to_owned())
        .map_err(|e| ("subject", e))?;
    env.add_template_owned("body.txt", text_source)
        .map_err(|e| ("text", e))?;
    env.add_template_owned("body.html", html_source)
        .map_err(|e| ("html", e))?;
    let subject = env
        .get_template("subject.txt")
        .and_then(|t| t.render(Serde(context)))
        .map_err(|e| ("subject", e))?;
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    // The subject is rendered first, then given to the HTML part's <title>.
    let mut value = serde_json::to_value(context).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "subject".to_owned(),
            serde_json::Value::String(subject.clone()),
        );
    }
    let html = env
        .get_template("body.html")
        .and_then(|t| t.render(Serde(&value)))
        .map_err(|e| ("html", e))?;
    let text = env
        .get_template("body.txt")
        .and_then(|t| t.render(Serde(context)))
        .map_err(|e| ("text", e))?;
    let unsubscribe_url = value
        .get("unsubscribe_url")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    Ok(Mail {
        to,
        subject,
        text,
        html,
        unsubscribe_url,
        template: None,
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
