//! docs/reference/cli.md, generated from the `concierge` binary's own help.

use super::generated_block;

/// The help of `concierge <path…>`.
fn help(path: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{path:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

fn render(path: &mut Vec<String>, out: &mut String) {
    let args: Vec<&str> = path.iter().map(String::as_str).collect();
    let text = help(&args);
    let title = if path.is_empty() {
        "concierge".to_owned()
    } else {
        format!("concierge {}", path.join(" "))
    };
    out.push_str(&format!(
        "\n## `{title}`\n\n```text\n{}\n```\n",
        text.trim_end()
    ));
    for sub in subcommands(&text) {
        path.push(sub);
        render(path, out);
        path.pop();
    }
}

#[test]
fn the_command_line_reference_is_the_binarys_own_help() {
    let mut out = String::new();
    render(&mut Vec::new(), &mut out);
    for command in [
        "concierge bootstrap",
        "concierge org set-plan",
        "concierge audit verify",
    ] {
        assert!(out.contains(&format!("## `{command}`")), "{out}");
    }
    generated_block("docs/reference/cli.md", "help", &out);
}
