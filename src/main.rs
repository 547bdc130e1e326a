//! The `concierge` binary: every command lives in `api::cli`.

/// mimalloc: the server allocates many small short-lived objects per request (GraphQL values, rows, JSON),
/// where glibc malloc spent a quarter of the dashboard query's CPU time under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::run()
}
