//! The bounded fuzz run of the data loaders (issue 17): IDX files raw and gzip, and text corpora,
//! mutated by `fuzz/mutate.rs` from fixed seeds. Every read must return, never panic; an array
//! that loads must be exactly what its bytes say (it encodes back to the same raw bytes), and
//! text that loads must be the file's bytes. A few seconds in release; `cargo fuzz` runs the
//! long ones.

use crate::gz;
use crate::mutate::{for_each_systematic, mutate, Kind, Rng};
use std::path::Path;
use std::time::Instant;
use tfs_data::idx::{encode_idx, parse_idx_file, IdxArray};
use tfs_data::text::text_from_bytes;

fn seeds() -> Vec<Vec<u8>> {
    let arr = |dims: Vec<usize>| {
        let n = dims.iter().product();
        encode_idx(&IdxArray {
            dims,
            data: (0..n).map(|i| (i * 7 % 251) as u8).collect(),
        })
    };
    vec![arr(vec![3, 4, 5]), arr(vec![10]), arr(vec![2, 1, 1, 3])]
}

/// Parses a raw IDX file; panics if a loaded array is not exactly the file's contents.
fn check_raw(bytes: &[u8]) {
    if let Ok(a) = parse_idx_file(bytes, Path::new("fuzz.idx")) {
        assert_eq!(encode_idx(&a), bytes, "loaded {:?}", a.dims);
    }
}

/// Parses a gzip IDX file; a loaded array must be the decompressed `raw` it was made from
/// (when the compressed bytes are intact) or at least consistent.
fn check_gz(z: &[u8], raw: Option<&[u8]>) {
    if let Ok(a) = parse_idx_file(z, Path::new("fuzz.idx.gz")) {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        if let Some(raw) = raw {
            assert_eq!(encode_idx(&a), raw);
        }
    }
}

#[test]
fn idx_files_survive_mutation() {
    let t0 = Instant::now();
    let mut n = 0;
    for (k, seed) in seeds().iter().enumerate() {
        for_each_systematic(seed, Kind::Idx, 1, &mut |v| {
            check_raw(v);
            check_gz(&gz(v), Some(v));
            n += 2;
        });
        // Truncation at every byte, raw and compressed.
        let z = gz(seed);
        for cut in 0..seed.len() {
            check_raw(&seed[..cut]);
            n += 1;
        }
        for cut in 0..z.len() {
            check_gz(&z[..cut], None);
            n += 1;
        }
        let mut rng = Rng::new(1000 + k as u64);
        for _ in 0..200_000 {
            let v = mutate(seed, Kind::Idx, &mut rng);
            check_raw(&v);
            n += 1;
        }
        for _ in 0..20_000 {
            // Structure-aware edits under a valid gzip layer, and raw edits of the gzip bytes.
            let v = mutate(seed, Kind::Idx, &mut rng);
            check_gz(&gz(&v), Some(&v));
            check_gz(&mutate(&z, Kind::Lines, &mut rng), None);
            n += 2;
        }
    }
    eprintln!("IDX: {n} inputs in {:.1}s", t0.elapsed().as_secs_f64());
}

#[test]
fn text_corpora_survive_mutation() {
    let seed = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll: 🙂 ünï\n";
    let mut rng = Rng::new(7);
    for _ in 0..50_000 {
        let v = mutate(seed.as_bytes(), Kind::Lines, &mut rng);
        match text_from_bytes(v.clone(), Path::new("input.txt")) {
            Ok(t) => assert_eq!(t.as_bytes(), &v[..]),
            Err(e) => {
                let at = std::str::from_utf8(&v).unwrap_err().valid_up_to();
                assert!(e.to_string().contains(&format!("(byte {at})")), "{e}");
            }
        }
    }
}
