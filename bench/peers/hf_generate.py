#!/usr/bin/env python3
"""Peer benchmark for `tfs bench generate`: Hugging Face transformers' `generate` on GPT-2 124M.

A random-initialised `GPT2LMHeadModel(GPT2Config())` (GPT-2 Small: 12 layers, 12 heads, 768 wide,
vocabulary 50257, context 1024, weights tied) from a fixed seed, saved with
`save_pretrained(DIR, safe_serialization=True)` so that `tfs gpt import-hf DIR` reads the same
weights; when DIR already holds a `model.safetensors` it is loaded instead (so both sides time the
same weights however they were made).

Timed: greedy decoding, batch 1, from a fixed prompt of token ids, `max_new_tokens` (128) new
tokens forced (`min_new_tokens` too, so an end-of-text token does not stop it early), once with
the KV cache (`use_cache=True`) and once without (each step re-runs the whole sequence), each
after a short warm-up, `--repeats` times; `seconds_*` is the fastest repetition (the least
disturbed on a shared machine) and `tokens_per_s_*` is new tokens over it. Prefill of the prompt is
inside the timed call, as in ours. `cache_bytes` is the memory the KV cache holds at the end (keys
and values of every layer, counted from the cache's tensors); `ids` is the prompt followed by the
generated ids, so that our greedy output can be checked equal to this one.

Prints one JSON line with the same keys as `tfs bench generate`.
Usage: python3 bench/peers/hf_generate.py --model DIR [--save-only] [--new-tokens 128]
       [--repeats 3] [--threads N] [--seed 0]
"""
import argparse, json, os, resource, sys, time

# This folder's tokenizers.py (the tokenizer peer) would shadow the `tokenizers` package that
# transformers imports: leave the script's own folder off the import path.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import torch
from transformers import GPT2Config, GPT2LMHeadModel
import transformers

# The prompt both sides start from: 16 GPT-2 token ids ("The quick brown fox jumps over the lazy
# dog. It was the best of times", tokenised with GPT-2's BPE).
PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 632, 373, 262, 1266, 286, 1661]


def make_or_load(path, seed):
    """The model in `path`, created from `seed` and saved there first if it is not there yet."""
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(GPT2Config())
        model.save_pretrained(path, safe_serialization=True)
    return GPT2LMHeadModel.from_pretrained(path, torch_dtype=torch.float32).eval()


def model_name(c):
    """"gpt2-124m" for GPT-2 Small's shape, else the shape (as `tfs bench generate` names it)."""
    if (c.n_layer, c.n_head, c.n_embd, c.vocab_size) == (12, 12, 768, 50257):
        return "gpt2-124m"
    return f"gpt2 {c.n_layer}/{c.n_head}/{c.n_embd} vocab {c.vocab_size}"


def cache_bytes(cache):
    """Bytes held by the key and value tensors of a generation's cache (any of its forms)."""
    seen, total = set(), 0

    def walk(x):
        nonlocal total
        if torch.is_tensor(x):
            if id(x) not in seen:
                seen.add(id(x))
                total += x.numel() * x.element_size()
        elif isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif hasattr(x, "layers"):  # transformers >= 4.56: Cache.layers[i].keys / .values
            for layer in x.layers:
                walk([getattr(layer, "keys", None), getattr(layer, "values", None)])
        elif hasattr(x, "key_cache"):
            walk([x.key_cache, x.value_cache])

    walk(cache)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="folder to save the model to or load it from")
    ap.add_argument("--save-only", action="store_true", help="make and save the model, time nothing")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = make_or_load(a.model, a.seed)
    if a.save_only:
        return
    ids = torch.tensor([PROMPT], dtype=torch.long)
    mask = torch.ones_like(ids)

    def run(use_cache, n):
        with torch.no_grad():
            return model.generate(
                ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                use_cache=use_cache, pad_token_id=model.config.eos_token_id,
                return_dict_in_generate=True,
            )

    line = {
        "impl": f"transformers {transformers.__version__} (pytorch {torch.__version__})",
        "model": model_name(model.config), "threads": a.threads, "batch": 1, "prompt_tokens": len(PROMPT),
        "new_tokens": a.new_tokens, "greedy": True,
    }
    out = {}
    for use_cache, key in ((True, "cache"), (False, "no_cache")):
        run(use_cache, 8)  # warm-up: first-touch allocation, thread pool, lazy init
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            out[key] = run(use_cache, a.new_tokens)
            times.append(time.perf_counter() - t0)
        line[f"seconds_{key}"] = min(times)
        line[f"tokens_per_s_{key}"] = a.new_tokens / min(times)
        line[f"repeat_seconds_{key}"] = times
    result = out["cache"]
    # transformers 5 names the generation's cache `cache` (`past_key_values` before, now deprecated).
    cache = getattr(result, "cache", None)
    line["cache_bytes"] = cache_bytes(cache if cache is not None else result.past_key_values)
    line["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line["ids"] = out["cache"].sequences[0].tolist()
    line["ids_equal_without_cache"] = line["ids"] == out["no_cache"].sequences[0].tolist()
    print(json.dumps(line))


if __name__ == "__main__":
    main()
