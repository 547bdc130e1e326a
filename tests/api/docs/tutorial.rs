//! docs/tutorial/first-answer.md works: its `sh` blocks run, in order, against a real server, and print what the
//! page says they print.

use super::root;
use crate::helpers::spawn_app;

/// The page's blocks: (language, text) in order.
fn blocks(page: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in page.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(language)) => open = Some((language.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => found.extend(open.take()),
            (Some((_, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    found
}

#[tokio::test]
async fn the_tutorial_runs_as_written_and_prints_what_it_shows() {
    let app = spawn_app().await;
    let page = std::fs::read_to_string(root().join("docs/tutorial/first-answer.md")).unwrap();
    let blocks = blocks(&page);
    let script: String = blocks
        .iter()
        .filter(|(language, _)| language == "sh")
        .map(|(_, text)| text.replace("http://127.0.0.1:8080", &app.address))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(script.contains("bootstrap") && script.contains("/widget/v1/conversations"));
    let work = app.settings.data_dir.join("tutorial");
    std::fs::create_dir_all(&work).unwrap();
    // `cargo run --quiet -- …` is the binary this test was built with, on the server's database.
    let shim = format!(
        "set -euo pipefail\ncargo() {{ while [ \"$1\" != -- ]; do shift; done; shift; {:?} \"$@\"; }}\n",
        env!("CARGO_BIN_EXE_concierge")
    );
    let mut command = std::process::Command::new("bash");
    command
        .arg("-c")
        .arg(format!("{shim}{script}"))
        .current_dir(&work)
        .env("CONCIERGE_DATA_DIR", &app.settings.data_dir)
        .env("RUST_LOG", "warn");
    if let Some(url) = &app.settings.database_url {
        use secrecy::ExposeSecret;
        command.env("DATABASE_URL", url.expose_secret());
    }
    // On a blocking thread: the server answers on this test's runtime meanwhile.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the tutorial failed:\n{stdout}\n{stderr}"
    );
    // Every `text` or `json` block that shows an output is printed by the commands, as shown.
    let shown: Vec<&String> = blocks
        .iter()
        .filter(|(language, text)| {
            (language == "text" || language == "json") && !text.contains('…')
        })
        .map(|(_, text)| text)
        .collect();
    assert!(shown.len() >= 5, "{shown:?}");
    for text in shown {
        assert!(
            stdout.contains(text.as_str()),
            "the tutorial shows\n{text}\nbut the commands printed\n{stdout}"
        );
    }
}
