//! Embeds the front ends that `make web` builds into web/dist: a table of each file's name and bytes.
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
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("web/dist is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut table = String::from(
        "/// Every file of web/dist: its name and its bytes.\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file names in web/dist are UTF-8");
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
