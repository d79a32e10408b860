#!/bin/sh
# Seeds fuzz/corpus/TARGET/ for the cargo-fuzz targets from what the machine already has: the
# data folder ($TFS_DATA_DIR, MNIST and Tiny Shakespeare), GPT-2's files ($TFS_GPT2_DIR or
# tiktoken-rs's assets) and the release tfs binary (tokenizer models). Small files only; the
# corpora are generated, never committed (fuzz/.gitignore).
set -eu
cd "$(dirname "$0")"
data=${TFS_DATA_DIR:-../../shared/data}
tfs=${TFS_BIN:-../target/release/tfs}
gpt2=${TFS_GPT2_DIR:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tiktoken-rs-*/assets | tail -n 1)}
mkdir -p corpus/idx corpus/text corpus/tokenizer_model corpus/gpt2_tiktoken corpus/gpt2_encoder corpus/safetensors corpus/shard
# IDX: MNIST's test labels (gzip, 4.5 KB) and small raw arrays of rank 1 and 3.
cp "$data/mnist/t10k-labels-idx1-ubyte.gz" corpus/idx/labels.gz && chmod 644 corpus/idx/labels.gz
printf '\000\000\010\001\000\000\000\003\001\002\003' > corpus/idx/rank1
printf '\000\000\010\003\000\000\000\001\000\000\000\002\000\000\000\002abcd' > corpus/idx/rank3
gzip -c corpus/idx/rank3 > corpus/idx/rank3.gz
# Text: the start of Tiny Shakespeare.
head -c 2000 "$data/tinyshakespeare/input.txt" > corpus/text/shakespeare
printf 'caf\303\251 \360\237\231\202 <|x|>\n' > corpus/text/unicode
# Tokenizer models of every kind, trained by tfs.
head -c 3000 "$data/tinyshakespeare/input.txt" > /tmp/tfs-fuzz-seed.txt
"$tfs" tokenizer train --input /tmp/tfs-fuzz-seed.txt --vocab-size 300 --special '<|x|>' --out corpus/tokenizer_model/bpe.tok
"$tfs" tokenizer train --input /tmp/tfs-fuzz-seed.txt --kind char --out corpus/tokenizer_model/char.tok
"$tfs" tokenizer train --input /tmp/tfs-fuzz-seed.txt --kind word --out corpus/tokenizer_model/word.tok
rm /tmp/tfs-fuzz-seed.txt
# GPT-2: the first 300 lines of the tiktoken file; the first 300 merges with an encoder.json of
# the 556 tokens they make (both too small to load: the fuzzer explores the parsers, the in-suite
# fuzz test mutates the full files).
head -n 300 "$gpt2/r50k_base.tiktoken" > corpus/gpt2_tiktoken/head
{ jq -c 'to_entries | sort_by(.value) | .[:556] | from_entries' "$gpt2/encoder.json" | tr -d '\n'
  printf '\000'; head -n 301 "$gpt2/vocab.bpe"; } > corpus/gpt2_encoder/head
# safetensors: the checkpoint of a tiny GPT trained for one iteration by tfs.
head -c 3000 "$data/tinyshakespeare/input.txt" > /tmp/tfs-fuzz-gpt.txt
"$tfs" gpt train --data /tmp/tfs-fuzz-gpt.txt --out /tmp/tfs-fuzz-gpt --max-iters 1 \
  --set n_layer=1 --set n_embd=8 --set n_head=2 --set block_size=8 --set eval_iters=1 >/dev/null
cp /tmp/tfs-fuzz-gpt/checkpoint/model.safetensors corpus/safetensors/tiny.safetensors
rm -r /tmp/tfs-fuzz-gpt /tmp/tfs-fuzz-gpt.txt
# Token shards: Tiny Shakespeare's first 3000 bytes prepared by tfs, char-level, 500-token shards.
head -c 3000 "$data/tinyshakespeare/input.txt" > /tmp/tfs-fuzz-shard.txt
"$tfs" gpt prepare --tokenizer char --shard-tokens 500 --out /tmp/tfs-fuzz-shard /tmp/tfs-fuzz-shard.txt >/dev/null
cp /tmp/tfs-fuzz-shard/train_000000.bin corpus/shard/train.bin
cp /tmp/tfs-fuzz-shard/val_000000.bin corpus/shard/val.bin
rm -r /tmp/tfs-fuzz-shard /tmp/tfs-fuzz-shard.txt
echo "seeded: $(ls corpus/* | wc -l) entries in $(pwd)/corpus"
