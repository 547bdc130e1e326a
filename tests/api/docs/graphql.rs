//! docs/reference/graphql.md, generated from the served schema by introspection.

use serde_json::{Value, json};

use super::{cell, generated_block};
use crate::helpers::spawn_app;

const INTROSPECTION: &str = r#"
query {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name description specifiedByURL
      interfaces { name }
      possibleTypes { name }
      fields(includeDeprecated: true) {
        name description isDeprecated deprecationReason
        args { name description defaultValue type { ...Ref } }
        type { ...Ref }
      }
      inputFields { name description defaultValue type { ...Ref } }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
    }
  }
}
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
"#;

/// Names of the federation machinery and of introspection, which the reference leaves to their specifications.
fn is_machinery(name: &str) -> bool {
    name.starts_with("__")
        || name.starts_with('_')
        || name.starts_with("link__")
        || name.starts_with("federation__")
        || name == "FieldSet"
}

/// `[Message!]!`, with the named type linked to its section when it has one.
fn type_ref(reference: &Value) -> String {
    fn plain(reference: &Value) -> (String, String) {
        match reference["kind"].as_str() {
            Some("NON_NULL") => {
                let (text, name) = plain(&reference["ofType"]);
                (format!("{text}!"), name)
            }
            Some("LIST") => {
                let (text, name) = plain(&reference["ofType"]);
                (format!("[{text}]"), name)
            }
            _ => {
                let name = reference["name"].as_str().unwrap_or("?").to_owned();
                (name.clone(), name)
            }
        }
    }
    let (text, name) = plain(reference);
    if BUILT_IN.contains(&name.as_str()) {
        format!("`{text}`")
    } else {
        format!("[`{text}`](#{})", name.to_ascii_lowercase())
    }
}

const BUILT_IN: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

fn description(item: &Value) -> String {
    let text = cell(item["description"].as_str().unwrap_or(""));
    if item["isDeprecated"] == json!(true) {
        format!(
            "{text} **Deprecated:** {}",
            cell(item["deprecationReason"].as_str().unwrap_or(""))
        )
    } else {
        text
    }
}

fn arguments(field: &Value) -> String {
    let args = field["args"].as_array().cloned().unwrap_or_default();
    if args.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = args
        .iter()
        .map(|arg| {
            let default = arg["defaultValue"]
                .as_str()
                .map(|d| format!(" = `{}`", cell(d)))
                .unwrap_or_default();
            format!(
                "<br>`{}`: {}{default} — {}",
                arg["name"].as_str().unwrap_or(""),
                type_ref(&arg["type"]),
                description(arg)
            )
        })
        .collect();
    format!("<br>**Arguments**{}", listed.concat())
}

fn field_table(fields: &[Value]) -> String {
    let mut out = String::from("| field | type | description |\n|---|---|---|\n");
    for field in fields {
        out.push_str(&format!(
            "| `{}` | {} | {}{} |\n",
            field["name"].as_str().unwrap_or(""),
            type_ref(&field["type"]),
            description(field),
            arguments(field),
        ));
    }
    out
}

/// The reference, in the order a reader looks things up: the root operations, then each kind of type.
pub fn render(schema: &Value) -> String {
    let types: Vec<Value> = schema["types"].as_array().unwrap().clone();
    let named = |name: &Value| -> Option<&Value> {
        let name = name["name"].as_str()?;
        types.iter().find(|t| t["name"] == name)
    };
    let mut out = String::new();
    let roots = [
        ("Queries", &schema["queryType"]),
        ("Mutations", &schema["mutationType"]),
        ("Subscriptions", &schema["subscriptionType"]),
    ];
    let root_names: Vec<&str> = roots
        .iter()
        .filter_map(|(_, r)| r["name"].as_str())
        .collect();
    for (title, root) in roots {
        let Some(root) = named(root) else { continue };
        let fields: Vec<Value> = root["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| !is_machinery(f["name"].as_str().unwrap_or("")))
            .cloned()
            .collect();
        out.push_str(&format!("\n## {title}\n\n{}", field_table(&fields)));
    }
    let mut kinds = [
        ("OBJECT", "Objects", Vec::new()),
        ("INTERFACE", "Interfaces", Vec::new()),
        ("UNION", "Unions", Vec::new()),
        ("INPUT_OBJECT", "Input objects", Vec::new()),
        ("ENUM", "Enums", Vec::new()),
        ("SCALAR", "Scalars", Vec::new()),
    ];
    for t in &types {
        let name = t["name"].as_str().unwrap_or("");
        if is_machinery(name) || root_names.contains(&name) || BUILT_IN.contains(&name) {
            continue;
        }
        if let Some(group) = kinds.iter_mut().find(|(kind, ..)| t["kind"] == *kind) {
            group.2.push(t.clone());
        }
    }
    for (kind, title, mut group) in kinds {
        if group.is_empty() {
            continue;
        }
        group.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        out.push_str(&format!("\n## {title}\n"));
        for t in group {
            let name = t["name"].as_str().unwrap_or("");
            out.push_str(&format!("\n### {name}\n\n{}\n", description(&t)));
            let interfaces: Vec<String> = t["interfaces"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|i| i["name"].as_str())
                        .filter(|n| !is_machinery(n))
                        .map(|n| format!("[`{n}`](#{})", n.to_ascii_lowercase()))
                        .collect()
                })
                .unwrap_or_default();
            if !interfaces.is_empty() {
                out.push_str(&format!("\nImplements {}.\n", interfaces.join(", ")));
            }
            let members: Vec<String> = t["possibleTypes"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|i| i["name"].as_str())
                        .map(|n| format!("[`{n}`](#{})", n.to_ascii_lowercase()))
                        .collect()
                })
                .unwrap_or_default();
            if !members.is_empty() {
                let verb = if kind == "UNION" {
                    "One of"
                } else {
                    "Implemented by"
                };
                out.push_str(&format!("\n{verb} {}.\n", members.join(", ")));
            }
            if let Some(url) = t["specifiedByURL"].as_str() {
                out.push_str(&format!("\nSpecified by <{url}>.\n"));
            }
            match kind {
                "OBJECT" | "INTERFACE" => {
                    let fields = t["fields"].as_array().cloned().unwrap_or_default();
                    out.push_str(&format!("\n{}", field_table(&fields)));
                }
                "INPUT_OBJECT" => {
                    out.push_str("\n| field | type | default | description |\n|---|---|---|---|\n");
                    for field in t["inputFields"].as_array().cloned().unwrap_or_default() {
                        out.push_str(&format!(
                            "| `{}` | {} | {} | {} |\n",
                            field["name"].as_str().unwrap_or(""),
                            type_ref(&field["type"]),
                            field["defaultValue"]
                                .as_str()
                                .map(|d| format!("`{}`", cell(d)))
                                .unwrap_or_default(),
                            description(&field),
                        ));
                    }
                }
                "ENUM" => {
                    out.push_str("\n| value | description |\n|---|---|\n");
                    for value in t["enumValues"].as_array().cloned().unwrap_or_default() {
                        out.push_str(&format!(
                            "| `{}` | {} |\n",
                            value["name"].as_str().unwrap_or(""),
                            description(&value)
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[tokio::test]
async fn the_graphql_reference_is_generated_from_the_served_schema() {
    let app = spawn_app().await;
    let data = app.graphql_ok(INTROSPECTION, json!({})).await;
    let schema = &data["__schema"];
    let page = render(schema);
    // What a reader needs is there: every root field and every named type has its section or row.
    for needle in [
        "| `conversations` |",
        "| `createWebhook` |",
        "| `organizationEvents` |",
        "### Conversation\n",
        "### ConversationStatus\n",
        "### CreateWebhookInput\n",
        "### Node\n",
        "Specified by <",
    ] {
        assert!(page.contains(needle), "the reference lacks {needle:?}");
    }
    assert!(!page.contains("_entities") && !page.contains("### _Service"));
    generated_block("docs/reference/graphql.md", "schema", &page);
}

#[tokio::test]
async fn the_audit_log_reference_lists_every_action_the_server_records() {
    let app = spawn_app().await;
    let data = app
        .graphql_ok(
            r#"{ __type(name: "AuditAction") { enumValues { name description } } }"#,
            json!({}),
        )
        .await;
    let values = data["__type"]["enumValues"].as_array().unwrap();
    // The GraphQL enum and the stored names are the same set.
    assert_eq!(values.len(), api::service::audit::AuditAction::NAMES.len());
    let mut page = format!(
        "The server records {} kinds of change:\n\n| action | recorded as | what happened |\n|---|---|---|\n",
        values.len()
    );
    for value in values {
        let name = value["name"].as_str().unwrap();
        let stored = api::service::audit::AuditAction::NAMES
            .iter()
            .find(|n| n.replace('.', "_").to_ascii_uppercase() == name)
            .unwrap_or_else(|| panic!("AuditAction {name} has no stored name"));
        page.push_str(&format!(
            "| `{name}` | `{stored}` | {} |\n",
            cell(value["description"].as_str().unwrap_or(""))
        ));
    }
    generated_block("docs/reference/audit-log.md", "actions", &page);
}
