//! Email: messages with a plain-text and an HTML part, rendered from templates, and sent through the
//! organization's email integration (a custom SMTP server or SendGrid).

pub mod smtp;
pub mod templates;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::service::integrations::executor::Failure;

/// One message to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Where a visitor unsubscribes: a `List-Unsubscribe` header with one-click unsubscribe (RFC 8058).
    pub unsubscribe_url: Option<String>,
    /// A template kept by the email provider (a SendGrid dynamic template), used instead of the subject and
    /// parts when the organization sends through that provider.
    pub template: Option<DynamicTemplate>,
}

/// A template kept by the email provider, and the data it is filled with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicTemplate {
    pub id: String,
    pub data: serde_json::Value,
}

impl Mail {
    /// The message as lettre sends it, from `from_name <from_address>`.
    pub fn build(&self, from_name: &str, from_address: &str) -> Result<lettre::Message, Failure> {
        let address: lettre::Address = from_address.parse().map_err(|e| {
            Failure::Configuration(format!(
                "the sender {from_address:?} is not an address: {e}"
            ))
        })?;
        let from = Mailbox::new(
            Some(from_name.to_owned()).filter(|n| !n.is_empty()),
            address,
        );
        let mut builder = lettre::Message::builder()
            .from(from)
            .subject(self.subject.clone());
        for to in &self.to {
            let mailbox: Mailbox = to.parse().map_err(|e| {
                Failure::Validation(format!("the recipient {to:?} is not an address: {e}"))
            })?;
            builder = builder.to(mailbox);
        }
        if let Some(url) = &self.unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(self.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(self.html.clone()),
            );
        builder
            .multipart(body)
            .map_err(|e| Failure::Validation(format!("the message cannot be built: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_has_both_parts_and_the_unsubscribe_headers() {
        let mail = Mail {
            to: vec!["ivy@example.test".to_owned()],
            subject: "Your conversation".to_owned(),
            text: "Hello Ivy".to_owned(),
            html: "<p>Hello Ivy</p>".to_owned(),
            unsubscribe_url: Some("https://support.example.com/u/abc".to_owned()),
            template: None,
        };
        let built = mail.build("Acme Support", "support@example.com").unwrap();
        let text = String::from_utf8(built.formatted()).unwrap();
        assert!(
            text.contains("From: \"Acme Support\" <support@example.com>"),
            "{text}"
        );
        assert!(
            text.contains("List-Unsubscribe: <https://support.example.com/u/abc>"),
            "{text}"
        );
        assert!(
            text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{text}"
        );
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(
            text.contains("text/plain") && text.contains("text/html"),
            "{text}"
        );
        let bad = Mail {
            to: vec!["not an address".to_owned()],
            ..mail
        };
        assert!(matches!(
            bad.build("", "support@example.com"),
            Err(Failure::Validation(_))
        ));
    }
}
