//! What machine a result was measured on: recorded in every results.json.

use serde_json::{json, Value};

/// The CPU's model name from /proc/cpuinfo (Linux), else "unknown".
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Logical cores available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `{cores, cpu, os, arch}`.
pub fn describe() -> Value {
    json!({
        "cores": cores(),
        "cpu": cpu_model(),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}
