//! `p3-tokenizer-comparison`: char vs word vs byte-level BPE (vocabularies 256 … 8k) on Tiny
//! Shakespeare. Trained on the first 90%, measured on the held-out 10%: tokens per character and
//! per word, the word tokenizer's out-of-vocabulary rate, and BPE's first merges; then one
//! sentence cut by each of them, token by token.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use std::time::Instant;
use tfs_tokenizers::char::CharTokenizer;
use tfs_tokenizers::word::{WordOptions, WordTokenizer};
use tfs_tokenizers::{BpeTokenizer, Split, Tokenizer};

pub(crate) const DESCRIPTION: &str = "char vs word vs BPE (256-8k) on Tiny Shakespeare: tokens per char/word, OOV, first merges";

fn shown(bytes: &[u8]) -> String {
    format!(
        "`{}`",
        String::from_utf8_lossy(bytes)
            .replace('\n', "\\n")
            .replace(' ', "␣")
    )
}

/// Table rows of the first 20 merges: number, left, right, new token, count.
fn merge_rows(bt: &BpeTokenizer, merges: &[tfs_tokenizers::bpe::Merge]) -> Vec<Vec<String>> {
    let tok = |id: u32| shown(&bt.bpe.tokens[id as usize]);
    merges
        .iter()
        .take(20)
        .enumerate()
        .map(|(k, m)| {
            vec![
                (k + 1).to_string(),
                tok(m.left),
                tok(m.right),
                tok(256 + k as u32),
                m.count.to_string(),
            ]
        })
        .collect()
}

/// One sentence, with a word Shakespeare never wrote, to cut with every tokenizer.
const SENTENCE: &str = "O Romeo, the tokenizer splits thy name.";

/// `t`'s tokens of `text`, each shown on its own (a space inside a token as `␣`), separated by spaces.
fn pieces(t: &dyn Tokenizer, text: &str) -> (usize, String) {
    let ids = t.encode(text);
    let shown: Vec<String> = ids
        .iter()
        .map(|&id| match t.decode(&[id]) {
            Ok(s) => s.replace(' ', "␣"),
            Err(_) => format!("#{id}"),
        })
        .collect();
    (ids.len(), format!("`{}`", shown.join(" ")))
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let text: String = text.chars().take(ctx.size(usize::MAX, 100_000)).collect();
    let split = text
        .char_indices()
        .nth(text.chars().count() * 9 / 10)
        .map_or(text.len(), |(i, _)| i);
    let (train, held) = (&text[..split], &text[split..]);
    // Tokens per character and per word of the held-out text: it needs words.
    if held.split_whitespace().next().is_none() || train.trim().is_empty() {
        return Err(ctx.fail(format!(
            "the text ({} characters) is too short: its first 90% trains and its last 10% must hold at least one word",
            text.chars().count()
        )));
    }
    let (chars, words) = (
        held.chars().count() as f64,
        held.split_whitespace().count() as f64,
    );
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut add = |name: String, t: &dyn Tokenizer, extra: serde_json::Value| {
        let n = t.encode(held).len() as f64;
        rows.push(vec![
            name.clone(),
            t.vocab_size().to_string(),
            format!("{:.3}", n / chars),
            format!("{:.2}", n / words),
        ]);
        records.push(json!({"tokenizer": name, "vocab_size": t.vocab_size(), "tokens_per_char": n / chars, "tokens_per_word": n / words, "extra": extra}));
        (t.vocab_size() as f64, n / chars)
    };
    let mut sentence_rows = Vec::new();
    let mut cut = |name: String, t: &dyn Tokenizer| {
        let (n, shown) = pieces(t, SENTENCE);
        sentence_rows.push(vec![name, n.to_string(), shown]);
    };
    let ct = CharTokenizer::train(train);
    cut("char".into(), &ct);
    let char_pt = add(
        "char".into(),
        &ct,
        json!({"unknown_in_held_out": ct.encode(held).iter().filter(|&&i| i == 0).count()}),
    );
    let mut word_pts = Vec::new();
    let mut oov_rows = Vec::new();
    for min_freq in [1, 2, 5] {
        let wt = WordTokenizer::train(
            train,
            WordOptions {
                min_freq,
                ..WordOptions::default()
            },
        );
        if min_freq == 1 {
            cut("word (min count 1)".into(), &wt);
        }
        let oov = wt.oov_rate(held);
        oov_rows.push(vec![
            min_freq.to_string(),
            wt.vocab_size().to_string(),
            format!("{:.2}%", 100.0 * oov),
        ]);
        word_pts.push(add(
            format!("word (min count {min_freq})"),
            &wt,
            json!({"min_freq": min_freq, "oov_rate": oov}),
        ));
    }
    let sizes: Vec<usize> = ctx.size(vec![256, 512, 1024, 2048, 4096, 8192], vec![256, 300, 512]);
    let mut bpe_pts = Vec::new();
    let mut first_merges = Vec::new();
    let mut train_secs = Vec::new();
    let pb = ctx.progress(sizes.len() as u64, "BPE vocabularies");
    for &v in &sizes {
        let t0 = Instant::now();
        let (bt, merges) = BpeTokenizer::train(&[train], v, Split::Gpt2, &[]).map_err(|e| {
            LabError::Experiment {
                id: ctx.id.into(),
                message: e.to_string(),
            }
        })?;
        let secs = t0.elapsed().as_secs_f64();
        train_secs.push(json!({"vocab_size": v, "seconds": secs}));
        assert_eq!(
            bt.decode(&bt.encode(held)).ok().as_deref(),
            Some(held),
            "BPE must round-trip"
        );
        if first_merges.is_empty() {
            first_merges = merge_rows(&bt, &merges);
        }
        if v == 1024 || v == *sizes.last().expect("sizes") {
            cut(format!("BPE {v}"), &bt);
        }
        bpe_pts.push(add(format!("BPE {v}"), &bt, json!({"train_seconds": secs})));
        pb.inc(1);
    }
    pb.finish_and_clear();
    if first_merges.is_empty() {
        let (bt, merges) = BpeTokenizer::train(&[train], 276, Split::Gpt2, &[]).map_err(|e| {
            LabError::Experiment {
                id: ctx.id.into(),
                message: e.to_string(),
            }
        })?;
        first_merges = merge_rows(&bt, &merges);
    }
    LineChart::new(
        "Tokens per character of held-out Shakespeare vs vocabulary size",
        "vocabulary size (tokens)",
        "tokens per character",
    )
    .log_x()
    .legend(LegendPosition::UpperRight)
    .series(Series::new("byte-level BPE (GPT-2 split)", bpe_pts).with_markers())
    .series(Series::new("word (min count 1, 2, 5)", word_pts).with_markers())
    .series(Series::new("char", vec![char_pt]).with_markers())
    .draw(&ctx.figure("tokens_per_char.svg"))?;
    ctx.set("held_out", json!({"chars": chars, "words": words}));
    ctx.set("tokenizers", json!(records));
    ctx.set("bpe_train_seconds", json!(train_secs));
    ctx.table(
        &["tokenizer", "vocabulary", "tokens / char", "tokens / word"],
        &rows,
    );
    ctx.md("The word tokenizer's vocabulary and its out-of-vocabulary rate on the held-out text (every unknown word becomes `<unk>`, its meaning lost):");
    ctx.table(
        &["min count", "vocabulary", "OOV rate on held-out"],
        &oov_rows,
    );
    ctx.md("The first merges byte-level BPE learns on the training text (␣ is a space, \\n a newline; count = occurrences of the pair when merged):");
    ctx.table(
        &["merge", "left", "right", "new token", "count"],
        &first_merges,
    );
    ctx.md(&format!(
        "One sentence, \"{SENTENCE}\", cut by each tokenizer trained above (tokens separated by spaces, \
         ␣ a space; the word tokenizer writes every word it never saw as `<unk>`):"
    ));
    ctx.table(&["tokenizer", "tokens", "the pieces"], &sentence_rows);
    ctx.set("sentence", json!({"text": SENTENCE, "cuts": sentence_rows}));
    Ok(())
}
