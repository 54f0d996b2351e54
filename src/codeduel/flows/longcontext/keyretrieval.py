"""Long-context key retrieval (Code Llama paper, Appendix G.2 and Table 17).

Why this task: a long context is only useful if the model can *use* a fact that sits far from
where it is asked for. A function ``my_function() -> int`` that returns a two-digit number (after
a distractor ``return`` of a string) is hidden at a relative position inside real Python code of
a target token length, and the prompt ends with ``assert my_function() == `` so a greedy model
must recall the number. The haystack is real code (the standard library's own sources by
default, always available offline), assembled deterministically from a seed, and measured with
the model's own tokenizer so "8K" means 8K tokens of *that* model.

This module also holds the corpus and long-context model helpers shared with perplexity.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import re
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError, require_positive
from codeduel.models import GenParams, Model, load_model, resolve
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import SampleRecord, Store, spec_key
from codeduel.tasks.base import DatasetInfo

KIND = "key-retrieval"
DISTRACTOR = 'return "Note that this function is used at the end"'
SUFFIX = "\n\nassert my_function() == "
MAX_NEW_TOKENS = 8
_SKIP_PARTS = {"site-packages", "dist-packages", "__pycache__"}

Tokenize = Callable[[str], Sequence[int]]
ProgressFn = Callable[[int, int], None]


# -- shared input parsing and corpus ------------------------------------------------------------


def parse_int_list(text: str, option: str) -> list[int]:
    """Comma-separated token counts; ``8K``/``16k`` mean 8192/16384."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)\s*([kK]?)", part)
        if not match:
            raise CodeduelError(
                f"invalid {option} {text!r}", "give positive token counts, e.g. 1024,2048 or 8K,16K"
            )
        value = int(match.group(1)) * (1024 if match.group(2) else 1)
        if value < 1:
            raise CodeduelError(f"invalid {option} {text!r}", "token counts must be positive")
        values.append(value)
    return list(dict.fromkeys(values))


def parse_positions(text: str) -> list[float]:
    """Comma-separated relative positions in [0, 1)."""
    values: list[float] = []
    for part in text.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            value = -1.0
        if not 0.0 <= value < 1.0:
            raise CodeduelError(
                f"invalid --positions {text!r}", "give relative positions in [0, 1), e.g. 0,0.2,0.4"
            )
        values.append(value)
    return list(dict.fromkeys(values))


def stdlib_dir() -> Path:
    """The running Python's standard library folder: real code that is always at hand."""
    return Path(sysconfig.get_paths()["stdlib"])


def python_files(corpus: str | Path | None) -> tuple[Path, list[Path]]:
    """The corpus root and its ``*.py`` files in a stable order (installed packages skipped)."""
    root = Path(corpus).expanduser() if corpus is not None else stdlib_dir()
    if not root.is_dir():
        raise CodeduelError(f"corpus folder {root} does not exist", "pass an existing --corpus")
    if not any(root.iterdir()):
        raise CodeduelError(f"corpus folder {root} is empty", "pass a folder with .py files")
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        # prune while walking: the stdlib folder may hold a huge site-packages
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_PARTS)
        files += (Path(folder) / n for n in names if n.endswith(".py"))
    files = sorted(p for p in files if p.is_file())
    if not files:
        raise CodeduelError(
            f"corpus folder {root} has no Python files", "pass a folder with .py files"
        )
    return root, files


def read_source(path: Path) -> str | None:
    """A file's text, or None when it is not UTF-8 (some stdlib test files are not on purpose)."""
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def corpus_fingerprint(root: Path, files: Sequence[Path]) -> str:
    """A hash of the corpus file list and sizes, so a record says which code it used."""
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.relative_to(root)}:{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def corpus_dataset(root: Path, fingerprint: str) -> DatasetInfo:
    """How a run records its corpus in the store's dataset columns (shown by ``show``)."""
    if root == stdlib_dir():
        return DatasetInfo("python-stdlib", platform.python_version(), fingerprint, str(root))
    return DatasetInfo(f"corpus:{root.name}", "local", fingerprint, str(root))


def open_long_model(
    spec: str | None,
    needs: Sequence[int],
    *,
    context_window: int | None,
    n_threads: int | None,
    cap: bool = False,
) -> tuple[Model, int]:
    """Load a model able to hold the longest of ``needs`` tokens; return it and its window.

    llama.cpp models get an ``n_ctx`` of just what the longest fitting need asks for (``cap``:
    or the whole training context when a need exceeds it), never more than the GGUF's training
    context unless ``context_window`` asks for it (Table 17 probes 24K on models trained on
    16K). Other backends report their own window.
    """
    require_positive(context_window=context_window, threads=n_threads)
    if not resolve(spec).in_process_cpu:
        lm = load_model(spec)
        window = lm.info().context_window
        return lm, min(window, context_window) if context_window else window
    options: dict[str, Any] = {"n_parallel": 1}
    if n_threads:
        options["n_threads"] = n_threads
    if context_window:
        lm = load_model(spec, n_ctx=context_window, **options)
        return lm, lm.info().context_window
    lm = load_model(spec, **options)
    info = lm.info()
    limit = info.train_context_window or info.context_window
    fitting = [x for x in needs if x <= limit]
    want = max(fitting) if fitting else 0
    if cap and len(fitting) < len(needs):
        want = limit
    if want > info.context_window:
        lm.close()
        lm = load_model(spec, n_ctx=want, **options)
    return lm, limit


# -- the haystack -------------------------------------------------------------------------------


def needle(value: int) -> list[str]:
    """The function to retrieve, with the paper's distractor ``return`` before the real one."""
    return ["def my_function() -> int:", f"    {DISTRACTOR}", f"    return {value}"]


@dataclass(frozen=True)
class Example:
    """One key-retrieval prompt and what a correct model answers."""

    length: int
    position: float
    index: int
    prompt: str
    expected: int
    prompt_tokens: int
    needle_line: int
    haystack_lines: int
    sources: list[str]


class HaystackBuilder:
    """Builds prompts of an exact token budget from a corpus, the same ones for the same seed."""

    def __init__(
        self,
        tokenize: Tokenize,
        corpus: str | Path | None = None,
        seed: int = 0,
        files: Sequence[Path] | None = None,
    ) -> None:
        self.tokenize = tokenize
        if files is None:
            self.root, self.files = python_files(corpus)
        else:
            self.root, self.files = Path(corpus or stdlib_dir()), list(files)
        self.seed = seed
        self._texts: dict[Path, str | None] = {}

    def _text(self, path: Path) -> str | None:
        if path not in self._texts:
            text = read_source(path)
            self._texts[path] = None if text is None or "my_function" in text else text
        return self._texts[path]

    def _count(self, text: str) -> int:
        return len(self.tokenize(text))

    @staticmethod
    def assemble(lines: Sequence[str], position: float, value: int) -> tuple[str, int]:
        """The prompt text and the line index of ``def my_function`` in it."""
        at = round(position * len(lines))
        block = [*needle(value), ""]
        if at > 0:
            block = ["", *block]
        prompt_lines = [*lines[:at], *block, *lines[at:]]
        return "\n".join(prompt_lines) + SUFFIX, at + (1 if at > 0 else 0)

    def build(self, length: int, position: float, index: int) -> Example:
        """Example ``index`` of cell (length, position): at most ``length`` tokens, close to it."""
        rng = random.Random(f"codeduel-key-retrieval:{self.seed}:{length}:{position}:{index}")
        value = rng.randint(10, 99)
        order = list(range(len(self.files)))
        rng.shuffle(order)
        lines: list[str] = []
        sources: list[str] = []
        have = 0
        for i in order:
            path = self.files[i]
            text = self._text(path)
            if not text or not text.strip():
                continue
            lines += [*text.rstrip("\n").split("\n"), ""]
            sources.append(str(path.relative_to(self.root)))
            have += self._count(text)
            if have >= length + 64:
                break
        if have < length:
            raise CodeduelError(
                f"the corpus {self.root} has only about {have} tokens of Python",
                f"pass a larger --corpus or shorter --lengths than {length}",
            )
        # Largest number of haystack lines whose prompt still fits the budget (binary search).
        lo, hi = 0, len(lines)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            prompt, _ = self.assemble(lines[:mid], position, value)
            if self._count(prompt) <= length:
                lo = mid
            else:
                hi = mid - 1
        kept = lines[:lo]
        prompt, needle_line = self.assemble(kept, position, value)
        return Example(
            length=length,
            position=position,
            index=index,
            prompt=prompt,
            expected=value,
            prompt_tokens=self._count(prompt),
            needle_line=needle_line,
            haystack_lines=len(kept),
            sources=sources,
        )


def score(output: str, expected: int) -> tuple[int | None, bool]:
    """The integer the model wrote first, and whether it is exactly the hidden value."""
    match = re.match(r"\s*\(?\s*(-?\d+)", output)
    got = int(match.group(1)) if match else None
    return got, got == expected


# -- the run ------------------------------------------------------------------------------------


def cell_id(length: int, position: float) -> str:
    """The task_id of a (length, position) cell in the store."""
    return f"{length}@{position:g}"


@dataclass
class KeyRetrievalResult:
    """Accuracy per (length, position) cell, the cells skipped, and where the records are."""

    run_id: int
    model: str
    lengths: list[int]
    positions: list[float]
    examples: int
    window: int
    cells: dict[str, dict[str, Any]]
    skipped: list[dict[str, Any]]
    resumed: bool
    duration_s: float
    store_path: Path
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["store"] = str(out.pop("store_path"))  # the key every --json result uses
        out["duration_s"] = round(self.duration_s, 3)
        return out


def run_key_retrieval(
    model: str | None = None,
    *,
    lengths: Sequence[int] = (8192, 16384, 24576),
    positions: Sequence[float] = (0.0, 0.2, 0.4),
    examples: int = 64,
    corpus: str | Path | None = None,
    seed: int = 0,
    store: str | Path | Store | None = None,
    context_window: int | None = None,
    n_threads: int | None = None,
    loaded_model: Model | None = None,
    progress: ProgressFn | None = None,
) -> KeyRetrievalResult:
    """Run every (length, position) cell greedily, record each example, and score exact match.

    Rerunning the same arguments resumes an unfinished run (examples are deterministic, so
    the ones already stored are not generated again).
    """
    started = time.perf_counter()
    require_positive(context_window=context_window, threads=n_threads)
    if examples < 1:
        raise CodeduelError(f"invalid --examples {examples}", "give at least 1 example per cell")
    if not lengths or not positions:
        raise CodeduelError("no lengths or positions to test", "give --lengths and --positions")
    root, files = python_files(corpus)  # fail on a bad corpus before loading any model
    own_model = loaded_model is None
    if loaded_model is None:
        lm, window = open_long_model(
            model,
            [n + MAX_NEW_TOKENS for n in lengths],
            context_window=context_window,
            n_threads=n_threads,
        )
    else:
        lm, window = loaded_model, loaded_model.info().context_window
    life = RunLifecycle(store)
    db = life.db
    try:
        fits = [n for n in lengths if n + MAX_NEW_TOKENS <= window]
        skipped = [
            {
                "length": n,
                "reason": f"longer than the model's {window}-token context window",
            }
            for n in lengths
            if n not in fits
        ]
        if not fits:
            raise CodeduelError(
                f"every length in {','.join(map(str, lengths))} exceeds the {window}-token "
                f"context window of {lm.info().weights_id}",
                "give shorter --lengths (or --context-window for llama.cpp models)",
            )
        info = lm.info()
        spec_name = model or info.spec
        spec: dict[str, Any] = {
            "model": spec_name,
            "weights_id": info.weights_id,
            "weights_sha256": info.sha256,
            "lengths": list(lengths),
            "positions": list(positions),
            "examples": examples,
            "corpus": str(root),
            "corpus_sha256": corpus_fingerprint(root, files),
            "seed": seed,
            "max_new_tokens": MAX_NEW_TOKENS,
            "window": window,
        }
        run_id, resumed = life.start(
            kind=KIND,
            key=spec_key(spec),
            spec={**spec, "model_info": info.model_dump()},
            task=KIND,
            dataset=corpus_dataset(root, spec["corpus_sha256"]),
        )
        done = db.sample_keys(run_id)
        builder = HaystackBuilder(lm.tokenize, root, seed, files=files)
        params = GenParams(max_new_tokens=MAX_NEW_TOKENS, temperature=0.0, stop=("\n",))
        total = len(fits) * len(positions) * examples
        count = sum(
            1
            for n in fits
            for p in positions
            for i in range(examples)
            if (cell_id(n, p), i) in done
        )
        if progress:
            progress(count, total)
        for length in fits:
            for position in positions:
                for index in range(examples):
                    if (cell_id(length, position), index) in done:
                        continue
                    ex = builder.build(length, position, index)
                    comp = lm.generate([ex.prompt], params)[0][0]
                    got, correct = score(comp.text, ex.expected)
                    db.add_samples(
                        run_id,
                        [
                            SampleRecord(
                                task_id=cell_id(length, position),
                                sample_idx=index,
                                completion=None if got is None else str(got),
                                raw_output=comp.text,
                                params=json.loads(params.to_json()),
                                extra={
                                    "length": length,
                                    "position": position,
                                    "prompt_tokens": ex.prompt_tokens,
                                    "expected": ex.expected,
                                    "answer": got,
                                    "correct": correct,
                                    "needle_line": ex.needle_line,
                                    "haystack_lines": ex.haystack_lines,
                                    "prompt_sha256": hashlib.sha256(ex.prompt.encode()).hexdigest(),
                                    "sources": ex.sources,
                                    "seconds": comp.seconds,
                                },
                            )
                        ],
                    )
                    count += 1
                    if progress:
                        progress(count, total)
        cells = _score_cells(db, run_id, fits, positions)
        result = KeyRetrievalResult(
            run_id=run_id,
            model=spec_name,
            lengths=list(lengths),
            positions=list(positions),
            examples=examples,
            window=window,
            cells=cells,
            skipped=skipped,
            resumed=resumed,
            duration_s=time.perf_counter() - started,
            store_path=db.path,
            spec=spec,
        )
        summary = result.to_dict()
        summary.pop("run_id")
        life.finish(summary)
        return result
    except BaseException as err:
        life.fail(err)  # an interrupt says which run to resume
        raise
    finally:
        if own_model:
            lm.close()
        life.close()


def _score_cells(
    db: Store, run_id: int, lengths: Sequence[int], positions: Sequence[float]
) -> dict[str, dict[str, Any]]:
    """Accuracy per cell from the store, so a resumed run counts its earlier examples too."""
    tally: dict[str, list[int]] = {}
    tokens: dict[str, list[int]] = {}
    for rec in db.samples(run_id):
        extra = rec.extra or {}
        t = tally.setdefault(rec.task_id, [0, 0])
        t[0] += 1
        t[1] += int(bool(extra.get("correct")))
        tokens.setdefault(rec.task_id, []).append(int(extra.get("prompt_tokens", 0)))
    cells: dict[str, dict[str, Any]] = {}
    for n in lengths:
        for p in positions:
            cid = cell_id(n, p)
            total, correct = tally.get(cid, [0, 0])
            sizes = tokens.get(cid, [0])
            cells[cid] = {
                "length": n,
                "position": p,
                "examples": total,
                "correct": correct,
                "accuracy": correct / total if total else None,
                "mean_prompt_tokens": round(sum(sizes) / len(sizes), 1),
            }
    return cells
