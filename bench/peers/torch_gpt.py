#!/usr/bin/env python3
"""Peer benchmark for `tfs bench gpt`: the same character-level GPT trained by PyTorch on the CPU.

Same model, data, optimiser, schedule and evaluation as `tfs bench gpt` (crates/bench/src/gpt.rs,
which runs tfs-gpt's training loop): Tiny Shakespeare's characters (sorted vocabulary, the first
90% for training, the rest for validation), random windows of block_size + 1 characters as
batches; a decoder-only transformer with learned positions, pre-norm blocks (layer norm with bias,
causal self-attention through one fused QKV projection, a 4x MLP with tanh-GELU), a final layer
norm and an output layer tied to the token embedding; GPT-2's init (N(0, 0.02), residual
projections N(0, 0.02/sqrt(2 n_layer))); AdamW with weight decay on matrices only, linear warmup
then cosine decay to min_lr, gradient clipping at 1. The losses reported are the mean
cross-entropy over eval_iters fixed batches of each split, in eval mode, every eval_interval
iterations and at the end (the evaluations are inside the timed wall clock, as in ours).

Presets: baby (nanoGPT's CPU Shakespeare run: 4 layers, 4 heads, 128 wide, context 64, batch 12,
lr 1e-3, betas 0.9/0.99, decay 0.1, warmup 100, cosine to 1e-4 over 2000 iterations),
shakespeare-char (6/6/384, context 256, batch 64, dropout 0.2), and gpt2-124m (GPT-2 Small:
12/12/768, vocabulary 50257, dropout 0.1, betas 0.9/0.95, lr 6e-4) on Tiny Shakespeare's GPT-2
tokens (tiktoken) for a few steps: its tokens_per_s is over the steps after the first, and it
reports peak_rss_mb (the process's peak resident memory), like `tfs bench gpt --preset gpt2-124m`.

Prints one JSON line with the same keys as `tfs bench gpt`.
Usage: python3 bench/peers/torch_gpt.py [--preset baby] [--iters N] [--batch B] [--ctx T]
       [--eval-iters N] [--data-dir DIR] [--threads N]
"""
import argparse, json, math, os, resource, time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "baby": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, lr=1e-3, beta2=0.99,
                 dropout=0.0, max_iters=2000),
    "shakespeare-char": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, lr=1e-3,
                             beta2=0.99, dropout=0.2, max_iters=5000),
    "gpt2-124m": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=8, lr=6e-4,
                      beta2=0.95, dropout=0.1, max_iters=6, warmup=2, eval_iters=1),
}


class Block(nn.Module):
    def __init__(self, c, h, p):
        super().__init__()
        self.h, self.p = h, p
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.c_attn, self.attn_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.c_fc, self.mlp_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.drop(self.attn_proj(y.transpose(1, 2).reshape(b, t, c)))
        return x + self.drop(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, v, cfg):
        super().__init__()
        c, L = cfg["n_embd"], cfg["n_layer"]
        self.wte, self.wpe = nn.Embedding(v, c), nn.Embedding(cfg["block_size"], c)
        self.h = nn.ModuleList(Block(c, cfg["n_head"], cfg["dropout"]) for _ in range(L))
        self.ln_f, self.drop = nn.LayerNorm(c), nn.Dropout(cfg["dropout"])
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L))
            elif p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(t)))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="baby", choices=sorted(PRESETS))
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--eval-interval", type=int, default=250)
    ap.add_argument("--eval-iters", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--ctx", type=int, default=None)
    ap.add_argument("--data-dir", default=os.environ.get("TFS_DATA_DIR", "data"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--history", action="store_true",
                    help="add evals: [step, seconds, train, val] at every evaluation")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = dict(PRESETS[a.preset])
    cfg["batch_size"] = a.batch or cfg["batch_size"]
    cfg["block_size"] = a.ctx or cfg["block_size"]
    a.eval_iters = a.eval_iters or cfg.get("eval_iters", 20)
    bpe = a.preset == "gpt2-124m"
    iters = a.iters or cfg["max_iters"]
    text = open(os.path.join(a.data_dir, "tinyshakespeare", "input.txt"), encoding="utf-8").read()
    if bpe:
        # tiktoken's r50k_base is GPT-2's vocabulary; seeded offline from the copy in the
        # tiktoken-rs crate, as in tokenizers.py.
        import glob, hashlib, shutil, tempfile
        url = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"
        assets = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/tiktoken-rs-*/assets")))[-1]
        cache = tempfile.mkdtemp()
        shutil.copy(os.path.join(assets, "r50k_base.tiktoken"), os.path.join(cache, hashlib.sha1(url.encode()).hexdigest()))
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
        import tiktoken
        ids = torch.tensor(tiktoken.get_encoding("r50k_base").encode_ordinary(text), dtype=torch.long)
        vocab = 50257
    else:
        chars = sorted(set(text))
        stoi = {ch: i for i, ch in enumerate(chars)}
        ids = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
        vocab = len(chars)
    n = len(ids) * 9 // 10
    train, val = ids[:n], ids[n:]
    B, T = cfg["batch_size"], cfg["block_size"]

    def get_batch(data, g=None):
        ix = torch.randint(len(data) - T, (B,), generator=g)
        return torch.stack([data[i:i + T] for i in ix]), torch.stack([data[i + 1:i + T + 1] for i in ix])

    g = torch.Generator().manual_seed(1234)
    fixed = {s: [get_batch(d, g) for _ in range(a.eval_iters)] for s, d in (("train", train), ("val", val))}
    model = GPT(vocab, cfg)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(0.9, cfg["beta2"]))
    lr, min_lr, warmup = cfg["lr"], cfg["lr"] / 10, cfg.get("warmup", 100)

    def lr_at(it):
        if it < warmup:
            return lr * (it + 1) / warmup
        if it >= iters:
            return min_lr
        return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * (it - warmup) / (iters - warmup)))

    @torch.no_grad()
    def estimate():
        model.eval()
        out = {s: sum(model(x, y).item() for x, y in bs) / len(bs) for s, bs in fixed.items()}
        model.train()
        return out

    losses = {"train": float("nan"), "val": float("nan")}
    history = []
    step_seconds, step_losses = [], []
    t0 = time.perf_counter()
    for it in range(iters):
        ts = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(it)
        x, y = get_batch(train)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step_seconds.append(time.perf_counter() - ts)
        step_losses.append(loss.item())
        if (it + 1) % a.eval_interval == 0 or it + 1 == iters:
            losses = estimate()
            history.append([it + 1, time.perf_counter() - t0, losses["train"], losses["val"]])
    wall = time.perf_counter() - t0
    tps = iters * B * T / wall
    if bpe and len(step_seconds) > 1:
        tps = (len(step_seconds) - 1) * B * T / sum(step_seconds[1:])
    line = {
        "impl": f"pytorch {torch.__version__}", "preset": a.preset, "threads": a.threads,
        "iterations": iters, "eval_iters": a.eval_iters, "eval_interval": a.eval_interval,
        "batch": B, "ctx": T, "dropout": cfg["dropout"],
        "wall_seconds": wall, "tokens_per_s": tps,
        "train_loss": losses["train"], "val_loss": losses["val"],
    }
    if a.history:
        line["evals"] = history
    if bpe:
        line["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        line["parameters"] = sum(p.numel() for p in model.parameters())
        line["step_seconds"] = step_seconds
        line["losses"] = step_losses
    print(json.dumps(line))


if __name__ == "__main__":
    main()
