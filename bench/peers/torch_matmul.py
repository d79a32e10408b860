#!/usr/bin/env python3
"""Peer benchmark for tfs-kernels' GEMM (`cargo run --release -p tfs-kernels --example bench_gemm`):
torch.matmul in fp32 on the CPU (MKL / oneDNN) on the same cases, with the same JSON keys.

Cases (see crates/kernels/src/bench.rs): square NN products n = 128..2048, and the linear layers
of GPT-2 124M at B*T = 1024 tokens: forward Y = X @ W (NN), input gradient dX = dY @ W.T (NT,
W.T a strided view, not a copy) and weight gradient dW = X.T @ dY (TN), for qkv (768 -> 2304),
fc (768 -> 3072), proj (3072 -> 768) and lm_head (768 -> 50257); and one attention head at
T = 1024, head size 64: scores Q @ K.T (NT) and output P @ V (NN).

Each case runs once to warm up, then repeats for at least --min-seconds (and 3 times); `gflops`
is from the fastest repetition, `gflops_median` from the median; 2*m*n*k flops per product.
Output goes into a preallocated tensor (out=), as ours writes into C.

Dev-time only: pip install torch.
Usage: python3 bench/peers/torch_matmul.py [--threads 1,2] [--filter NAME_PART] [--min-seconds S]
"""
import argparse, json, time

import torch


def cases():
    out = [(f"square{s}", "NN", s, s, s) for s in (128, 256, 512, 1024, 2048)]
    bt = 1024
    for layer, k, n in (("qkv", 768, 2304), ("fc", 768, 3072), ("proj", 3072, 768), ("lm_head", 768, 50257)):
        out.append((f"gpt2.{layer}.fwd", "NN", bt, n, k))
        out.append((f"gpt2.{layer}.dx", "NT", bt, k, n))
        out.append((f"gpt2.{layer}.dw", "TN", k, n, bt))
    # One attention head at T = 1024, head size 64: scores Q @ K.T and output P @ V.
    out.append(("gpt2.attn.scores", "NT", bt, bt, 64))
    out.append(("gpt2.attn.values", "NN", bt, 64, bt))
    return out


def operands(layout, m, n, k, gen):
    # Stored shapes as in bench.rs: A is (m, k) for N, (k, m) for T; B is (k, n) for N, (n, k) for T.
    a = torch.rand(m, k, generator=gen) * 2 - 1 if layout[0] == "N" else (torch.rand(k, m, generator=gen) * 2 - 1).t()
    b = torch.rand(k, n, generator=gen) * 2 - 1 if layout[1] == "N" else (torch.rand(n, k, generator=gen) * 2 - 1).t()
    return a, b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--filter", default="")
    ap.add_argument("--min-seconds", type=float, default=0.5)
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(0)
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for name, layout, m, n, k in cases():
            if args.filter not in name:
                continue
            a, b = operands(layout, m, n, k, gen)
            c = torch.empty(m, n)
            torch.matmul(a, b, out=c)
            times, start = [], time.perf_counter()
            while len(times) < 3 or time.perf_counter() - start < args.min_seconds:
                t = time.perf_counter()
                torch.matmul(a, b, out=c)
                times.append(time.perf_counter() - t)
            times.sort()
            flops = 2.0 * m * n * k
            print(json.dumps({
                "bench": "gemm", "impl": "torch", "kernel": f"torch-{torch.__version__}", "case": name,
                "layout": layout, "m": m, "n": n, "k": k, "threads": threads,
                "seconds": round(times[0], 6), "gflops": round(flops / times[0] / 1e9, 1),
                "gflops_median": round(flops / times[len(times) // 2] / 1e9, 1),
            }, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
