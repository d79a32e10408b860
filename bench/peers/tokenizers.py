#!/usr/bin/env python3
"""Peer benchmark for `tfs bench tokenizer`: tiktoken (GPT-2 encoding) and HF tokenizers (BPE
training) on Tiny Shakespeare, with the same keys as `tfs bench tokenizer`.

* encode_mb_per_s_1thread: tiktoken r50k_base `encode_ordinary` on the whole text, best of 5.
* encode_mb_per_s_all_threads: `encode_ordinary_batch` over the same 64 line-aligned chunks as
  ours, num_threads = cores, best of 5.
* train_seconds: HF tokenizers' BPE trainer with the byte-level pre-tokenizer (GPT-2's split and
  byte alphabet) to the same vocabulary size, best of 3 (it uses all cores).

Dev-time only: pip install tiktoken tokenizers. tiktoken's vocabulary is seeded offline from the
copy in the tiktoken-rs crate (see fixtures/gen/gpt2_fixtures.py).
Usage: python3 bench/peers/tokenizers.py [--data-dir DIR] [--vocab-size N]
"""
import argparse, glob, hashlib, json, os, shutil, sys, tempfile, time

# This file is named like the HF package it benchmarks: drop its own folder from the import path.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

URL = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"


def chunks(text, n):
    target = len(text.encode()) // n + 1
    out, data, start = [], text.encode(), 0
    while start < len(data):
        end = min(start + target, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end += 1
        nl = data.find(b"\n", end)
        end = len(data) if nl < 0 else nl + 1
        out.append(data[start:end].decode())
        start = end
    return out


def best(reps, f):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("TFS_DATA_DIR", "data"))
    ap.add_argument("--vocab-size", type=int, default=8192)
    args = ap.parse_args()
    assets = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/tiktoken-rs-*/assets")))[-1]
    cache = tempfile.mkdtemp()
    shutil.copy(os.path.join(assets, "r50k_base.tiktoken"), os.path.join(cache, hashlib.sha1(URL.encode()).hexdigest()))
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    import tiktoken
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    text = open(os.path.join(args.data_dir, "tinyshakespeare", "input.txt"), encoding="utf-8").read()
    mb = len(text.encode()) / 1e6
    enc = tiktoken.get_encoding("r50k_base")
    n_tokens = len(enc.encode_ordinary(text))
    one = best(5, lambda: enc.encode_ordinary(text))
    docs = chunks(text, 64)
    threads = os.cpu_count()
    allt = best(5, lambda: enc.encode_ordinary_batch(docs, num_threads=threads))

    def train():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tr = trainers.BpeTrainer(vocab_size=args.vocab_size, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator([text], trainer=tr)

    tr = best(3, train)
    print(json.dumps({
        "impl": f"tiktoken {tiktoken.__version__} / tokenizers {__import__('tokenizers').__version__}",
        "threads": threads,
        "corpus_mb": mb,
        "gpt2_tokens": n_tokens,
        "encode_mb_per_s_1thread": mb / one,
        "encode_mb_per_s_all_threads": mb / allt,
        "train_vocab_size": args.vocab_size,
        "train_seconds": tr,
    }))


if __name__ == "__main__":
    main()
