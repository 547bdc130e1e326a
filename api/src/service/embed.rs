//! The embed code a customer copies onto a website: the `/embed.js` script tag for a platform, with the
//! server's address and the assistant's settings filled in, and how to install it there.

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::ApiResult;
use crate::service::assistants::{self, WidgetPosition, WidgetSettings, WidgetTheme};
use crate::text_enum::text_enum;

text_enum! {
    /// Where the widget goes: a plain website or a site builder.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Platform: "platform" {
        Html = "html",
        Wordpress = "wordpress",
        Shopify = "shopify",
        Wix = "wix",
        Squarespace = "squarespace",
    }
}

impl Platform {
    /// Site builders whose snippets are a plan feature (`integrations.cms`, standard and above); the website
    /// embed, WordPress and Shopify are on every plan.
    fn needs_cms_feature(self) -> bool {
        matches!(self, Platform::Wix | Platform::Squarespace)
    }
}

/// What a customer copies, and the steps that put it on the site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub platform: Platform,
    pub snippet: String,
    pub instructions: Vec<String>,
}

/// The embed code of one of the organization's assistants for `platform`, on the server at `base_url`.
pub async fn snippet(
    db: &Db,
    principal: &Principal,
    assistant_id: &str,
    platform: Platform,
    base_url: &str,
) -> ApiResult<Snippet> {
    if platform.needs_cms_feature() {
        authorize(principal, Resource::Cms, Action::Read).await?;
    }
    let assistant = assistants::get(db, principal, assistant_id).await?;
    let settings = assistants::widget(&assistant);
    Ok(render(platform, base_url, &assistant.id, &settings))
}

/// Escapes text for a double-quoted HTML attribute.
fn attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `data-*` attributes of the settings that differ from the widget's built-in defaults, so that the
/// launcher looks right before the widget has talked to the server.
fn attributes(settings: &WidgetSettings) -> Vec<(&'static str, String)> {
    let values = |s: &WidgetSettings| {
        let position = match s.position {
            WidgetPosition::BottomRight => "bottom-right",
            WidgetPosition::BottomLeft => "bottom-left",
            WidgetPosition::TopRight => "top-right",
            WidgetPosition::TopLeft => "top-left",
        };
        let theme = match s.theme {
            WidgetTheme::Light => "light",
            WidgetTheme::Dark => "dark",
            WidgetTheme::Auto => "auto",
        };
        [
            ("data-position", position.to_owned()),
            ("data-primary-color", s.primary_color.clone()),
            ("data-theme", theme.to_owned()),
            ("data-welcome-message", s.welcome_message.clone()),
            ("data-auto-open", s.auto_open.to_string()),
            ("data-auto-open-delay", s.auto_open_delay_ms.to_string()),
            ("data-show-avatar", s.show_avatar.to_string()),
            ("data-avatar-url", s.avatar_url.clone().unwrap_or_default()),
            ("data-hide-on-mobile", s.hide_on_mobile.to_string()),
            ("data-z-index", s.z_index.to_string()),
            ("data-width", s.width.to_string()),
            ("data-height", s.height.to_string()),
            ("data-hide-on-paths", s.hide_on_paths.join(",")),
            ("data-show-on-paths", s.show_on_paths.join(",")),
        ]
    };
    values(settings)
        .into_iter()
        .zip(values(&WidgetSettings::default()))
        .filter(|(value, default)| value.1 != default.1)
        .map(|(value, _)| value)
        .collect()
}

/// The script tag, with `extra` attributes (already HTML, such as Liquid page fields) before `defer`.
fn script_tag(
    base_url: &str,
    assistant_id: &str,
    settings: &WidgetSettings,
    extra: &str,
) -> String {
    let mut tag = format!(
        "<script src=\"{}/embed.js\" data-assistant-id=\"{}\"",
        attribute(base_url.trim_end_matches('/')),
        attribute(assistant_id)
    );
    for (name, value) in attributes(settings) {
        tag.push_str(&format!(" {name}=\"{}\"", attribute(&value)));
    }
    tag.push_str(extra);
    tag.push_str(" defer></script>");
    tag
}

/// The snippet and its steps for `platform`.
fn render(
    platform: Platform,
    base_url: &str,
    assistant_id: &str,
    settings: &WidgetSettings,
) -> Snippet {
    let base = base_url.trim_end_matches('/');
    let tag = script_tag(base, assistant_id, settings, "");
    let csp = format!(
        "If the site sends a Content-Security-Policy, allow {base} in its script-src and connect-src."
    );
    let overrides =
        "The attributes are the assistant's settings as they are now; remove one to follow the \
                     assistant's setting instead, or change its value to override it on this site."
            .to_owned();
    let (snippet, instructions) = match platform {
        Platform::Html => (
            tag,
            vec![
                "Paste the tag just before </body> on every page where the assistant should appear (or in \
                 your site's shared footer template)."
                    .to_owned(),
                overrides,
                csp,
            ],
        ),
        Platform::Wordpress => (
            "[ai_assistant]".to_owned(),
            vec![
                format!(
                    "Download the plugin from {base}/api/v1/integrations/wordpress/plugin.zip, then in \
                     WordPress go to Plugins → Add New Plugin → Upload Plugin, choose the file, install and \
                     activate it."
                ),
                format!(
                    "Under Settings → AI Assistant, enter the server URL {base}, an API key with the \
                     organization:read scope (it stays on your WordPress server), and choose the assistant \
                     {assistant_id}; the widget then appears on every page."
                ),
                "To show it on some pages only, turn off \"Every page\" and put the shortcode above in those \
                 pages; [ai_assistant theme=\"dark\" position=\"bottom-left\"] overrides the appearance."
                    .to_owned(),
            ],
        ),
        Platform::Shopify => (
            script_tag(
                base,
                assistant_id,
                settings,
                " data-page-title=\"{{ page_title | escape }}\" data-page-url=\"{{ canonical_url }}\"",
            ),
            vec![
                "With the Concierge app installed: Online Store → Themes → Customize → App embeds, turn on \
                 AI Assistant and choose the assistant; nothing to paste."
                    .to_owned(),
                "Without the app: Online Store → Themes → … → Edit code, open layout/theme.liquid and paste \
                 the tag just before </body>. On a product template, use data-page-title=\"{{ product.title \
                 | escape }}\" and data-page-url=\"{{ shop.url }}{{ product.url }}\" so that answers know the \
                 product."
                    .to_owned(),
                overrides,
            ],
        ),
        Platform::Wix => (
            tag,
            vec![
                "In your site's dashboard go to Settings → Custom Code (under Development & integrations) → \
                 + Add Custom Code, and paste the tag."
                    .to_owned(),
                "Name it \"AI Assistant\", add it to All pages, choose \"Load code once\", place it in Body - \
                 end, and Apply. Custom code runs on published sites with a connected domain."
                    .to_owned(),
                overrides,
            ],
        ),
        Platform::Squarespace => (
            tag,
            vec![
                "For every page: Website → Pages → Custom Code → Code Injection (Settings → Advanced → Code \
                 Injection on older versions), paste the tag into Footer, and Save."
                    .to_owned(),
                "For one page only: edit the page, add a Code block, paste the tag, and turn off \"Display \
                 Source\". Code injection needs a Core plan or higher."
                    .to_owned(),
                overrides,
            ],
        ),
    };
    Snippet {
        platform,
        snippet,
        instructions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_carries_the_address_the_assistant_and_only_the_settings_that_differ() {
        let mut settings = WidgetSettings {
            position: WidgetPosition::TopLeft,
            primary_color: "#112233".to_owned(),
            welcome_message: "Hi \"friend\" <3".to_owned(),
            hide_on_paths: vec!["/checkout/*".to_owned(), "/admin".to_owned()],
            ..WidgetSettings::default()
        };
        let tag = render(
            Platform::Html,
            "https://support.example.com/",
            "asst_1",
            &settings,
        )
        .snippet;
        assert_eq!(
            tag,
            "<script src=\"https://support.example.com/embed.js\" data-assistant-id=\"asst_1\" \
             data-position=\"top-left\" data-primary-color=\"#112233\" \
             data-welcome-message=\"Hi &quot;friend&quot; &lt;3\" data-hide-on-paths=\"/checkout/*,/admin\" \
             defer></script>"
        );
        settings = WidgetSettings::default();
        let plain = render(Platform::Wix, "http://127.0.0.1:8080", "asst_1", &settings);
        assert_eq!(
            plain.snippet,
            "<script src=\"http://127.0.0.1:8080/embed.js\" data-assistant-id=\"asst_1\" defer></script>"
        );
        assert!(plain.instructions[0].contains("Custom Code"));
        let shopify = render(Platform::Shopify, "https://s.example", "asst_1", &settings);
        assert!(
            shopify
                .snippet
                .contains("data-page-title=\"{{ page_title | escape }}\"")
        );
        let wordpress = render(
            Platform::Wordpress,
            "https://s.example",
            "asst_1",
            &settings,
        );
        assert_eq!(wordpress.snippet, "[ai_assistant]");
        assert!(
            wordpress.instructions[0]
                .contains("https://s.example/api/v1/integrations/wordpress/plugin.zip")
        );
    }

    #[test]
    fn only_site_builders_need_the_cms_feature() {
        let gated: Vec<Platform> = Platform::ALL
            .into_iter()
            .filter(|p| p.needs_cms_feature())
            .collect();
        assert_eq!(gated, [Platform::Wix, Platform::Squarespace]);
    }
}
