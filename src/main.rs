//! The `concierge` binary: every command lives in `api::cli`.

fn main() -> std::process::ExitCode {
    api::cli::run()
}
