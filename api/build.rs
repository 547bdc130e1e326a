//! Embeds the front ends that `make web` builds into web/dist (the widget, and the console under console/): a table of each file's path and bytes.
// A build script fails by panicking, with the reason.
#![allow(clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest_dir.join("../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let manifest = dist.join("manifest.json");
    println!("cargo:rerun-if-changed={}", manifest.display());
    assert!(
        manifest.exists(),
        "the web front ends are not built ({} is missing): run `make web`, which installs them from \
         web/package-lock.json and builds them",
        manifest.display()
    );
    for page in ["console/index.html", "console/graphiql.html"] {
        let page = dist.join(page);
        assert!(
            page.exists(),
            "the console is not built ({} is missing): run `make web`",
            page.display()
        );
    }
    let mut files = Vec::new();
    walk(&dist, &mut files);
    files.sort();
    let mut table = String::from(
        "/// Every file of web/dist: its path under web/dist (`console/assets/…` for the console) and its bytes.\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .strip_prefix(&dist)
            .expect("under web/dist")
            .to_str()
            .expect("file names in web/dist are UTF-8")
            .replace('\\', "/");
        let absolute = path.canonicalize().expect("the file exists");
        writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        )
        .expect("writing to a string");
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("web_assets.rs");
    std::fs::write(out, table).expect("OUT_DIR is writable");
}

/// Every file under `dir`, at any depth (the console's build has `console/assets/`).
fn walk(dir: &std::path::Path, files: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in std::fs::read_dir(dir)
        .expect("web/dist is readable")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.is_file() {
            files.push(path);
        }
    }
}
