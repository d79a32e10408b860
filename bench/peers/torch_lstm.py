#!/usr/bin/env python3
"""Peer benchmark for `tfs bench lstm`: a character-level LSTM language model in PyTorch on the CPU.

Same model and work as `tfs bench lstm` (crates/bench/src/lstm.rs): Tiny Shakespeare's characters
as one-hot inputs to a one-layer LSTM (hidden 256), a linear head over the vocabulary, mean
cross-entropy over seq_len 64 x batch 32 characters per step, truncated BPTT with the state
carried between windows, Adam(lr 3e-3), gradient-norm clipping at 5. Timed over `--steps` steps
after 3 warm-up steps.

Prints one JSON line with the same keys as `tfs bench lstm`.
Usage: python3 bench/peers/torch_lstm.py [--data-dir DIR] [--steps N] [--threads N]
"""
import argparse, json, os, time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("TFS_DATA_DIR", "data"))
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--hidden", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    text = open(os.path.join(args.data_dir, "tinyshakespeare", "input.txt"), encoding="utf-8").read()
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text[:200_000]], dtype=torch.long)
    V, H, T, B = len(chars), args.hidden, 64, 32
    lstm = torch.nn.LSTM(V, H)
    head = torch.nn.Linear(H, V)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    track = (len(ids) - 1) // B
    starts = torch.arange(B) * track
    windows = track // T
    state = None

    def step(w, state):
        pos = starts[None, :] + w * T + torch.arange(T)[:, None]  # (T, B)
        x = torch.nn.functional.one_hot(ids[pos], V).float()
        y = ids[pos + 1]
        out, state = lstm(x, state)
        loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return loss.item(), tuple(s.detach() for s in state)

    for w in range(3):
        _, state = step(w, state)
    t0 = time.perf_counter()
    loss = None
    for k in range(args.steps):
        loss, state = step((3 + k) % windows, state)
    secs = time.perf_counter() - t0
    print(json.dumps({
        "impl": f"pytorch {torch.__version__}",
        "threads": args.threads,
        "hidden": H, "seq_len": T, "batch": B, "steps": args.steps,
        "tokens_per_s": args.steps * T * B / secs,
        "final_loss": loss,
    }))


if __name__ == "__main__":
    main()
