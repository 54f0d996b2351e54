"""Self-instruct with execution feedback: instruction data made the way Code Llama Instruct's was.

The recipe (Code Llama paper, section 2.5): a model writes interview-style programming
questions; a code model writes unit tests (in ``[TESTS]`` tags) and several solutions (in
``[PYTHON]`` tags) per question; every solution runs against the tests; the first one that
passes is kept. Here, in order:

1. **Questions.** One chat request per question (batched 8 at a time), each with a topic, a
   difficulty and an input type drawn from a seeded RNG, because one small model asked the
   same thing N times writes the same question N times. :data:`QUESTION_PROMPT` keeps the
   paper's wording ("programming interview questions of easy and medium complexity ... solved
   with a single standalone Python function using standard libraries") but asks for one
   question, shows no example questions (a 0.5B model given examples copied the first one, 4
   times out of 4) and prefills the answer with "Write a Python function" (without it, the
   0.5B model asked "Can you explain ..." questions that no function answers).
2. **Deduplication and decontamination** of the questions (:mod:`.dedup`): exact and MinHash
   near duplicates go, then questions too close to a HumanEval or MBPP problem.
3. **Tests.** Greedy, one-shot with the paper's example, the answer prefilled with ``[TESTS]``
   so even a small model stays in the format. Top-level ``assert`` lines (and imports) are
   kept, the first ``tests`` of them; a block in which no assert parses, whose asserts call
   no function, or that tests the one-shot example's function drops the question ("tests
   failing to parse").
4. **Solutions.** ``solutions`` samples per question (T=0.8, top-p 0.95 by default, seeded per
   question), one-shot, shown only the first test so they can infer the signature (the paper's
   "hidden tests"), prefilled with ``[PYTHON]``.
5. **Execution.** Every solution runs with all of its question's tests in the sandbox, in
   ``concat`` mode because model-written tests are untrusted code (see
   :mod:`codeduel.tasks.selfinstruct`). The first passing solution whose code is not too close
   to a benchmark solution is kept; a question with none is dropped.

Everything (prompts, raw answers, parsed questions, tests, solutions, verdicts) is written to
the results store as it is made, as one run of kind ``selfinstruct`` keyed by the hash of its
spec; rerunning the same job continues an unfinished run without regenerating anything already
stored. Resumed output equals uninterrupted output: question batches have fixed positions and
seeds, tests are greedy, solutions are seeded per question.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from codeduel.errors import CodeduelError
from codeduel.execution.base import Limits
from codeduel.flows.selfinstruct.dedup import (
    CODE_THRESHOLD,
    NEAR_DUP_THRESHOLD,
    TEXT_THRESHOLD,
    Decontaminator,
    benchmark_decontaminator,
)
from codeduel.flows.selfinstruct.export import export
from codeduel.flows.selfinstruct.job import _Job
from codeduel.flows.selfinstruct.prompts import (
    QUESTION_PROMPT,
    SOLUTION_PROMPT,
    TESTS_PROMPT,
    ProgressFn,
)
from codeduel.flows.selfinstruct.spec import (
    SelfInstructResult,
    SelfInstructSpec,
    _spec_name,
    _validate,
    check_output_dir,
)
from codeduel.models import Model, load_model, resolve
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import Store
from codeduel.tasks.base import PYTHON_PACKAGES
from codeduel.tasks.selfinstruct import (
    SELFINSTRUCT_TIMEOUT_S,
)


def selfinstruct(
    questioner: str | None = None,
    coder: str | None = None,
    *,
    questions: int = 10,
    tests: int = 5,
    solutions: int = 10,
    seed: int = 0,
    question_temperature: float = 0.8,
    question_max_tokens: int = 128,
    tests_max_tokens: int = 384,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 512,
    near_dup_threshold: float = NEAR_DUP_THRESHOLD,
    decontaminate: Sequence[str] = ("humaneval", "mbpp"),
    text_threshold: float = TEXT_THRESHOLD,
    code_threshold: float = CODE_THRESHOLD,
    timeout_s: float = SELFINSTRUCT_TIMEOUT_S,
    output: str | Path | None = None,
    save_hf: bool = False,
    data_dir: str | Path | None = None,
    store: str | Path | Store | None = None,
    workers: int | None = None,
    questioner_model: Model | None = None,
    coder_model: Model | None = None,
    progress: ProgressFn | None = None,
) -> SelfInstructResult:
    """Make instruction data with ``questioner`` and ``coder`` (model specs; None = embedded).

    ``questions`` questions are asked; each surviving one gets ``tests`` tests and
    ``solutions`` solutions. ``decontaminate`` names the benchmarks to remove look-alikes of
    (empty: none; their data comes from ``data_dir``/``$CODEDUEL_DATA_DIR``). ``output`` is a
    folder for ``train.jsonl`` and the files ``codeduel evaluate`` re-scores (see
    :func:`export`); ``save_hf`` also writes a Hugging Face ``datasets`` copy. Rerunning with the
    same arguments resumes an unfinished job. ``*_model`` reuse models already loaded (their
    specs must still be given for the record). ``progress(phase, done, total)`` follows
    :data:`PHASES`.
    """
    started = time.perf_counter()
    _validate(
        {
            "--questions": questions,
            "--tests": tests,
            "--solutions": solutions,
            "--max-new-tokens": max_new_tokens,
            "--tests-max-tokens": tests_max_tokens,
            "--question-max-tokens": question_max_tokens,
        },
        (temperature, question_temperature),
        top_p,
    )
    if timeout_s <= 0:
        raise CodeduelError(f"invalid timeout {timeout_s}", "give a positive number of seconds")
    q_spec, c_spec = resolve(questioner), resolve(coder)  # unknown specs fail before loading
    out_dir = check_output_dir(Path(output)) if output is not None else None
    bench = tuple(dict.fromkeys(decontaminate))
    deco: Decontaminator | None = None
    if bench:
        deco = benchmark_decontaminator(
            bench, data_dir, text_threshold=text_threshold, code_threshold=code_threshold
        )

    life = RunLifecycle(store)
    db = life.db
    loaded: list[Model] = []
    executor = None
    try:
        q_model = questioner_model
        if q_model is None:
            q_model = load_model(q_spec)
            loaded.append(q_model)
        c_model = coder_model
        if c_model is None:
            if (c_spec.prefix, c_spec.target) == (q_spec.prefix, q_spec.target):
                c_model = q_model  # one model plays both roles: load it once
            else:
                c_model = load_model(c_spec)
                loaded.append(c_model)
        q_info, c_info = q_model.info(), c_model.info()
        spec = SelfInstructSpec(
            questioner=_spec_name(questioner),
            questioner_weights=q_info.weights_id,
            questioner_sha256=q_info.sha256,
            coder=_spec_name(coder),
            coder_weights=c_info.weights_id,
            coder_sha256=c_info.sha256,
            questions=questions,
            tests=tests,
            solutions=solutions,
            seed=seed,
            question_temperature=question_temperature,
            question_max_tokens=question_max_tokens,
            tests_max_tokens=tests_max_tokens,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            near_dup_threshold=near_dup_threshold,
            decontaminate=bench,
            text_threshold=text_threshold,
            code_threshold=code_threshold,
            timeout_s=timeout_s,
        )
        key = spec.key()
        record = {
            **spec.model_dump(mode="json"),
            "questioner_info": q_info.model_dump(),
            "coder_info": c_info.model_dump(),
            "prompts": {
                "question": QUESTION_PROMPT,
                "tests": TESTS_PROMPT,
                "solution": SOLUTION_PROMPT,
            },
        }
        run_id, resumed = life.start(kind="selfinstruct", key=key, spec=record, task="selfinstruct")
        job = _Job(db, run_id, spec, q_model, c_model, deco, progress)

        from codeduel.execution.pool import LocalExecutor

        executor = LocalExecutor(
            workers=workers, limits=Limits(timeout_s=timeout_s), packages=PYTHON_PACKAGES
        )
        job.executor = executor
        job.run()
        summary, records = job.summarize()
        result = SelfInstructResult(
            run_id=run_id,
            spec=spec,
            records=records,
            summary=summary,
            resumed=resumed,
            generated_now=dict(job.generated_now),
            duration_s=time.perf_counter() - started,
            store_path=db.path,
        )
        if out_dir is not None:
            result.output = out_dir
            result.files = export(records, summary, out_dir, save_hf=save_hf)
        stored = {**summary, "resumed": resumed, "files": result.files}
        life.finish(stored)
        return result
    except BaseException as err:
        life.fail(err)  # an interrupt says which run to resume
        raise
    finally:
        if executor is not None:
            executor.close()
        for m in loaded:
            m.close()
        life.close()
