//! Command-line flags of the benchmarks: `--name value` pairs after cargo's own `--bench`.

/// The `(flag, value)` pairs given; prints `usage` and exits on `--help`.
pub fn pairs(usage: &str) -> Vec<(String, String)> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{usage}");
        std::process::exit(0);
    }
    args.chunks(2)
        .map(|pair| (pair[0].clone(), pair.get(1).cloned().unwrap_or_default()))
        .collect()
}
