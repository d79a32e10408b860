#!/usr/bin/env python3
"""Peer benchmark for `tfs bench mlp`: the same MNIST MLP recipe in PyTorch on the CPU.

Recipe (keep equal to crates/nn/src/mnist.rs, Recipe::full): 784-512-256-10, ReLU, He-normal
weights (std sqrt(2/fan_in)), zero biases, AdamW(lr 1e-3, weight decay 1e-4, betas 0.9/0.999,
eps 1e-8), linear warmup over 200 steps then cosine decay to 0, batch 128 with the last partial
batch dropped, inputs standardised with the training set's pixel mean and std.

Prints one JSON line with the same keys as `tfs bench mlp`.
Usage: python3 bench/peers/torch_mlp.py [--data-dir DIR] [--epochs N] [--threads N]
"""
import argparse, gzip, json, math, os, struct, time

import torch


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim :]), dtype=torch.uint8).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("TFS_DATA_DIR", "data"))
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    d = os.path.join(args.data_dir, "mnist")
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")).reshape(-1, 784).float() / 255
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz")).long()
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784).float() / 255
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")).long()
    mean, std = xtr.mean(), xtr.std(unbiased=False)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std

    sizes = [784, 512, 256, 10]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        lin = torch.nn.Linear(a, b)
        torch.nn.init.normal_(lin.weight, 0.0, math.sqrt(2.0 / a))
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    batch, lr, wd, warmup = 128, 1e-3, 1e-4, 200
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd, eps=1e-8)
    steps_per_epoch = len(ytr) // batch
    total = args.epochs * steps_per_epoch

    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        if step >= total:
            return 0.0
        p = (step - warmup) / (total - warmup)
        return 0.5 * lr * (1 + math.cos(math.pi * p))

    step, epoch_seconds = 0, []
    for _ in range(args.epochs):
        perm = torch.randperm(len(ytr))
        t0 = time.perf_counter()
        model.train()
        for k in range(steps_per_epoch):
            idx = perm[k * batch : (k + 1) * batch]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        epoch_seconds.append(time.perf_counter() - t0)
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    train_s = sum(epoch_seconds)
    print(json.dumps({
        "impl": f"pytorch {torch.__version__}",
        "threads": args.threads,
        "epochs": args.epochs,
        "batch": batch,
        "samples_per_s": steps_per_epoch * batch * args.epochs / train_s,
        "epoch_seconds": train_s / args.epochs,
        "test_accuracy": acc,
    }))


if __name__ == "__main__":
    main()
