//! Structure-aware mutations of files read from outside, from a fixed seed.
//!
//! Shared (by `#[path]`) by the bounded fuzz tests of the test suite (`crates/data/tests/it/fuzz.rs`,
//! `crates/tokenizers/tests/it/fuzz.rs`); the long runs use cargo-fuzz's own mutator on the same
//! seeds (`fuzz/fuzz_targets/`). No dependencies, so every test binary can include it.
//!
//! An input is cut into *records*: lines for the text formats (tokenizer models, GPT-2 files,
//! corpora); for IDX, the magic, each 4-byte dimension, then the data in a few chunks; for token
//! shards, each field of the 64-byte header, then the tokens in a few chunks. Mutations:
//!
//! * systematic ([`for_each_systematic`]): truncation at every record boundary, every record
//!   removed, every record duplicated (with a stride for files of thousands of records);
//! * random ([`mutate`]): one to four stacked edits among bit flips, bytes set to boundary values
//!   (0, 0xff, 0x80, newline, space, the halves of "é"), truncation at a random byte, a record
//!   removed, duplicated or swapped with another, a decimal number replaced by a huge one, a
//!   4-byte field set to a huge size, a multi-byte character or random bytes inserted.
//!
//! Left out: coverage guidance (that is what cargo-fuzz adds), grammar-based generation.

#![allow(dead_code)]

use std::ops::Range;

/// SplitMix64: small, seedable, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// How an input is cut into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One record per line (with its newline).
    Lines,
    /// IDX: magic, each dimension, then the data in up to 8 chunks.
    Idx,
    /// safetensors: the 8-byte header length, the JSON header cut after each `}`, then the data
    /// in up to 8 chunks.
    Safetensors,
    /// Token shards (tfs-gpt `shards`): the header's fields (magic 8, version 4, bytes per token
    /// 4, count 8, vocab 4, reserved 4, tokenizer name 32), then the tokens in up to 8 chunks.
    Shard,
}

/// The records of `input`, as byte ranges that tile it.
pub fn records(input: &[u8], kind: Kind) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    match kind {
        Kind::Lines => {
            let mut start = 0;
            for (i, &b) in input.iter().enumerate() {
                if b == b'\n' {
                    out.push(start..i + 1);
                    start = i + 1;
                }
            }
            if start < input.len() {
                out.push(start..input.len());
            }
        }
        Kind::Idx => {
            let ndim = input.get(3).copied().unwrap_or(0) as usize;
            let header = (4 + 4 * ndim).min(input.len());
            let mut start = 0;
            while start < header {
                let end = (start + 4).min(header);
                out.push(start..end);
                start = end;
            }
            let chunk = (input.len() - header).div_ceil(8).max(1);
            while start < input.len() {
                let end = (start + chunk).min(input.len());
                out.push(start..end);
                start = end;
            }
        }
        Kind::Safetensors => {
            let len = input
                .get(..8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
            let header_end = (8 + len.min(input.len() as u64) as usize).min(input.len());
            let mut start = 0;
            if input.len() >= 8 {
                out.push(0..8);
                start = 8;
            }
            for (i, &b) in input.iter().enumerate().take(header_end).skip(start) {
                if b == b'}' {
                    out.push(start..i + 1);
                    start = i + 1;
                }
            }
            let chunk = (input.len() - start).div_ceil(8).max(1);
            while start < input.len() {
                let end = (start + chunk).min(input.len());
                out.push(start..end);
                start = end;
            }
        }
        Kind::Shard => {
            let mut start = 0;
            for width in [8, 4, 4, 8, 4, 4, 32] {
                let end = (start + width).min(input.len());
                if end > start {
                    out.push(start..end);
                }
                start = end;
            }
            let chunk = (input.len() - start).div_ceil(8).max(1);
            while start < input.len() {
                let end = (start + chunk).min(input.len());
                out.push(start..end);
                start = end;
            }
        }
    }
    out
}

/// Calls `f` on every systematic variant of `input`: truncated at each record boundary, each
/// record removed, each record duplicated — for every `stride`-th record (1 = all).
pub fn for_each_systematic(input: &[u8], kind: Kind, stride: usize, f: &mut dyn FnMut(&[u8])) {
    let recs = records(input, kind);
    for r in recs.iter().step_by(stride.max(1)) {
        f(&input[..r.start]);
        let mut v = input[..r.start].to_vec();
        v.extend_from_slice(&input[r.end..]);
        f(&v);
        let mut v = input[..r.end].to_vec();
        v.extend_from_slice(&input[r.clone()]);
        v.extend_from_slice(&input[r.end..]);
        f(&v);
    }
}

const BOUNDARY_BYTES: [u8; 8] = [0, 0xff, 0x80, b'\n', b' ', 0xc3, 0xa9, b'0'];
const HUGE_NUMBERS: [&str; 5] = [
    "18446744073709551615",
    "4294967295",
    "4294967296",
    "99999999999999999999999",
    "-1",
];
const HUGE_U32: [u32; 4] = [u32::MAX, 0x7fff_ffff, 0x0001_0000, 0];

/// One to four stacked random edits of `input` (see the module comment).
pub fn mutate(input: &[u8], kind: Kind, rng: &mut Rng) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        edit(&mut v, kind, rng);
    }
    v
}

fn edit(v: &mut Vec<u8>, kind: Kind, rng: &mut Rng) {
    let recs = records(v, kind);
    let rec = |rng: &mut Rng| recs.get(rng.below(recs.len())).cloned().unwrap_or(0..0);
    match rng.below(10) {
        0 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] ^= 1 << rng.below(8);
        }
        1 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] = BOUNDARY_BYTES[rng.below(BOUNDARY_BYTES.len())];
        }
        2 => v.truncate(rng.below(v.len() + 1)),
        3 => {
            let r = rec(rng);
            v.drain(r);
        }
        4 => {
            let r = rec(rng);
            let copy = v[r.clone()].to_vec();
            v.splice(r.end..r.end, copy);
        }
        5 => {
            let (a, b) = (rec(rng), rec(rng));
            if a.end <= b.start {
                let (x, y) = (v[a.clone()].to_vec(), v[b.clone()].to_vec());
                v.splice(b, x);
                v.splice(a, y);
            }
        }
        6 => {
            // A decimal number of a record replaced by a huge one.
            let r = rec(rng);
            if let Some(s) = (r.start..r.end).find(|&i| v[i].is_ascii_digit()) {
                let e = (s..r.end)
                    .find(|&i| !v[i].is_ascii_digit())
                    .unwrap_or(r.end);
                let n = HUGE_NUMBERS[rng.below(HUGE_NUMBERS.len())];
                v.splice(s..e, n.bytes());
            }
        }
        7 if v.len() >= 4 => {
            // A 4-byte field (an IDX dimension, a shard header word, or any aligned word) set to
            // a huge size, in the file's byte order.
            let limit = match kind {
                Kind::Idx => 8,
                Kind::Shard => 16,
                _ => usize::MAX,
            };
            let fields = (v.len() / 4).min(limit);
            let at = 4 * rng.below(fields);
            let huge = HUGE_U32[rng.below(HUGE_U32.len())];
            let x = if kind == Kind::Shard {
                huge.to_le_bytes()
            } else {
                huge.to_be_bytes()
            };
            v[at..at + 4].copy_from_slice(&x);
        }
        8 => {
            // A whole multi-byte character: valid UTF-8 where a parser may expect ASCII.
            let at = rng.below(v.len() + 1);
            let c = ["é", "🙂", "\u{0}", "\u{2028}"][rng.below(4)];
            v.splice(at..at, c.bytes());
        }
        _ => {
            let at = rng.below(v.len() + 1);
            let junk: Vec<u8> = (0..1 + rng.below(8))
                .map(|_| rng.next_u64() as u8)
                .collect();
            v.splice(at..at, junk);
        }
    }
}
