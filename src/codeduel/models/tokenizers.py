"""Tokenizers and chat templates from Hugging Face files, for every backend that needs them.

Why a module of its own: the transformers backend and the vLLM backend both read a GGUF file's
tokenizer through a cache, recognise each family's end-of-turn tokens and render chat templates
the same way; before, vLLM imported these from the transformers backend's module.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from codeduel.errors import CodeduelError
from codeduel.models.base import Message

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: Special tokens that end a turn or a document in the families codeduel evaluates. The
#: tokenizer's own ``eos_token`` is only one of them (Qwen instruct models may end with
#: ``<|endoftext|>`` as well as ``<|im_end|>``; llama.cpp treats all of these as end of
#: generation too), so every one present in the vocabulary as a special token stops a row.
END_TOKENS = (
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end_of_text|>",
    "<end_of_turn>",
    "<|end|>",
    "<|EOT|>",
    "<EOT>",
    "</s>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)

INSTALL_FIX = "run: pip install 'codeduel[hf]'"


def import_torch() -> tuple[Any, Any]:
    """torch and transformers, or the one-line install hint (they are the ``hf`` extra)."""
    try:
        import torch
        import transformers
    except ImportError:
        raise CodeduelError("the hf backend needs torch and transformers", INSTALL_FIX) from None
    return torch, transformers


_HASH_PREFIX = 64 << 20  # GGUF metadata (tokenizer included) sits at the start of the file


def default_tokenizer_cache() -> Path:
    """Where converted GGUF tokenizers are kept: the user cache dir, beside the embedded GGUFs."""
    return Path(platformdirs.user_cache_dir("codeduel")) / "hf-tokenizers"


def gguf_cache_key(path: Path, sha256: str | None = None) -> str:
    """A key for what a GGUF's tokenizer converts to: its content, size and transformers version.

    Hashing a multi-GB file on every load would cost seconds, so unless the full sha256 is
    already known (embedded models pin it) only the first 64 MiB are hashed: the GGUF header,
    which holds all tokenizer metadata, comes before the tensor data.
    """
    _, transformers = import_torch()
    size = path.stat().st_size
    if sha256 is None:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            digest.update(f.read(_HASH_PREFIX))
        sha256 = digest.hexdigest()
    return f"{sha256[:24]}-{size}-tf{transformers.__version__}"


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Silence transformers' progress bars and warnings while loading, then restore them.

    Errors still surface: they are exceptions, turned into one-line messages by :func:`load`.
    """
    from transformers.utils import logging as hf_logging

    if not enabled:
        yield
        return
    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        # the GGUF dequantisation bar is a plain tqdm on stderr that ignores the switch above
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _hub_error(name: str, exc: BaseException) -> CodeduelError:
    """Turn transformers' multi-line hub failures into one line."""
    text = str(exc)
    if "not a valid model identifier" in text or "Repository Not Found" in text:
        return CodeduelError(
            f"no model {name!r} on the Hugging Face hub (and no local folder of that name)",
            "check the spelling, or pass a local folder or .gguf path after hf:",
        )
    if "gated" in text.lower() or "401" in text or "403" in text:
        return CodeduelError(
            f"{name} needs a Hugging Face token to download",
            "accept its licence on the hub and run `hf auth login` (or set HF_TOKEN)",
        )
    return CodeduelError(
        f"{name} is not in the local cache and the hub is unreachable",
        f"download it once with network access (hf download {name}) or pass a local folder",
    )


def cached_tokenizer_dir(
    path: Path, *, sha256: str | None = None, cache_dir: Path | None = None
) -> Path:
    """A folder holding the tokenizer of a GGUF file, converted on first use and then reused.

    The converted tokenizer is written to a temporary folder and renamed into place, so a
    killed run never leaves a half-written entry that a later run would trust. The vllm
    backend passes this folder to vLLM as its tokenizer.
    """
    from transformers import AutoTokenizer

    root = cache_dir or default_tokenizer_cache()
    target = root / gguf_cache_key(path, sha256)
    if (target / "tokenizer_config.json").is_file():
        return target
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
        tokenizer.save_pretrained(str(tmp))
        try:
            os.replace(tmp, target)
        except OSError:  # another process cached it first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise CodeduelError(
            f"cannot write the tokenizer cache at {root}: {exc.strerror}",
            "free disk space or pass tokenizer_cache_dir= a writable folder",
        ) from None
    return target


def load_tokenizer_cached(
    path: Path, *, sha256: str | None = None, cache_dir: Path | None = None
) -> PreTrainedTokenizerBase:
    """The tokenizer of a GGUF file, through :func:`cached_tokenizer_dir`.

    A cache entry that no longer loads (a truncated copy, a removed file) is converted again.
    """
    from transformers import AutoTokenizer

    folder = cached_tokenizer_dir(path, sha256=sha256, cache_dir=cache_dir)
    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError):
        shutil.rmtree(folder, ignore_errors=True)
        folder = cached_tokenizer_dir(path, sha256=sha256, cache_dir=cache_dir)
        return AutoTokenizer.from_pretrained(str(folder))


def end_token_ids(tokenizer: PreTrainedTokenizerBase, *configs: Any) -> set[int]:
    """Every token id that ends a sample: the configs' EOS ids plus known end-of-turn tokens."""
    ids: set[int] = set()
    for source in (*configs, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    special = {tok.content: i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special}
    ids.update(special[name] for name in END_TOKENS if name in special)
    return ids


def render_chat_template(
    tokenizer: PreTrainedTokenizerBase,
    conversation: Sequence[Message],
    *,
    weights_id: str,
    adds_bos: bool,
) -> str:
    """A conversation through a tokenizer's own chat template (shared with the vllm backend).

    A final assistant message is a prefill: the template is rendered with
    ``continue_final_message`` so the model continues exactly that text. A BOS the template
    writes is removed when the tokenizer adds one itself, so it is not doubled.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise CodeduelError(
            f"{weights_id} has no chat template",
            "use generate() with a completion prompt, or a chat/instruct model",
        )
    if not conversation:
        raise CodeduelError("a chat needs at least one message", "pass a user message")
    messages = [m.model_dump() for m in conversation]
    prefill = conversation[-1].role == "assistant"
    rendered = str(
        tokenizer.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=not prefill,
            continue_final_message=prefill,
        )
    )
    bos = tokenizer.bos_token or ""
    if adds_bos and bos and rendered.startswith(bos):
        rendered = rendered[len(bos) :]
    return rendered
