//! Reading claims: JSON paths into a claim set, a claim's string values, and the role the connection's rules give.

use serde_json::Value;

use crate::auth::Role;

use crate::service::identity::sso::settings::RoleRule;

/// The JSON payload of a compact JWT (already verified by the caller).
pub(crate) fn payload(jwt: &str) -> Option<Value> {
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The value at a JSON path: a claim name, or dotted keys and array indexes (`data.user.email`,
/// `$.emails.0.value`).
pub(crate) fn at_path<'v>(claims: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(direct) = claims.get(path) {
        return Some(direct);
    }
    let path = path.strip_prefix("$.").unwrap_or(path);
    path.split('.')
        .try_fold(claims, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// The string values of a claim (or JSON path): a string, or the strings of an array.
pub(crate) fn claim_values(claims: &Value, name: &str) -> Vec<String> {
    match at_path(claims, name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// The role the rules give these claims: the first matching rule, else the default, unless unmatched sign-ins
/// are refused.
pub fn map_role(
    rules: &[RoleRule],
    default_role: Role,
    deny_unmatched: bool,
    groups_attribute: &str,
    claims: &Value,
) -> Option<Role> {
    rules
        .iter()
        .find(|rule| {
            claim_values(
                claims,
                rule.attribute.as_deref().unwrap_or(groups_attribute),
            )
            .contains(&rule.value)
        })
        .map(|rule| rule.role)
        .or((!deny_unmatched).then_some(default_role))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::service::identity::sso::settings::RoleRule;
    use serde_json::json;

    #[test]
    fn json_paths_reach_nested_claims_and_array_items() {
        let claims = json!({
            "sub": "42",
            "data": {"user": {"email": "ann@corp.test", "teams": ["support", "billing"]}},
            "emails": [{"value": "first@corp.test"}],
            "dotted.name": "kept",
        });
        assert_eq!(claim_values(&claims, "sub"), ["42"]);
        assert_eq!(claim_values(&claims, "data.user.email"), ["ann@corp.test"]);
        assert_eq!(
            claim_values(&claims, "$.emails.0.value"),
            ["first@corp.test"]
        );
        assert_eq!(
            claim_values(&claims, "data.user.teams"),
            ["support", "billing"]
        );
        assert_eq!(claim_values(&claims, "dotted.name"), ["kept"]);
        assert!(claim_values(&claims, "data.missing.email").is_empty());
    }

    #[test]
    fn the_first_matching_rule_gives_the_role_then_the_default_or_a_refusal() {
        let rules = vec![
            RoleRule {
                attribute: None,
                value: "admins".to_owned(),
                role: Role::Admin,
            },
            RoleRule {
                attribute: Some("department".to_owned()),
                value: "support".to_owned(),
                role: Role::Agent,
            },
            RoleRule {
                attribute: None,
                value: "everyone".to_owned(),
                role: Role::Analyst,
            },
        ];
        let role = |claims: Value, deny| map_role(&rules, Role::Viewer, deny, "groups", &claims);
        assert_eq!(
            role(json!({"groups": ["everyone", "admins"]}), false),
            Some(Role::Admin)
        );
        assert_eq!(
            role(
                json!({"groups": ["everyone"], "department": "support"}),
                false
            ),
            Some(Role::Agent)
        );
        assert_eq!(
            role(json!({"groups": "everyone"}), false),
            Some(Role::Analyst)
        );
        assert_eq!(role(json!({"groups": []}), false), Some(Role::Viewer));
        assert_eq!(role(json!({}), true), None);
    }
}
