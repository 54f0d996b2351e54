r"""GPU generation vs the memory-bandwidth floor : plain ``generate`` beside codeduel's.

Builds a Code-Llama-7B-shaped ``LlamaForCausalLM`` from its config with random bf16 weights (no
hub is needed: the device machine reaches nothing outside), then, at batch 1, 32 and 128:

* plain ``model.generate`` (T=0.8, ``num_return_sequences`` = batch, ``min_new_tokens`` = max,
  so every row makes all its tokens);
* codeduel's hf backend, ``engine="static"`` (one prefill shared by the batch's samples, a fixed
  batch of slots over a static KV cache, the one-step decode compiled into a CUDA graph), one
  prompt with ``n`` = batch samples, end tokens ignored so rows run to the same length;
* the same engine given ``batch`` distinct prompts with one greedy sample each (each prompt
  prefilled on its own): what ``codeduel run`` sends for pass@1 and infilling runs.

For each it prints tokens/s and the fraction of the floor; the floor is the measured
device-to-device copy bandwidth divided by the bytes one decode step must read: the weights
once plus the batch's KV cache at its average length (prompt + half the new tokens). Also
prefill throughput at 4K and 16K prompt tokens and the compile time (paid once per batch
shape). One JSON summary is printed last.

Run on the lent GPU (about 4-6 minutes on an H100/H200, most of it compilation). The device
image has torch and transformers but not codeduel's own dependencies, so carry wheels: here,
once, ``echo /.whl/ >> .git/info/exclude && bash bench/gpu_wheels.sh``; then the device tool's
``run`` with ``carry=[".whl"]``, ``timeout_s=560`` and the command::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src \
      PYTHONUNBUFFERED=1 && set -o pipefail && python3 bench/gpu_generate.py \
      --out $OUT/gpu_generate.json 2>&1 | tee $OUT/log.txt

Each batch's row is printed as soon as it is measured, so a run cut short still reports the
rows it finished. Check the script end to end on CPU first: ``python bench/gpu_generate.py
--cpu-smoke`` (a tiny random model, seconds; add ``--compile`` to go through torch.compile).
CI does not run this script.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

import torch

from codeduel.models import GenParams
from codeduel.models.hf import HFModel

#: Code Llama 7B's shape (hf config of codellama/CodeLlama-7b-hf).
CODELLAMA_7B = {
    "vocab_size": 32016,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "max_position_embeddings": 16384,
    "rope_theta": 1_000_000.0,
}
TINY = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 2048,
    "rope_theta": 10_000.0,
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _tokenizer(vocab: int) -> Any:
    """A word-level tokenizer over ``t0 .. tN`` (ids only matter here; no hub needed)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {"<unk>": 0, "<s>": 1, "</s>": 2}
    words.update({f"t{i}": i for i in range(3, vocab)})
    tok = Tokenizer(models.WordLevel(words, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def _model(shape: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    """Random weights of the given shape, built directly on the device."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**shape, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    return model.eval()


def _bandwidth(device: torch.device, nbytes: int) -> float:
    """Bytes/s of a device-to-device copy (each byte read once and written once)."""
    src = torch.empty(nbytes // 2, dtype=torch.float16, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync(device)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    del src, dst
    return 2 * nbytes / best


def _floor(
    batch: int, prompt: int, new: int, weight_bytes: int, kv_per_token: int, bw: float
) -> float:
    """Tokens/s if every decode step only read the weights and the batch's live KV cache."""
    kv = batch * (prompt + new / 2) * kv_per_token
    return batch * bw / (weight_bytes + kv)


def _plain(model: Any, ids: list[int], batch: int, new: int, device: torch.device) -> float:
    """Seconds for plain ``generate`` of ``batch`` samples of ``new`` tokens each."""
    input_ids = torch.tensor([ids], device=device)
    kwargs = {
        "do_sample": True,
        "temperature": 0.8,
        "top_p": 1.0,
        "top_k": None,
        "num_return_sequences": batch,
        "max_new_tokens": new,
        "min_new_tokens": new,
        "pad_token_id": 0,
    }
    with torch.inference_mode():
        model.generate(input_ids, **{**kwargs, "max_new_tokens": 2, "min_new_tokens": 2})
        _sync(device)
        start = time.perf_counter()
        out = model.generate(input_ids, **kwargs)
        _sync(device)
    assert out.shape == (batch, len(ids) + new), out.shape
    return time.perf_counter() - start


def _ours(hf: HFModel, ids: list[int], batch: int, new: int) -> tuple[float, float, float]:
    """(seconds, compile seconds, first-call seconds) for codeduel's path at this batch."""
    hf.max_batch = batch
    params = GenParams(max_new_tokens=new, temperature=0.8, n=batch, seed=0)
    before = hf.stats["compile_s"]
    start = time.perf_counter()
    hf.generate([ids], params)  # the same shapes as the timed call: compiles them once
    first = time.perf_counter() - start
    compiled = hf.stats["compile_s"] - before
    start = time.perf_counter()
    [rows] = hf.generate([ids], params)
    seconds = time.perf_counter() - start
    assert all(r.completion_tokens == new for r in rows), [r.completion_tokens for r in rows]
    return seconds, compiled, first


def _ours_many(hf: HFModel, prompts: list[list[int]], new: int) -> float:
    """Seconds for ``len(prompts)`` distinct prompts, one greedy sample each, in one call: what
    ``codeduel run`` now sends for a pass@1 or infilling run (runner.batches, greedy_batch)."""
    hf.max_batch = len(prompts)
    params = GenParams(max_new_tokens=new)
    hf.generate(prompts, params)  # warm: same shapes as the timed call
    start = time.perf_counter()
    out = hf.generate(prompts, params)
    seconds = time.perf_counter() - start
    assert all(r.completion_tokens == new for [r] in out), [r.completion_tokens for [r] in out]
    return seconds


def _greedy_match(hf: HFModel, model: Any, ids: list[int], new: int) -> tuple[int, int]:
    """(tokens the fast path's greedy output shares with plain ``generate``'s, tokens made).

    Run at batch 1 with the timed calls' shapes, so it reuses their compiled step. Exact in
    fp32; in bf16 a random model's near-ties may flip late tokens, hence a prefix length.
    """
    hf.max_batch = 1
    [[fast]] = hf.generate([ids], GenParams(max_new_tokens=new))
    ours = hf.tokenize(fast.text)
    with torch.inference_mode():
        ref = model.generate(
            torch.tensor([ids], device=hf.device),
            do_sample=False,
            max_new_tokens=new,
            min_new_tokens=new,
            pad_token_id=0,
        )
    plain = ref[0, len(ids) :].tolist()
    same = next((i for i, (a, b) in enumerate(zip(ours, plain, strict=False)) if a != b), None)
    return (min(len(ours), len(plain)) if same is None else same), len(plain)


def _prefill(hf: HFModel, length: int, vocab: int) -> float:
    """Prompt tokens/s of one prefill of ``length`` tokens (the path the backend runs)."""
    ids = torch.randint(3, vocab, (length,)).tolist()
    with torch.inference_mode():
        hf._prefill(ids[:64])
        _sync(hf.device)
        start = time.perf_counter()
        hf._prefill(ids)
        _sync(hf.device)
    return length / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU, end to end")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (repeatable)")
    parser.add_argument("--prompt-tokens", type=int, default=150)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--prefill", type=int, action="append", help="prefill lengths")
    parser.add_argument("--skip-plain", action="store_true", help="only codeduel's path")
    parser.add_argument(
        "--compile", action="store_true", help="with --cpu-smoke: compile the step on CPU too"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    args = parser.parse_args()
    smoke = args.cpu_smoke
    if smoke:
        torch.set_num_threads(2)
        device, dtype, shape = torch.device("cpu"), torch.float32, TINY
        batches = args.batch or [1, 4]
        prompt_len, new = min(args.prompt_tokens, 20), min(args.new_tokens, 16)
        prefills = args.prefill or [256, 1024]
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU: use --cpu-smoke to check the script on CPU")
        device, dtype, shape = torch.device("cuda"), torch.bfloat16, CODELLAMA_7B
        batches = args.batch or [1, 32, 128]
        prompt_len, new = args.prompt_tokens, args.new_tokens
        prefills = args.prefill or [4096, 16384]

    t0 = time.perf_counter()
    model = _model(shape, device, dtype)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    layers, hidden = shape["num_hidden_layers"], shape["hidden_size"]
    kv_dim = hidden // shape["num_attention_heads"] * shape["num_key_value_heads"]
    kv_per_token = 2 * layers * kv_dim * torch.finfo(dtype).bits // 8
    hf = HFModel(model, _tokenizer(shape["vocab_size"]), spec="bench", weights_id="random-7b")
    hf.engine = "static"
    if args.compile:
        hf.compile = True
    hf.eos_ids = set()  # random weights: never end early, as min_new_tokens does for generate
    built = time.perf_counter() - t0
    bw = _bandwidth(device, (256 << 20) if smoke else (4 << 30))
    print(
        f"device {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}, "
        f"weights {weight_bytes / 1e9:.2f} GB, copy bandwidth {bw / 1e12:.3f} TB/s, "
        f"built in {built:.1f} s, compile={hf.compile}",
        flush=True,
    )
    ids = torch.randint(3, shape["vocab_size"], (prompt_len,), generator=torch.Generator()).tolist()
    rows: list[dict[str, Any]] = []
    greedy: dict[str, int] = {}
    for batch in batches:
        floor = _floor(batch, prompt_len, new, weight_bytes, kv_per_token, bw)
        row: dict[str, Any] = {"batch": batch, "floor_tok_s": round(floor, 1)}
        if not args.skip_plain:
            seconds = _plain(model, ids, batch, new, device)
            row["plain_tok_s"] = round(batch * new / seconds, 1)
            row["plain_frac"] = round(batch * new / seconds / floor, 3)
        gc.collect()
        seconds, compiled, first = _ours(hf, ids, batch, new)
        row["codeduel_tok_s"] = round(batch * new / seconds, 1)
        row["codeduel_frac"] = round(batch * new / seconds / floor, 3)
        row["compile_s"] = round(compiled, 1)
        row["first_call_s"] = round(first, 1)
        if batch > 1:  # distinct greedy prompts, one sample each (no shared prefill)
            gen = torch.Generator().manual_seed(batch)
            prompts = [
                torch.randint(3, shape["vocab_size"], (prompt_len,), generator=gen).tolist()
                for _ in range(batch)
            ]
            seconds = _ours_many(hf, prompts, new)
            row["greedy_problems_tok_s"] = round(batch * new / seconds, 1)
            row["greedy_problems_frac"] = round(batch * new / seconds / floor, 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if batch == 1:
            match, made = _greedy_match(hf, model, ids, new)
            greedy = {"matching_prefix": match, "tokens": made}
            print(f"greedy fast path vs plain generate: {greedy}", flush=True)
            if smoke:
                assert match == made, greedy  # fp32: token for token
    hf._slots = None  # free the slot cache before the long prefills
    if device.type == "cuda":
        torch.cuda.empty_cache()
    prefill = {str(n): round(_prefill(hf, n, shape["vocab_size"]), 1) for n in prefills}
    print(f"prefill tokens/s: {prefill}", flush=True)
    summary = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "dtype": str(dtype).removeprefix("torch."),
        "prompt_tokens": prompt_len,
        "new_tokens": new,
        "bandwidth_tb_s": round(bw / 1e12, 3),
        "weight_gb": round(weight_bytes / 1e9, 3),
        "kv_bytes_per_token": kv_per_token,
        "decode": rows,
        "prefill_tok_s": prefill,
        "greedy_vs_plain": greedy,
        "compile_s_total": round(hf.stats["compile_s"], 1),
        "stats": hf.stats,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    text = json.dumps(summary)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
