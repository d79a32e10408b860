//! Token shards and `prepare`: round trips against direct encoding, the split, determinism across
//! thread counts, the three input formats, malformed inputs and corrupt shards.

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tfs_gpt::data::{CharVocab, Split};
use tfs_gpt::inputs::Where;
use tfs_gpt::prepare::{prepare, PrepareOptions};
use tfs_gpt::shards::{open, Header, Tokens, HEADER_BYTES};
use tfs_gpt::vocab::{gpt2, GPT2_EOT};

/// A fresh temporary folder for one test.
fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tfs-shards-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The first `n` bytes of Tiny Shakespeare (from `$TFS_DATA_DIR`), else a made-up text of many
/// lines, cut on a character boundary.
fn shakespeare(n: usize) -> String {
    let real = std::env::var_os("TFS_DATA_DIR").and_then(|d| {
        std::fs::read_to_string(Path::new(&d).join("tinyshakespeare/input.txt")).ok()
    });
    let text = real.unwrap_or_else(|| {
        eprintln!("note: no TFS_DATA_DIR/tinyshakespeare; using a made-up text");
        (0..3000)
            .map(|i| format!("LINE {i}:\nThe king's  {i} men, thou'lt see -- 'tis  well?\n\n  Indented   text\t{}\n", i * 7))
            .collect()
    });
    let mut end = n.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn opts() -> PrepareOptions {
    PrepareOptions {
        threads: 2,
        ..PrepareOptions::default()
    }
}

fn gpt2_ids(text: &str) -> Vec<usize> {
    gpt2()
        .unwrap()
        .encode_ordinary(text)
        .into_iter()
        .map(|i| i as usize)
        .collect()
}

/// Every file of a directory, sorted, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn gpt2_prepare_round_trips_tiny_shakespeare() {
    let d = temp("gpt2-rt");
    let text = shakespeare(50_000);
    let input = d.join("input.txt");
    std::fs::write(&input, &text).unwrap();
    let out = d.join("ts");
    // Small pieces and shards: the text is cut many times and spans many shards.
    let o = PrepareOptions {
        chunk_bytes: 700,
        shard_tokens: 1000,
        ..opts()
    };
    let r = prepare(&[input], "gpt2", &out, &o).unwrap();
    let mut want = vec![GPT2_EOT as usize];
    want.extend(gpt2_ids(&text));
    let p = open(&out).unwrap();
    let mut got = p.train.to_vec();
    got.extend(p.val.to_vec());
    assert_eq!(got, want, "EOT, then exactly the direct encoding");
    let n = want.len();
    assert_eq!(
        p.train.len(),
        n * 9 / 10,
        "the last 10% of tokens is validation"
    );
    assert_eq!((r.train_tokens + r.val_tokens) as usize, n);
    assert_eq!(r.documents, 1);
    assert_eq!(p.vocab.name(), "gpt2");
    assert_eq!(p.meta["vocab_size"], 50257);
    assert_eq!(p.meta["splits"]["train"]["tokens"], r.train_tokens);
    assert_eq!(p.train.shards(), (p.train.len()).div_ceil(1000));
    assert_eq!(r.train_shards, p.train.shards());
    assert!(!d.join(format!("ts.tmp-{}", std::process::id())).exists());
    // Tokens::copy across a shard boundary, and at the very end.
    let mut w = Vec::new();
    p.train.copy(995, 10, &mut w);
    assert_eq!(w, want[995..1005]);
    w.clear();
    p.val.copy(p.val.len() - 3, 3, &mut w);
    assert_eq!(w, want[n - 3..]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn char_prepare_matches_phase7_split() {
    let d = temp("char");
    let text = shakespeare(30_000);
    let input = d.join("a.txt");
    std::fs::write(&input, &text).unwrap();
    let out = d.join("c");
    prepare(
        &[input],
        "char",
        &out,
        &PrepareOptions {
            shard_tokens: 4096,
            chunk_bytes: 100,
            ..opts()
        },
    )
    .unwrap();
    let p = open(&out).unwrap();
    let v = CharVocab::from_text(&text);
    assert_eq!(p.vocab.to_json(), tfs_gpt::Vocab::Char(v.clone()).to_json());
    let split = Split::new(v.encode(&text).unwrap(), 8).unwrap();
    assert_eq!(p.train.to_vec(), split.train);
    assert_eq!(p.val.to_vec(), split.val);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn output_bytes_do_not_depend_on_the_thread_count() {
    let d = temp("threads");
    let a = d.join("a.txt");
    std::fs::write(&a, shakespeare(40_000)).unwrap();
    let b = d.join("b.jsonl");
    let docs: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "{{\"text\": \"Document {i}: {}\"}}",
                "words and more ".repeat(i % 17)
            )
        })
        .collect();
    std::fs::write(&b, docs.join("\n")).unwrap();
    let mut outs = Vec::new();
    for threads in [1, 2, 3] {
        let out = d.join(format!("t{threads}"));
        let o = PrepareOptions {
            threads,
            chunk_bytes: 500,
            shard_tokens: 3000,
            ..PrepareOptions::default()
        };
        prepare(&[a.clone(), b.clone()], "gpt2", &out, &o).unwrap();
        outs.push(files(&out));
    }
    assert!(outs[0].len() > 4, "several shards: {}", outs[0].len());
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
    std::fs::remove_dir_all(&d).ok();
}

/// A Parquet file with a `text` column declared as `text_type` (and an `id` before it) holding
/// `docs`, snappy-compressed, in `row_groups` row groups.
fn write_parquet(path: &Path, docs: &[&str], text_type: &str, row_groups: usize) {
    write_parquet_with(path, docs, text_type, row_groups, Compression::SNAPPY)
}

fn write_parquet_with(
    path: &Path,
    docs: &[&str],
    text_type: &str,
    row_groups: usize,
    codec: Compression,
) {
    let schema = Arc::new(
        parse_message_type(&format!(
            "message doc {{ REQUIRED INT32 id; {text_type}; }}"
        ))
        .unwrap(),
    );
    let props = Arc::new(WriterProperties::builder().set_compression(codec).build());
    let mut w =
        SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let per = docs.len().div_ceil(row_groups);
    for (g, group) in docs.chunks(per.max(1)).enumerate() {
        let mut rg = w.next_row_group().unwrap();
        let mut c = rg.next_column().unwrap().unwrap();
        let ids: Vec<i32> = (0..group.len() as i32)
            .map(|i| i + (g * per) as i32)
            .collect();
        c.typed::<parquet::data_type::Int32Type>()
            .write_batch(&ids, None, None)
            .unwrap();
        c.close().unwrap();
        let mut c = rg.next_column().unwrap().unwrap();
        let vals: Vec<ByteArray> = group.iter().map(|s| ByteArray::from(*s)).collect();
        let defs = vec![1i16; group.len()];
        let optional = text_type.starts_with("OPTIONAL");
        c.typed::<ByteArrayType>()
            .write_batch(&vals, optional.then_some(&defs[..]), None)
            .unwrap();
        c.close().unwrap();
        rg.close().unwrap();
    }
    w.close().unwrap();
}

#[test]
fn text_jsonl_and_parquet_give_the_same_tokens() {
    let d = temp("formats");
    let docs = [
        "First story.\nIt has two lines.",
        "Second: \"quoted\", tabs\tand ünïcödé 🙂.",
        "  leading spaces and a literal <|endoftext|> inside",
        "Last one\n\n",
    ];
    let txt = d.join("docs.txt");
    std::fs::write(&txt, docs.join("\n<|endoftext|>\n") + "\n<|endoftext|>\n").unwrap();
    let jsonl = d.join("docs.jsonl");
    let lines: Vec<String> = docs
        .iter()
        .map(|t| serde_json::json!({"id": 1, "text": t}).to_string())
        .collect();
    std::fs::write(&jsonl, lines.join("\n") + "\n\n").unwrap();
    let pq = d.join("docs.parquet");
    write_parquet(&pq, &docs, "OPTIONAL BYTE_ARRAY text (UTF8)", 3);
    let mut inputs = vec![txt, jsonl, pq];
    if cfg!(not(target_os = "macos")) {
        let z = d.join("docs-zstd.parquet");
        let codec = Compression::ZSTD(Default::default());
        write_parquet_with(&z, &docs, "REQUIRED BYTE_ARRAY text (STRING)", 1, codec);
        inputs.push(z);
    }
    let mut want = Vec::new();
    for t in docs {
        want.push(GPT2_EOT as usize);
        want.extend(gpt2_ids(t));
    }
    for (i, input) in inputs.into_iter().enumerate() {
        let out = d.join(format!("o{i}"));
        let r = prepare(
            std::slice::from_ref(&input),
            "gpt2",
            &out,
            &PrepareOptions {
                val_fraction: 0.0,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(r.documents, 4, "{}", input.display());
        let p = open(&out).unwrap();
        assert_eq!(p.train.to_vec(), want, "{}", input.display());
        assert!(p.val.is_empty());
    }
    std::fs::remove_dir_all(&d).ok();
}

/// Prepares `input`, expecting an error; checks that no output (nor temporary) directory is left.
fn prepare_err(d: &Path, input: &Path, tokenizer: &str) -> tfs_gpt::inputs::PrepareError {
    let out = d.join("out");
    let e = prepare(&[input.to_path_buf()], tokenizer, &out, &opts()).unwrap_err();
    assert!(!out.exists(), "{e}: an output directory was left");
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{e}: a temporary directory was left");
    e
}

#[test]
fn malformed_inputs_name_the_file_and_the_place() {
    let d = temp("malformed");
    let bad = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // Invalid UTF-8 deep in a text file (past the first batch, so output has begun).
    let mut t = "hello world\n".repeat(200_000).into_bytes();
    let at = t.len() - 5;
    t[at] = 0xff;
    let p = bad("bad.txt", &t);
    for tok in ["gpt2", "char"] {
        let e = prepare_err(&d, &p, tok);
        assert_eq!(e.at, Where::Byte(at as u64), "{e}");
        assert!(
            e.to_string().contains("bad.txt") && e.to_string().contains("UTF-8"),
            "{e}"
        );
    }
    // JSON Lines: broken JSON, missing or non-string text, not an object, bad UTF-8.
    for (body, line, what) in [
        (&b"{\"text\": \"a\"}\n{\"text\": \"b\"\n"[..], 2, "not JSON"),
        (b"{\"text\": \"a\"}\n\n{\"txt\": \"b\"}\n", 3, "no \"text\""),
        (b"{\"text\": 5}\n", 1, "a number, not a string"),
        (b"[1, 2]\n", 1, "not a JSON object"),
    ] {
        let e = prepare_err(&d, &bad("bad.jsonl", body), "gpt2");
        assert_eq!(e.at, Where::Line(line), "{e}");
        assert!(
            e.to_string().contains("bad.jsonl") && e.to_string().contains(what),
            "{e}"
        );
    }
    let e = prepare_err(
        &d,
        &bad(
            "bad.json",
            b"{\"text\": \"ok\"}\n{\"text\": \"\xc3\x28\"}\n",
        ),
        "gpt2",
    );
    assert_eq!(e.at, Where::Byte(25), "{e}");
    assert!(e.to_string().contains("line 2"), "{e}");
    // Parquet: no text column, a non-string one, a null, and not Parquet at all.
    let pq = d.join("bad.parquet");
    let schema = Arc::new(parse_message_type("message m { REQUIRED BYTE_ARRAY body; }").unwrap());
    let mut w = SerializedFileWriter::new(
        std::fs::File::create(&pq).unwrap(),
        schema,
        Default::default(),
    )
    .unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut c = rg.next_column().unwrap().unwrap();
    c.typed::<ByteArrayType>()
        .write_batch(&[ByteArray::from("x")], None, None)
        .unwrap();
    c.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
    let e = prepare_err(&d, &pq, "gpt2");
    assert!(
        e.to_string().contains("no \"text\" column (columns: body)"),
        "{e}"
    );
    let schema = Arc::new(
        parse_message_type("message m { REQUIRED INT64 text; REQUIRED INT32 n; }").unwrap(),
    );
    let mut w = SerializedFileWriter::new(
        std::fs::File::create(&pq).unwrap(),
        schema,
        Default::default(),
    )
    .unwrap();
    let mut rg = w.next_row_group().unwrap();
    while let Some(mut c) = rg.next_column().unwrap() {
        match c.untyped() {
            parquet::column::writer::ColumnWriter::Int64ColumnWriter(t) => {
                t.write_batch(&[1], None, None).unwrap();
            }
            parquet::column::writer::ColumnWriter::Int32ColumnWriter(t) => {
                t.write_batch(&[1], None, None).unwrap();
            }
            _ => unreachable!(),
        }
        c.close().unwrap();
    }
    rg.close().unwrap();
    w.close().unwrap();
    let e = prepare_err(&d, &pq, "gpt2");
    assert!(
        e.to_string()
            .contains("column \"text\" is INT64, not a string (columns: text, n)"),
        "{e}"
    );
    let docs: Vec<&str> = vec!["a"; 10];
    write_parquet(&pq, &docs, "OPTIONAL BYTE_ARRAY text (UTF8)", 2);
    // Rewrite with a null in row 7 (second row group, rows 5-9).
    let schema =
        Arc::new(parse_message_type("message m { OPTIONAL BYTE_ARRAY text (UTF8); }").unwrap());
    let mut w = SerializedFileWriter::new(
        std::fs::File::create(&pq).unwrap(),
        schema,
        Default::default(),
    )
    .unwrap();
    for g in 0..2 {
        let mut rg = w.next_row_group().unwrap();
        let mut c = rg.next_column().unwrap().unwrap();
        let defs: Vec<i16> = (0..5)
            .map(|i| if g == 1 && i == 2 { 0 } else { 1 })
            .collect();
        let n = defs.iter().filter(|&&x| x == 1).count();
        c.typed::<ByteArrayType>()
            .write_batch(&vec![ByteArray::from("t"); n], Some(&defs), None)
            .unwrap();
        c.close().unwrap();
        rg.close().unwrap();
    }
    w.close().unwrap();
    let e = prepare_err(&d, &pq, "gpt2");
    assert_eq!(
        e.at,
        Where::Row {
            row_group: 1,
            row: 7
        },
        "{e}"
    );
    let e = prepare_err(&d, &bad("junk.parquet", b"PAR1 not really"), "gpt2");
    assert!(
        e.to_string().contains("junk.parquet") && e.to_string().contains("Parquet"),
        "{e}"
    );
    // Unknown extension, unknown tokenizer, an existing folder that is not ours.
    let e = prepare_err(&d, &bad("data.csv", b"a,b\n"), "gpt2");
    assert!(
        e.to_string().contains("data.csv") && e.to_string().contains("unknown input type"),
        "{e}"
    );
    let e = prepare_err(&d, &bad("ok.txt", b"fine"), "bpe");
    assert!(e.to_string().contains("unknown tokenizer"), "{e}");
    let mine = d.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("precious.txt"), "keep me").unwrap();
    let e = prepare(&[d.join("ok.txt")], "gpt2", &mine, &opts()).unwrap_err();
    assert!(e.to_string().contains("not replacing"), "{e}");
    assert!(mine.join("precious.txt").exists());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn corrupt_shards_are_errors_not_panics() {
    let d = temp("corrupt");
    let input = d.join("a.txt");
    std::fs::write(&input, "abcabcabd ".repeat(100)).unwrap();
    let out = d.join("s");
    let o = PrepareOptions {
        shard_tokens: 300,
        ..opts()
    };
    prepare(std::slice::from_ref(&input), "char", &out, &o).unwrap();
    let shard = out.join("train_000001.bin");
    let good = std::fs::read(&shard).unwrap();
    assert_eq!(Header::parse(&good, &shard).unwrap().count, 300);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            {
                let mut b = good.clone();
                b[0] = b'X';
                b
            },
            "magic",
        ),
        (good[..40].to_vec(), "too short"),
        (
            good[..good.len() - 2].to_vec(),
            "the header counts 300 tokens",
        ),
        (
            {
                let mut b = good.clone();
                b[8] = 9;
                b
            },
            "format version 9",
        ),
        (
            {
                let mut b = good.clone();
                b[16] = 200;
                b
            },
            "the header counts",
        ),
        (
            {
                let mut b = good.clone();
                b.extend_from_slice(&[0, 0]);
                b
            },
            "the header counts",
        ),
        (
            {
                let mut b = good.clone();
                b[HEADER_BYTES + 10] = 99;
                b
            },
            "outside the vocabulary",
        ),
        (
            {
                let mut b = good.clone();
                b[33] = b'x';
                b
            },
            "meta.json",
        ),
    ];
    for (bytes, what) in cases {
        std::fs::write(&shard, &bytes).unwrap();
        let e = open(&out).unwrap_err().to_string();
        assert!(
            e.contains("train_000001.bin") && e.contains(what),
            "{what}: {e}"
        );
    }
    std::fs::write(&shard, &good).unwrap();
    open(&out).unwrap();
    // meta.json itself: missing shard, wrong total, not ours.
    let meta = std::fs::read_to_string(out.join("meta.json")).unwrap();
    std::fs::write(
        out.join("meta.json"),
        meta.replace("train_000002.bin", "../x.bin"),
    )
    .unwrap();
    assert!(open(&out)
        .unwrap_err()
        .to_string()
        .contains("bad shard entry"));
    std::fs::write(out.join("meta.json"), "{}").unwrap();
    assert!(open(&out).unwrap_err().to_string().contains("meta.json"));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn tokens_copy_spans_shards_and_empty_splits() {
    let t = Tokens::from_vec((0..10).collect());
    let mut out = vec![99];
    t.copy(3, 4, &mut out);
    assert_eq!(out, [99, 3, 4, 5, 6]);
    t.copy(10, 0, &mut out);
    assert_eq!(out.len(), 5);
    // Prepared with 7-token shards and no validation: every window equals the slice.
    let d = temp("copy");
    let input = d.join("a.txt");
    let text = "the quick brown fox jumps over the lazy dog ".repeat(20);
    std::fs::write(&input, &text).unwrap();
    let o = PrepareOptions {
        shard_tokens: 7,
        val_fraction: 0.0,
        ..opts()
    };
    prepare(&[input], "char", &d.join("s"), &o).unwrap();
    let p = open(&d.join("s")).unwrap();
    let all = p.train.to_vec();
    assert_eq!(all.len(), text.chars().count());
    assert_eq!(p.train.shards(), all.len().div_ceil(7));
    assert_eq!(p.val.len(), 0);
    for pos in 0..30 {
        for n in [0, 1, 6, 7, 8, 15] {
            let mut w = Vec::new();
            p.train.copy(pos, n, &mut w);
            assert_eq!(w, all[pos..pos + n], "{pos} {n}");
        }
    }
    std::fs::remove_dir_all(&d).ok();
}
