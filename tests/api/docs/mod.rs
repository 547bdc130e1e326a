//! The documentation under docs/: generated references match what the server serves, and every link resolves.
//!
//! Each generated part of a page sits between `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`
//! and is rendered here from the running server (introspection, the OpenAPI document, real events) or from the
//! types and files it is built from; a test fails when a page has drifted. `make docs` rewrites them
//! (`CONCIERGE_WRITE_DOCS=1`).

mod authorization;
mod cli;
mod configuration;
mod events;
mod graphql;
mod links;
mod rest;
mod tutorial;

use std::path::{Path, PathBuf};

pub use crate::helpers::root;

/// Whether this run rewrites the generated parts instead of checking them.
fn writing() -> bool {
    std::env::var("CONCIERGE_WRITE_DOCS").is_ok_and(|v| v == "1")
}

/// Checks (or, under `CONCIERGE_WRITE_DOCS=1`, rewrites) the part `name` of the page at `path` (from the
/// repository root) against `content`.
pub fn generated_block(path: &str, name: &str, content: &str) {
    let file = root().join(path);
    let page = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
    let begin = format!("<!-- BEGIN generated: {name} -->\n");
    let end = format!("<!-- END generated: {name} -->");
    let start = page
        .find(&begin)
        .unwrap_or_else(|| panic!("{path} has no `{}` marker", begin.trim_end()))
        + begin.len();
    let stop = start
        + page[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("{path} has no `{end}` marker"));
    let wanted = format!("{}\n", content.trim_end());
    if page[start..stop] == wanted {
        return;
    }
    if writing() {
        let rewritten = format!("{}{wanted}{}", &page[..start], &page[stop..]);
        std::fs::write(&file, rewritten).unwrap();
        return;
    }
    panic!(
        "{path}: the generated part `{name}` has drifted from what the server says; run `make docs` \
         and review the diff.\n{}",
        first_difference(&page[start..stop], &wanted)
    );
}

/// Checks (or rewrites) a whole generated file.
pub fn generated_file(path: &str, content: &str) {
    let file = root().join(path);
    let current = std::fs::read_to_string(&file).unwrap_or_default();
    if current == content {
        return;
    }
    if writing() {
        std::fs::write(&file, content).unwrap();
        return;
    }
    panic!(
        "{path} has drifted from what the server says; run `make docs` and review the diff.\n{}",
        first_difference(&current, content)
    );
}

/// The first line where two texts differ, for the failure message.
fn first_difference(committed: &str, wanted: &str) -> String {
    let mut committed_lines = committed.lines();
    for (number, line) in wanted.lines().enumerate() {
        match committed_lines.next() {
            Some(have) if have == line => {}
            have => {
                return format!(
                    "line {} of the part: committed {:?}, generated {:?}",
                    number + 1,
                    have.unwrap_or("<end>"),
                    line
                );
            }
        }
    }
    format!(
        "the committed part goes on after the generated one ends: {:?}",
        committed_lines.next().unwrap_or("")
    )
}

/// Every markdown file of the documentation: the README, the top-level guides and docs/.
pub fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = [
        "README.md",
        "ARCHITECTURE.md",
        "CONTRIBUTING.md",
        "SECURITY.md",
        "CHANGELOG.md",
    ]
    .iter()
    .map(|p| root().join(p))
    .collect();
    collect_markdown(&root().join("docs"), &mut pages);
    pages.sort();
    pages
}

fn collect_markdown(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_markdown(&path, into);
        } else if path.extension().is_some_and(|e| e == "md") {
            into.push(path);
        }
    }
}

/// Escapes text for a markdown table cell: pipes and line breaks would end the cell.
pub fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
