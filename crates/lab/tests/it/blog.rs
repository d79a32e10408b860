//! The blog includes the lab's outputs instead of retyping them: every file a post includes or
//! shows must exist, every post in SUMMARY.md must exist, and every experiment whose phase has a
//! post must have its committed outputs.

use std::path::{Path, PathBuf};

fn blog_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/blog/src")
}

/// Targets of `{{#include PATH}}` and `![alt](PATH)` in a markdown text.
fn referenced_files(md: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for (start, end) in [("{{#include ", "}}"), ("](", ")")] {
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
    let md = "a {{#include lab/x/summary.md}} b ![fig](lab/x/f.svg) [web](https://e.org) [c](#top)";
    assert_eq!(
        referenced_files(md),
        vec!["lab/x/summary.md", "lab/x/f.svg"]
    );
}
