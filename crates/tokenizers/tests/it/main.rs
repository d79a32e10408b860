//! Integration tests of tfs-tokenizers, against tiktoken (the `tiktoken-rs` crate and committed
//! fixtures from Python's tiktoken) and a regex engine.

mod bpe;
mod files;
mod fuzz;
mod gpt2;
mod hostile;
#[path = "../../../../fuzz/mutate.rs"]
mod mutate;
mod simple;

/// Text that exercises every branch of GPT-2's pre-tokenizer and the byte-level BPE.
pub fn varied_corpus() -> Vec<String> {
    let mut v: Vec<String> = [
        "Hello, world! It's a test: don't, won't, we'll, I'm, they've, she'd, you're.",
        "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n",
        "fn main() {\n    let x = vec![1, 2, 3];\n    println!(\"{:?}\", x.iter().sum::<i32>());\n}\n",
        "https://example.com/path?query=1&b=two#frag mailto:someone@example.org",
        "3.14159 2,718,281 0x1F 1e-9 -42 12345678901234567890 ½ ² ٣",
        "emoji: 🤖🚀👩‍👩‍👧 flags 🇫🇷 skin 👍🏽",
        "中文文本，日本語のテキスト、한국어 텍스트。",
        "tabs\tand\t\tspaces     and\n\n\n   newlines   \r\n end   ",
        "<|endoftext|>between<|endoftext|> <|endoftext|>\n",
        "'s 'S ''s 'll've ' d '\n'x",
        "Ünïcödé façade naïve café — “quotes” ‘single’ … ← →",
        "                                                                 x",
        "",
        " ",
        "\n",
        "a",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("ab".repeat(2000));
    v.push("x".repeat(1000) + " " + &"🙂".repeat(300));
    v
}

/// Random strings mixing ASCII, whitespace, accents, CJK, emoji and specials' pieces.
pub fn random_strings(n: usize, seed: u64) -> Vec<String> {
    let alphabet: Vec<char> = "abcXYZ019 \t\n\r'.,!?-_<|>éüß中文한🙂🚀\u{200d}\u{301}"
        .chars()
        .collect();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    (0..n)
        .map(|_| {
            let len = next() % 40;
            (0..len)
                .map(|_| alphabet[next() % alphabet.len()])
                .collect()
        })
        .collect()
}
