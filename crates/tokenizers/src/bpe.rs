//! Byte-level byte-pair encoding (Sennrich et al., 2016; byte-level as in GPT-2).
//!
//! **Vocabulary.** Every token is a byte string with an id, its *rank*. A trained vocabulary starts
//! with the 256 single bytes (ids 0-255) and adds one token per merge, in the order merges were
//! learned. Special tokens (`<|endoftext|>`) come after and are never produced by merging.
//!
//! **Encoding a piece** (after pre-tokenization): start from its bytes, one part per byte; repeatedly
//! find the adjacent pair whose concatenation is a token of the lowest rank and merge it; stop when
//! no adjacent pair forms a token. The parts left are the piece's tokens. This "lowest rank first"
//! rule replays the merges in the order they were learned, which is also how tiktoken encodes
//! GPT-2's vocabulary (GPT-2's ids are ranks).
//!
//! Two implementations: [`merge_simple`] rescans all pairs after each merge, O(n²) for a piece of
//! n bytes, fast for the short pieces of ordinary text; [`merge_heap`] keeps candidate pairs in a
//! binary heap and the parts in a linked list, O(n log n), for long pieces (100 KB of text with no
//! spaces is one piece). They are tested equal; [`Bpe::encode_piece`] picks by length.
//!
//! **Training** (see [`train`]): count the pre-tokenized pieces of the corpus; count every adjacent
//! pair of symbols, weighted by piece frequency; merge the most frequent pair into a new symbol;
//! update the counts of only the pairs that merge touched (the pieces containing the pair are
//! indexed by pair); repeat until the vocabulary has the requested size. Ties break toward the
//! pair of smaller ids, so training is deterministic.
//!
//! Left out: dropout, and merge rules that are not byte-level.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

/// A byte-level BPE vocabulary: token bytes ↔ id.
#[derive(Clone, Debug, Default)]
pub struct Bpe {
    /// Token bytes → id (= rank) for mergeable tokens.
    pub ranks: HashMap<Vec<u8>, u32>,
    /// id → token bytes, for every id (mergeable and special).
    pub tokens: Vec<Vec<u8>>,
    /// Special tokens: text → id.
    pub specials: Vec<(String, u32)>,
    /// Id of each single byte (GPT-2's byte tokens are not numbered by byte value).
    pub byte_ids: Vec<u32>,
}

/// Ranks are looked up on byte slices without allocating: the map's keys are Vec<u8>, which
/// borrow as [u8].
fn rank_of(ranks: &HashMap<Vec<u8>, u32>, bytes: &[u8]) -> Option<u32> {
    ranks.get(bytes).copied()
}

/// Lowest-rank-first merging by rescanning: returns the parts as boundaries `b[0]=0 < … < b[k]=n`.
pub fn merge_simple(ranks: &HashMap<Vec<u8>, u32>, piece: &[u8]) -> Vec<usize> {
    let mut bounds: Vec<usize> = (0..=piece.len()).collect();
    loop {
        let mut best: Option<(u32, usize)> = None;
        for i in 0..bounds.len().saturating_sub(2) {
            if let Some(r) = rank_of(ranks, &piece[bounds[i]..bounds[i + 2]]) {
                if best.is_none_or(|(br, _)| r < br) {
                    best = Some((r, i));
                }
            }
        }
        match best {
            Some((_, i)) => {
                bounds.remove(i + 1);
            }
            None => return bounds,
        }
    }
}

/// Lowest-rank-first merging with a heap of candidate pairs and a linked list of parts,
/// O(n log n). Returns the same boundaries as [`merge_simple`].
pub fn merge_heap(ranks: &HashMap<Vec<u8>, u32>, piece: &[u8]) -> Vec<usize> {
    let n = piece.len();
    if n < 2 {
        return (0..=n).collect();
    }
    // Part i spans [start[i], start[next[i]]); parts are linked by next/prev; dead parts are skipped.
    let mut start: Vec<usize> = (0..n).collect();
    start.push(n);
    let mut next: Vec<usize> = (1..=n).collect();
    let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
    let mut alive = vec![true; n];
    // Heap entries: (rank, left part index, the pair's byte end at push time) — min-heap by rank,
    // then leftmost. An entry is stale if the left part died or its span changed.
    let mut heap = BinaryHeap::new();
    let pair_end = |i: usize, next: &[usize], start: &[usize]| -> Option<usize> {
        let j = next[i];
        (j < n).then(|| start[next[j]])
    };
    for i in 0..n - 1 {
        if let Some(r) = rank_of(ranks, &piece[i..i + 2]) {
            heap.push(Reverse((r, i, i + 2)));
        }
    }
    while let Some(Reverse((r, i, end))) = heap.pop() {
        if !alive[i] || pair_end(i, &next, &start) != Some(end) {
            continue;
        }
        // Merge part i with its right neighbour j.
        let j = next[i];
        alive[j] = false;
        next[i] = next[j];
        if next[j] < n {
            prev[next[j]] = i;
        }
        let _ = r;
        // New candidates: (prev, i) and (i, next).
        if prev[i] != usize::MAX {
            let p = prev[i];
            let e = start[next[i]];
            if let Some(r) = rank_of(ranks, &piece[start[p]..e]) {
                heap.push(Reverse((r, p, e)));
            }
        }
        if let Some(e) = pair_end(i, &next, &start) {
            if let Some(r) = rank_of(ranks, &piece[start[i]..e]) {
                heap.push(Reverse((r, i, e)));
            }
        }
    }
    let mut bounds = Vec::new();
    let mut i = 0;
    while i < n {
        bounds.push(start[i]);
        i = next[i];
    }
    bounds.push(n);
    bounds
}

/// Pieces longer than this use the heap merge.
const HEAP_THRESHOLD: usize = 64;

/// Pieces longer than this are merged in chunks of at most this many bytes (see the module
/// comment): what bounds the memory of encoding one piece.
pub const MAX_PIECE_BYTES: usize = 1 << 20;

impl Bpe {
    /// A vocabulary from tokens in id order (`tokens[id]`), the first `n_mergeable` of them
    /// mergeable, the rest special (given as text).
    pub fn from_tokens(tokens: Vec<Vec<u8>>, specials: Vec<(String, u32)>) -> Self {
        let special_ids: HashSet<u32> = specials.iter().map(|s| s.1).collect();
        let mut ranks = HashMap::with_capacity(tokens.len());
        let mut byte_ids = vec![u32::MAX; 256];
        for (id, t) in tokens.iter().enumerate() {
            if special_ids.contains(&(id as u32)) {
                continue;
            }
            if t.len() == 1 {
                byte_ids[t[0] as usize] = id as u32;
            }
            ranks.insert(t.clone(), id as u32);
        }
        Bpe {
            ranks,
            tokens,
            specials,
            byte_ids,
        }
    }

    /// Appends the ids of one pre-tokenized piece to `out`; see [`MAX_PIECE_BYTES`].
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        let mut rest = piece;
        while rest.len() > MAX_PIECE_BYTES {
            // Never cut inside a character: back up to a character's first byte.
            let mut cut = MAX_PIECE_BYTES;
            while cut > MAX_PIECE_BYTES - 4 && (rest[cut] & 0xc0) == 0x80 {
                cut -= 1;
            }
            self.encode_chunk(&rest[..cut], out);
            rest = &rest[cut..];
        }
        self.encode_chunk(rest, out);
    }

    fn encode_chunk(&self, piece: &[u8], out: &mut Vec<u32>) {
        if let Some(&id) = self.ranks.get(piece) {
            out.push(id); // whole piece is a token: the common case for frequent words
            return;
        }
        let bounds = if piece.len() > HEAP_THRESHOLD {
            merge_heap(&self.ranks, piece)
        } else {
            merge_simple(&self.ranks, piece)
        };
        for w in bounds.windows(2) {
            let part = &piece[w[0]..w[1]];
            let id = if part.len() == 1 {
                self.byte_ids[part[0] as usize]
            } else {
                self.ranks[part]
            };
            out.push(id);
        }
    }

    /// The bytes of a sequence of ids.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, crate::TokenizerError> {
        let mut out = Vec::new();
        for &id in ids {
            let t = self
                .tokens
                .get(id as usize)
                .ok_or(crate::TokenizerError::UnknownId {
                    id,
                    vocab_size: self.tokens.len(),
                })?;
            out.extend_from_slice(t);
        }
        Ok(out)
    }
}

/// One merge learned by [`train`]: the two symbols and the count of the pair when it was merged.
#[derive(Clone, Debug, PartialEq)]
pub struct Merge {
    pub left: u32,
    pub right: u32,
    pub count: u64,
}

/// Learns `n_merges` merges from pieces with counts. Symbols 0-255 are bytes; merge k creates
/// symbol 256 + k. Returns the merges and the token bytes of every symbol.
pub fn train(pieces: &HashMap<Vec<u8>, u64>, n_merges: usize) -> (Vec<Merge>, Vec<Vec<u8>>) {
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    // Words sorted for determinism.
    let mut words: Vec<(Vec<u32>, u64)> = pieces
        .iter()
        .map(|(p, &c)| (p.iter().map(|&b| b as u32).collect(), c))
        .collect();
    words.sort();
    let mut counts: HashMap<(u32, u32), i64> = HashMap::new();
    let mut where_: HashMap<(u32, u32), HashSet<usize>> = HashMap::new();
    for (wi, (w, c)) in words.iter().enumerate() {
        for p in w.windows(2) {
            *counts.entry((p[0], p[1])).or_default() += *c as i64;
            where_.entry((p[0], p[1])).or_default().insert(wi);
        }
    }
    // Max-heap by count, then smallest pair; stale entries are skipped on pop.
    let mut heap: BinaryHeap<(i64, Reverse<(u32, u32)>)> =
        counts.iter().map(|(&p, &c)| (c, Reverse(p))).collect();
    // No more merges than pairs exist: never reserve for an absurd request.
    let mut merges = Vec::with_capacity(n_merges.min(counts.len()));
    while merges.len() < n_merges {
        let Some((c, Reverse(pair))) = heap.pop() else {
            break;
        };
        if counts.get(&pair).copied().unwrap_or(0) != c || c <= 0 {
            continue;
        }
        let new = tokens.len() as u32;
        let mut bytes = tokens[pair.0 as usize].clone();
        bytes.extend_from_slice(&tokens[pair.1 as usize]);
        tokens.push(bytes);
        merges.push(Merge {
            left: pair.0,
            right: pair.1,
            count: c as u64,
        });
        let affected: Vec<usize> = where_
            .remove(&pair)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        let mut changed: HashSet<(u32, u32)> = HashSet::new();
        for wi in affected {
            let wc = words[wi].1 as i64;
            let w = &mut words[wi].0;
            let mut i = 0;
            let mut out = Vec::with_capacity(w.len());
            // Remove the counts of every pair of the word, rebuild the word, add the new counts.
            for p in w.windows(2) {
                let e = counts.entry((p[0], p[1])).or_default();
                *e -= wc;
                changed.insert((p[0], p[1]));
            }
            while i < w.len() {
                if i + 1 < w.len() && (w[i], w[i + 1]) == pair {
                    out.push(new);
                    i += 2;
                } else {
                    out.push(w[i]);
                    i += 1;
                }
            }
            for p in out.windows(2) {
                *counts.entry((p[0], p[1])).or_default() += wc;
                where_.entry((p[0], p[1])).or_default().insert(wi);
                changed.insert((p[0], p[1]));
            }
            *w = out;
        }
        counts.remove(&pair);
        for p in changed {
            match counts.get(&p) {
                Some(&c) if c > 0 => heap.push((c, Reverse(p))),
                Some(_) => {
                    counts.remove(&p);
                }
                None => {}
            }
        }
    }
    (merges, tokens)
}
