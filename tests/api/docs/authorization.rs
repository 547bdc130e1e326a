//! docs/reference/authorization.md: who may do what on which plan, generated from the policy file the server
//! loads (`api/src/authz/policy.csv`).

use std::collections::{BTreeMap, BTreeSet};

use super::{generated_block, root};

const ROLES: [&str; 5] = ["owner", "admin", "agent", "analyst", "viewer"];
const PLANS: [&str; 3] = ["basic", "standard", "premium"];

/// The policy lines, split into their fields.
fn lines() -> Vec<Vec<String>> {
    std::fs::read_to_string(root().join("api/src/authz/policy.csv"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').map(|f| f.trim().to_owned()).collect())
        .collect()
}

/// The lowest plan whose features include `feature` (plans include the plans below them).
fn lowest_plan(links: &[(String, String)], feature: &str) -> String {
    fn includes(links: &[(String, String)], from: &str, feature: &str) -> bool {
        links
            .iter()
            .filter(|(parent, _)| parent == from)
            .any(|(_, child)| child == feature || includes(links, child, feature))
    }
    PLANS
        .iter()
        .find(|plan| includes(links, &format!("plan:{plan}"), feature))
        .map(|plan| (*plan).to_owned())
        .unwrap_or_else(|| panic!("no plan has the feature {feature}"))
}

pub fn render() -> String {
    let lines = lines();
    let links: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l[0] == "g2")
        .map(|l| (l[1].clone(), l[2].clone()))
        .collect();
    // (object, action, feature) → the roles allowed.
    let mut by_role: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    // scope → (object, action).
    let mut scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut others = Vec::new();
    for l in lines.iter().filter(|l| l[0] == "p") {
        let (subject, object, action, feature) = (&l[1], &l[2], &l[3], &l[4]);
        if let Some(role) = subject.strip_prefix("role:") {
            by_role
                .entry((object.clone(), action.clone(), feature.clone()))
                .or_default()
                .insert(role.to_owned());
        } else if let Some(scope) = subject.strip_prefix("scope:") {
            scopes
                .entry(scope.to_owned())
                .or_default()
                .push(format!("{object} {action}"));
        } else {
            others.push(format!(
                "| `{subject}` | {object} | {action} | {} (`{feature}`) |",
                lowest_plan(&links, feature)
            ));
        }
    }
    let mut out = String::from(
        "### Members and API keys, by role\n\n| object | action | lowest plan (feature) |",
    );
    for role in ROLES {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n|---|---|---|");
    out.push_str(&"---|".repeat(ROLES.len()));
    out.push('\n');
    for ((object, action, feature), roles) in &by_role {
        out.push_str(&format!(
            "| {object} | {action} | {} (`{feature}`) |",
            lowest_plan(&links, feature)
        ));
        for role in ROLES {
            out.push_str(if roles.contains(role) { " ✓ |" } else { " |" });
        }
        out.push('\n');
    }
    out.push_str(
        "\n### Other principals\n\n| subject | object | action | lowest plan (feature) |\n|---|---|---|---|\n",
    );
    for line in &others {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\n### API key scopes\n\nA key with scopes may do only what its scopes list, within its role.\n\n| scope | allows |\n|---|---|\n");
    for (scope, allows) in &scopes {
        out.push_str(&format!("| `{scope}` | {} |\n", allows.join(", ")));
    }
    out.push_str("\n### Plans and their features\n\nEach plan includes the one below it.\n\n| plan | features |\n|---|---|\n");
    for plan in PLANS {
        let own: Vec<String> = links
            .iter()
            .filter(|(parent, child)| {
                *parent == format!("plan:{plan}") && !child.starts_with("plan:")
            })
            .map(|(_, child)| format!("`{child}`"))
            .collect();
        let below = links
            .iter()
            .find(|(parent, child)| *parent == format!("plan:{plan}") && child.starts_with("plan:"))
            .map(|(_, child)| format!("everything of {}, and ", child.trim_start_matches("plan:")))
            .unwrap_or_default();
        out.push_str(&format!("| {plan} | {below}{} |\n", own.join(", ")));
    }
    out
}

#[test]
fn the_role_and_plan_reference_is_generated_from_the_policy_file() {
    let page = render();
    // Owners may do everything admins may; the visitor reaches the widget alone.
    assert!(
        page.contains("| webhooks | write | standard (`webhooks`) | ✓ | ✓ |"),
        "{page}"
    );
    assert!(
        page.contains("| `visitor` | widget | read | basic (`embed`) |"),
        "{page}"
    );
    generated_block("docs/reference/authorization.md", "policy", &page);
}
