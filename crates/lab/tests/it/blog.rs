//! The blog includes the lab's outputs instead of retyping them: every file a post includes or
//! shows must exist, every post in SUMMARY.md must exist, and every experiment whose phase has a
//! post must have its committed outputs.

use std::path::{Path, PathBuf};

fn blog_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/blog/src")
}

/// Targets of `{{#include PATH}}`, `![alt](PATH)` and HTML `src="PATH"` / `href="PATH"` in a
/// markdown text.
fn referenced_files(md: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for (start, end) in [
        ("{{#include ", "}}"),
        ("](", ")"),
        ("src=\"", "\""),
        ("href=\"", "\""),
    ] {
        let mut rest = md;
        while let Some(i) = rest.find(start) {
            rest = &rest[i + start.len()..];
            if let Some(j) = rest.find(end) {
                let raw = rest[..j].trim();
                let local = !raw.contains("://") && !raw.starts_with('#') && !raw.is_empty();
                if local {
                    // `{{#include file.md:2:5}}` names line ranges after a colon; links may have `#anchor`.
                    let file = raw.split([':', '#']).next().unwrap_or_default();
                    refs.push(file.to_string());
                }
                rest = &rest[j..];
            }
        }
    }
    refs
}

#[test]
fn every_included_or_linked_file_exists() {
    let src = blog_src();
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).expect("docs/blog/src exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let md = std::fs::read_to_string(&path).unwrap();
            for r in referenced_files(&md) {
                let target = path.parent().unwrap().join(&r);
                assert!(target.exists(), "{} references missing {r}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} references found");
}

#[test]
fn committed_lab_outputs_cover_every_experiment_of_a_published_phase() {
    let src = blog_src();
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    for exp in tfs_lab::registry() {
        let post_prefix = format!("p{}-", exp.phase);
        if summary.contains(&format!("]({post_prefix}")) {
            let dir = src.join("lab").join(exp.id);
            for f in ["results.json", "summary.md"] {
                assert!(
                    dir.join(f).exists(),
                    "{} lacks {f}: run `tfs lab run all --out docs/blog/src/lab`",
                    exp.id
                );
            }
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap())
                    .unwrap();
            assert_eq!(
                doc["quick"], false,
                "{}: the blog must show a full run, not --quick",
                exp.id
            );
        }
    }
}

#[test]
fn the_reference_finder_finds_includes_and_images() {
    let md =
        "a {{#include lab/x/summary.md}} b ![fig](lab/x/f.svg) [web](https://e.org) [c](#top) \
              <a href=\"lab/y/g.svg\"><img src=\"lab/y/h.svg\" alt=\"\"></a>";
    assert_eq!(
        referenced_files(md),
        vec![
            "lab/x/summary.md",
            "lab/x/f.svg",
            "lab/y/h.svg",
            "lab/y/g.svg"
        ]
    );
}

/// Every markdown page of the blog, with its name.
fn pages() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(blog_src()).expect("docs/blog/src exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    out.sort();
    out
}

/// Lines of `md` outside fenced code blocks, with their 1-based numbers.
fn prose_lines(md: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in md.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// Where a figure sits in a table cell (a table row that shows an image): there the browser
/// shrinks it to the cell's width and its labels become unreadable.
fn figures_in_tables(md: &str) -> Vec<usize> {
    prose_lines(md)
        .into_iter()
        .filter(|(_, l)| {
            l.trim_start().starts_with('|') && (l.contains("![") || l.contains("<img"))
        })
        .map(|(n, _)| n)
        .collect()
}

/// The first problem with the MathJax delimiters of `md` (`\\(`…`\\)` inline, `\\[`…`\\]` display,
/// as written in mdBook's markdown), if any: a closer without an opener, an opener inside an open
/// formula, or a formula left open at the end of its paragraph.
fn math_delimiter_problem(md: &str) -> Option<String> {
    let mut open: Option<(&str, usize)> = None;
    for (n, line) in prose_lines(md) {
        if line.trim().is_empty() {
            if let Some((d, at)) = open {
                return Some(format!(
                    "{d} opened on line {at} is not closed in its paragraph"
                ));
            }
        }
        let mut rest = line;
        while let Some(i) = rest.find("\\\\") {
            let tok = rest.get(i..i + 3).unwrap_or("");
            rest = &rest[i + 2..];
            match (tok, open) {
                ("\\\\(", None) | ("\\\\[", None) => {
                    open = Some((if tok.ends_with('(') { "\\\\(" } else { "\\\\[" }, n))
                }
                ("\\\\)", Some(("\\\\(", _))) | ("\\\\]", Some(("\\\\[", _))) => open = None,
                ("\\\\(", Some(_)) | ("\\\\[", Some(_)) => {
                    return Some(format!("line {n}: {tok} inside an open formula"))
                }
                ("\\\\)", _) | ("\\\\]", _) => {
                    return Some(format!("line {n}: {tok} closes nothing"))
                }
                _ => {}
            }
        }
    }
    open.map(|(d, at)| format!("{d} opened on line {at} is never closed"))
}

#[test]
fn no_figure_sits_in_a_table_cell() {
    for (name, md) in pages() {
        let bad = figures_in_tables(&md);
        assert!(
            bad.is_empty(),
            "{name}: figure in a table cell on lines {bad:?}"
        );
    }
}

#[test]
fn every_formula_delimiter_is_balanced() {
    for (name, md) in pages() {
        if let Some(p) = math_delimiter_problem(&md) {
            panic!("{name}: {p}");
        }
    }
}

#[test]
fn the_checkers_catch_what_they_should() {
    assert_eq!(
        figures_in_tables("| a |\n|---|\n| ![x](x.svg) |\n"),
        vec![3]
    );
    assert_eq!(
        figures_in_tables("```\n| ![x](x.svg) |\n```\n![x](x.svg)\n"),
        Vec::<usize>::new()
    );
    assert_eq!(
        math_delimiter_problem(r"a \\( x^{2} \\) and \\[ y \\]"),
        None
    );
    assert!(math_delimiter_problem(r"a \\( x^{2}").is_some());
    assert!(math_delimiter_problem(r"a x \\) b").is_some());
    assert!(math_delimiter_problem("a \\\\( x\n\nb \\\\)").is_some());
    assert!(math_delimiter_problem(r"\\( a \\[ b \\] \\)").is_some());
}

/// A number for a table: 3-4 significant digits, integers as they are.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        serde_json::Value::Number(n) => {
            let x = n.as_f64().unwrap();
            if x.abs() >= 100.0 {
                format!("{x:.0}")
            } else {
                tfs_lab::sig(x, 3)
            }
        }
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The markdown table a post shows for a benchmark whose `.jsonl` holds our line and then the
/// peer's (same keys): one row per key, ours beside the peer's, and for a measured speed how
/// many times faster ours was. Settings both share are listed once, under the table.
fn bench_table(jsonl: &str) -> String {
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "a benchmark file holds our line, then the peer's"
    );
    let (ours, peer) = (&lines[0], &lines[1]);
    let mut t = format!(
        "| measured | ours ({}) | peer ({}) | our speed ÷ the peer's |\n|---|---|---|---|\n",
        cell(&ours["impl"]),
        cell(&peer["impl"])
    );
    let mut same = Vec::new();
    // The peer's key order (the scripts print the settings first).
    for (key, pv) in peer.as_object().unwrap() {
        let Some(ov) = ours.get(key) else { continue };
        // Per-step arrays (step times, losses) stay in the JSON lines, out of the table.
        if key == "impl" || ov.is_array() || pv.is_array() {
            continue;
        }
        if ov == pv || (ov.is_number() && pv.is_number() && ov.as_f64() == pv.as_f64()) {
            same.push(format!("{key} = {}", cell(ov)));
            continue;
        }
        let (o, p) = (ov.as_f64(), pv.as_f64());
        let speed = match (o, p) {
            (Some(o), Some(p)) if key.contains("per_s") || key.contains("gflops") => {
                format!("{:.2}×", o / p)
            }
            (Some(o), Some(p)) if key.contains("seconds") => format!("{:.2}×", p / o),
            _ => String::new(),
        };
        t.push_str(&format!(
            "| `{key}` | {} | {} | {speed} |\n",
            cell(ov),
            cell(pv)
        ));
    }
    t.push_str(&format!("\nBoth ran with {}.\n", same.join(", ")));
    // A benchmark that compares outputs (greedy generation) says whether they were the same.
    if let Some(equal) = ours.get("ids_equal_peer").and_then(|v| v.as_bool()) {
        let at = match ours.get("ids_first_difference").and_then(|v| v.as_u64()) {
            Some(i) => format!(" (they first differ at position {i})"),
            None => String::new(),
        };
        t.push_str(&format!(
            "Our generated ids equal the peer's: {}{at}.\n",
            if equal { "yes" } else { "no" }
        ));
    }
    t
}

/// GEMM throughput per case and thread count, ours beside PyTorch's (median of the timed runs).
fn gemm_table(jsonl: &str) -> String {
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let find = |imp: bool, case: &str, threads: u64| {
        lines.iter().find(|l| {
            (l["impl"] == "tfs-kernels") == imp && l["case"] == case && l["threads"] == threads
        })
    };
    let mut t = String::from(
        "| case (m × k × n, layout) | ours, 1 thread | PyTorch, 1 thread | ours, 2 threads | PyTorch, 2 threads | ours ÷ PyTorch (2 threads) |\n|---|---|---|---|---|---|\n",
    );
    let mut seen = Vec::new();
    for l in &lines {
        let case = l["case"].as_str().unwrap();
        if seen.contains(&case) {
            continue;
        }
        seen.push(case);
        let g = |imp, th| find(imp, case, th).and_then(|l| l["gflops_median"].as_f64());
        let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.0}"));
        let ratio = match (g(true, 2), g(false, 2)) {
            (Some(a), Some(b)) => format!("{:.2}×", a / b),
            _ => "—".into(),
        };
        t.push_str(&format!(
            "| {case} ({} × {} × {}, {}) | {} | {} | {} | {} | {ratio} |\n",
            l["m"],
            l["k"],
            l["n"],
            cell(&l["layout"]),
            f(g(true, 1)),
            f(g(false, 1)),
            f(g(true, 2)),
            f(g(false, 2)),
        ));
    }
    t.push_str("\nGFLOP/s, the median of the timed repetitions of each case.\n");
    t
}

/// The committed `bench/NAME.md` tables are generated from `bench/NAME.jsonl` (what the
/// benchmarks printed); `TFS_BLESS=1` rewrites them.
#[test]
fn benchmark_tables_are_generated_from_their_json_lines() {
    let dir = blog_src().join("bench");
    for name in [
        "mlp",
        "lstm",
        "transformer",
        "transformer-framework",
        "gpt",
        "gpt-shakespeare-char",
        "gpt2-124m",
        "generate",
        "tokenizer",
        "gemm",
    ] {
        let jsonl = std::fs::read_to_string(dir.join(format!("{name}.jsonl"))).unwrap();
        let table = if name == "gemm" {
            gemm_table(&jsonl)
        } else {
            bench_table(&jsonl)
        };
        let path = dir.join(format!("{name}.md"));
        if std::env::var("TFS_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &table).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            table,
            "{} is stale: run TFS_BLESS=1 cargo test -p tfs-lab --test it benchmark_tables",
            path.display()
        );
    }
}
