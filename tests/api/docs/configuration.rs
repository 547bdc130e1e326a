//! docs/reference/configuration.md and its JSON Schema, generated from the settings type the server reads.

use serde_json::Value;

use api::config::Settings;

use super::{generated_block, generated_file};

/// What a setting holds, in words, from its JSON Schema.
fn kind(schema: &Value) -> String {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let base = types
        .iter()
        .find(|t| **t != "null")
        .copied()
        .unwrap_or("string");
    let unsigned = schema["minimum"].as_u64() == Some(0);
    match (base, unsigned) {
        ("integer", true) => "non-negative integer".to_owned(),
        (other, _) => other.to_owned(),
    }
}

/// The default as an operator would write it.
fn default_value(schema: &Value) -> String {
    match &schema["default"] {
        Value::Null => "unset".to_owned(),
        Value::String(text) => format!("`{text}`"),
        other => format!("`{other}`"),
    }
}

/// The reference: one section per setting, in the order of the type.
pub fn render(schema: &Value) -> String {
    let mut out = String::new();
    let properties = schema["properties"]
        .as_object()
        .expect("the settings schema has properties");
    out.push_str("| variable | TOML key | type | default |\n|---|---|---|---|\n");
    for (key, property) in properties {
        let var = Settings::env_var(key);
        out.push_str(&format!(
            "| [`{var}`](#{anchor}) | `{key}` | {} | {} |\n",
            kind(property),
            default_value(property),
            anchor = var.to_ascii_lowercase(),
        ));
    }
    for (key, property) in properties {
        let var = Settings::env_var(key);
        let description = property["description"]
            .as_str()
            .unwrap_or_else(|| panic!("setting {key} has no doc comment"));
        out.push_str(&format!(
            "\n### `{var}`\n\nTOML `{key}` · {} · default {}\n\n{}\n",
            kind(property),
            default_value(property),
            description.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    out
}

#[test]
fn the_configuration_reference_is_generated_from_the_settings_type() {
    let schema = Settings::json_schema();
    let properties = schema["properties"].as_object().unwrap();
    // Every setting is documented, and the defaults shown are the ones the server starts with.
    let defaults = serde_json::to_value(Settings::default()).unwrap();
    for (key, property) in properties {
        assert!(
            property["description"]
                .as_str()
                .is_some_and(|d| d.len() > 20),
            "setting {key} needs a doc comment that says what it does"
        );
        if let Some(value) = defaults.get(key) {
            assert_eq!(
                &property["default"], value,
                "{key}: the documented default is the real one"
            );
        }
    }
    assert_eq!(Settings::env_var("bind"), "CONCIERGE_BIND");
    assert_eq!(Settings::env_var("database_url"), "DATABASE_URL");
    generated_block(
        "docs/reference/configuration.md",
        "settings",
        &render(&schema),
    );
    generated_file(
        "docs/reference/configuration.schema.json",
        &format!("{}\n", serde_json::to_string_pretty(&schema).unwrap()),
    );
}
