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

/// `{cores, cpu, os, arch}`.
pub fn describe() -> Value {
    json!({
        "cores": tfs_math::threads(),
        "cpu": cpu_model(),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}
