#!/usr/bin/env python3
"""Peer benchmark for `tfs bench transformer`: PyTorch's nn.Transformer on the CPU, same work.

Same model and work as `tfs bench transformer` (crates/bench/src/transformer.rs): the toy
digits-to-words task (sources of 1-10 random digits, targets the number words spelled out in
characters, then EOS), 32 examples per batch padded to the longest, nn.Transformer(d_model=64,
nhead=4, 2 encoder + 2 decoder layers, dim_feedforward=256, dropout=0, ReLU, norm_first=True,
batch_first=True) with source/target/memory key-padding masks and a causal target mask,
embeddings * sqrt(64) + sinusoidal positions, an untied nn.Linear output layer, cross-entropy
over the real target characters, AdamW(1e-3, weight_decay=0.01) with linear warmup (100 steps)
then cosine, gradient-norm clipping at 1. Timed over `--steps` steps after 3 warm-up steps; tokens
are the real (non-padding) target tokens.

Prints one JSON line with the same keys as `tfs bench transformer`.
Usage: python3 bench/peers/torch_transformer.py [--steps N] [--batch N] [--threads N]
"""
import argparse, json, math, os, random, time

import torch
import torch.nn.functional as F

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CHARS = sorted(set("".join(WORDS)) | {" "})
BOS, EOS = len(CHARS), len(CHARS) + 1
TGT_VOCAB = len(CHARS) + 2


def example(rng):
    src = [rng.randrange(10) for _ in range(rng.randint(1, 10))]
    tgt = [CHARS.index(c) for c in " ".join(WORDS[d] for d in src)] + [EOS]
    return src, tgt


def batch(rng, n):
    ex = [example(rng) for _ in range(n)]
    ts, tt = max(len(s) for s, _ in ex), max(len(t) for _, t in ex)
    src = torch.zeros(n, ts, dtype=torch.long)
    tgt_in = torch.zeros(n, tt, dtype=torch.long)
    tgt_out = torch.full((n, tt), -100, dtype=torch.long)
    for i, (s, t) in enumerate(ex):
        src[i, : len(s)] = torch.tensor(s)
        tgt_out[i, : len(t)] = torch.tensor(t)
        tgt_in[i, 0] = BOS
        tgt_in[i, 1 : len(t)] = torch.tensor(t[:-1])
    src_pad = torch.arange(ts)[None] >= torch.tensor([len(s) for s, _ in ex])[:, None]
    tgt_pad = torch.arange(tt)[None] >= torch.tensor([len(t) for _, t in ex])[:, None]
    return src, src_pad, tgt_in, tgt_out, tgt_pad, sum(len(t) for _, t in ex)


def sinusoidal(t, d):
    pos = torch.arange(t, dtype=torch.float32)[:, None]
    freq = 10000 ** (-(torch.arange(d) // 2 * 2).float() / d)
    ang = pos * freq[None]
    return torch.where(torch.arange(d) % 2 == 0, torch.sin(ang), torch.cos(ang))


class Model(torch.nn.Module):
    def __init__(self, d=64, heads=4, ffn=256, layers=2):
        super().__init__()
        self.d = d
        self.src_emb = torch.nn.Embedding(10, d)
        self.tgt_emb = torch.nn.Embedding(TGT_VOCAB, d)
        for e in (self.src_emb, self.tgt_emb):
            torch.nn.init.normal_(e.weight, std=d ** -0.5)
        self.tf = torch.nn.Transformer(d, heads, layers, layers, ffn, dropout=0.0,
                                       batch_first=True, norm_first=True)
        self.out = torch.nn.Linear(d, TGT_VOCAB)
        self.register_buffer("pe", sinusoidal(128, d))

    def forward(self, src, src_pad, tgt_in, tgt_pad):
        s = self.src_emb(src) * math.sqrt(self.d) + self.pe[: src.shape[1]]
        t = self.tgt_emb(tgt_in) * math.sqrt(self.d) + self.pe[: tgt_in.shape[1]]
        causal = torch.nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1])
        h = self.tf(s, t, tgt_mask=causal, src_key_padding_mask=src_pad,
                    tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad, tgt_is_causal=True)
        return self.out(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    m = Model()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
    total = args.steps + 3
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / 100 if s < 100 else 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * (s - 100) / max(1, total - 100))))

    def step():
        src, src_pad, tgt_in, tgt_out, tgt_pad, n = batch(rng, args.batch)
        logits = m(src, src_pad, tgt_in, tgt_pad)
        loss = F.cross_entropy(logits.reshape(-1, TGT_VOCAB), tgt_out.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        sched.step()
        return loss.item(), n

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    tokens, loss = 0, None
    for _ in range(args.steps):
        loss, n = step()
        tokens += n
    secs = time.perf_counter() - t0
    print(json.dumps({
        "impl": f"pytorch {torch.__version__}",
        "threads": args.threads,
        "d": 64, "heads": 4, "ffn": 256, "layers": 2,
        "batch": args.batch, "steps": args.steps,
        "tokens_per_s": tokens / secs,
        "steps_per_s": args.steps / secs,
        "final_loss": loss,
    }))


if __name__ == "__main__":
    main()
