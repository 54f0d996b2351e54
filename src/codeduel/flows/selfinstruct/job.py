"""One self-instruct run's phases over one store run: questions, dedup and
decontamination, tests, solutions, execution, each resumable from what the store holds."""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

from codeduel.execution.base import Verdict
from codeduel.flows.selfinstruct.dedup import (
    Decontaminator,
    find_duplicates,
)
from codeduel.flows.selfinstruct.parsing import parse_question, parse_solution, parse_tests
from codeduel.flows.selfinstruct.prompts import (
    BATCH,
    QUESTION_PREFILL,
    ProgressFn,
    derive_seed,
    hint_for,
    question_messages,
    solution_messages,
    tests_messages,
)
from codeduel.flows.selfinstruct.spec import (
    SelfInstructSpec,
    completion_extra,
    messages_record,
    qid,
)
from codeduel.models import GenParams, Model
from codeduel.records.store import SampleRecord, Store
from codeduel.tasks.selfinstruct import (
    judge_program,
)


class _Job:
    """The phases of one self-instruct run over one store run (resumable at every step)."""

    def __init__(
        self,
        db: Store,
        run_id: int,
        spec: SelfInstructSpec,
        questioner: Model,
        coder: Model,
        deco: Decontaminator | None,
        progress: ProgressFn | None,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.spec = spec
        self.questioner = questioner
        self.coder = coder
        self.deco = deco
        self.progress = progress
        self.executor: Any = None
        self.generated_now = {"questions": 0, "tests": 0, "solutions": 0, "judged": 0}
        self.rows: dict[tuple[str, int], SampleRecord] = {}
        self.judged: set[tuple[str, int]] = set()
        self._reload()

    def _reload(self) -> None:
        self.rows = {(s.task_id, s.sample_idx): s for s in self.db.samples(self.run_id)}
        self.judged = self.db.sample_keys(self.run_id, judged=True)

    def _tick(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    # -- phases ---------------------------------------------------------------------------
    def run(self) -> None:
        self._questions()
        candidates = self._screen()[0]
        self._tests(candidates)
        self._solutions(candidates)

    def _questions(self) -> None:
        spec = self.spec
        total = spec.questions
        done = sum(1 for i in range(total) if (f"{qid(i)}/question", 0) in self.rows)
        self._tick("questions", done, total)
        for start in range(0, total, BATCH):
            batch = [i for i in range(start, min(start + BATCH, total))]
            if all((f"{qid(i)}/question", 0) in self.rows for i in batch):
                continue
            hints = [hint_for(spec.seed, i) for i in batch]
            convs = [question_messages(h) for h in hints]
            params = GenParams(
                max_new_tokens=spec.question_max_tokens,
                temperature=spec.question_temperature,
                top_p=0.95 if spec.question_temperature > 0 else 1.0,
                seed=derive_seed(spec.seed, f"questions:{start}"),
            )
            answers = self.questioner.chat(convs, params)
            records = []
            for i, hint, conv, comps in zip(batch, hints, convs, answers, strict=True):
                comp = comps[0]
                records.append(
                    SampleRecord(
                        task_id=f"{qid(i)}/question",
                        sample_idx=0,
                        completion=parse_question(QUESTION_PREFILL + comp.text),
                        prompt=messages_record(conv),
                        raw_output=comp.text,
                        params=json.loads(params.to_json()),
                        extra={"stage": "question", "hint": hint, **completion_extra(comp)},
                    )
                )
            self._add(records)
            self.generated_now["questions"] += len(records)
            done += len(records)
            self._tick("questions", done, total)

    def _screen(self) -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
        """Questions that survive dedup and decontamination, and why the others did not."""
        usable: list[tuple[str, str]] = []
        dropped: dict[str, dict[str, Any]] = {}
        for i in range(self.spec.questions):
            rec = self.rows[(f"{qid(i)}/question", 0)]
            if rec.completion:
                usable.append((qid(i), rec.completion))
            else:
                dropped[qid(i)] = {"reason": "unusable question"}
        dups = find_duplicates([q for _, q in usable], self.spec.near_dup_threshold)
        candidates: list[tuple[str, str]] = []
        for (q_id, text), status in zip(usable, dups.status, strict=True):
            if status is not None:
                kind, twin = status
                dropped[q_id] = {"reason": f"{kind} duplicate", "of": usable[twin][0]}
                continue
            match = self.deco.text_match(text) if self.deco is not None else None
            if match is not None:
                dropped[q_id] = {
                    "reason": "contaminated question",
                    "source": match.source,
                    "score": round(match.score, 3),
                }
                continue
            candidates.append((q_id, text))
        return candidates, dropped

    def _tests(self, candidates: list[tuple[str, str]]) -> None:
        spec = self.spec
        total = len(candidates)
        todo = [(q, text) for q, text in candidates if (f"{q}/tests", 0) not in self.rows]
        done = total - len(todo)
        self._tick("tests", done, total)
        params = GenParams(max_new_tokens=spec.tests_max_tokens, stop=("[/TESTS]",))
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            convs = [tests_messages(text, spec.tests) for _, text in batch]
            answers = self.coder.chat(convs, params)
            records = []
            for (q, _), conv, comps in zip(batch, convs, answers, strict=True):
                comp = comps[0]
                parsed = parse_tests("[TESTS]\n" + comp.text, spec.tests)
                records.append(
                    SampleRecord(
                        task_id=f"{q}/tests",
                        sample_idx=0,
                        completion=parsed.code if parsed.ok else None,
                        prompt=messages_record(conv),
                        raw_output=comp.text,
                        params=json.loads(params.to_json()),
                        extra={
                            "stage": "tests",
                            "imports": parsed.imports,
                            "asserts": parsed.asserts,
                            "entry_point": parsed.entry_point,
                            "error": parsed.error,
                            **completion_extra(comp),
                        },
                    )
                )
            self._add(records)
            self.generated_now["tests"] += len(records)
            done += len(records)
            self._tick("tests", done, total)

    def _solutions(self, candidates: list[tuple[str, str]]) -> None:
        spec = self.spec
        with_tests = [
            (q, text, self.rows[(f"{q}/tests", 0)])
            for q, text in candidates
            if self.rows[(f"{q}/tests", 0)].completion
        ]
        n = spec.solutions
        total = len(with_tests) * n
        pending: list[tuple[str, int, Future[Verdict]]] = []
        judged = sum(
            1 for q, _, _ in with_tests for j in range(n) if (f"{q}/solution", j) in self.judged
        )

        def submit(q: str, j: int, code: str, tests_src: str) -> None:
            program = judge_program(code, tests_src, f"{q}#{j}", spec.timeout_s)
            pending.append((q, j, self.executor.submit(program)))

        def drain(wait: bool = False) -> None:
            nonlocal judged
            ready = [p for p in pending if wait or p[2].done()]
            if not ready:
                return
            self.db.add_verdicts(
                self.run_id, [(f"{q}/solution", j, fut.result()) for q, j, fut in ready]
            )
            taken = {id(p) for p in ready}
            pending[:] = [p for p in pending if id(p) not in taken]
            judged += len(ready)
            self.generated_now["judged"] += len(ready)
            self._tick("judging", judged, total)

        generated = sum(1 for q, _, _ in with_tests if (f"{q}/solution", 0) in self.rows)
        self._tick("solutions", generated * n, total)
        self._tick("judging", judged, total)
        for q, _, tests_rec in with_tests:  # resume: judge stored solutions without a verdict
            for j in range(n):
                rec = self.rows.get((f"{q}/solution", j))
                if rec is not None and (rec.task_id, j) not in self.judged:
                    submit(q, j, rec.completion or "", tests_rec.completion or "")
        for q, text, tests_rec in with_tests:
            if (f"{q}/solution", 0) in self.rows:
                continue
            extra = tests_rec.extra or {}
            conv = solution_messages(text, extra["asserts"][0])
            params = GenParams(
                max_new_tokens=spec.max_new_tokens,
                temperature=spec.temperature,
                top_p=spec.top_p,
                n=n,
                stop=("[/PYTHON]",),
                seed=derive_seed(spec.seed, f"solutions:{q}"),
            )
            comps = self.coder.chat([conv], params)[0]
            records = []
            for j, comp in enumerate(comps):
                code, method = parse_solution("[PYTHON]\n" + comp.text, extra.get("entry_point"))
                records.append(
                    SampleRecord(
                        task_id=f"{q}/solution",
                        sample_idx=j,
                        completion=code,
                        prompt=messages_record(conv),
                        raw_output=comp.text,
                        params=json.loads(params.to_json()),
                        extra={
                            "stage": "solution",
                            "extraction": method,
                            **completion_extra(comp),
                        },
                    )
                )
            self._add(records)
            self.generated_now["solutions"] += len(records)
            for rec in records:
                submit(q, rec.sample_idx, rec.completion or "", tests_rec.completion or "")
            generated += 1
            self._tick("solutions", generated * n, total)
            drain()
        drain(wait=True)
        self._reload()

    def _add(self, records: list[SampleRecord]) -> None:
        self.db.add_samples(self.run_id, records)
        for rec in records:
            self.rows[(rec.task_id, rec.sample_idx)] = rec

    # -- results --------------------------------------------------------------------------
    def summarize(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Counts and kept records, from the store alone (so a resumed run counts everything)."""
        spec = self.spec
        candidates, dropped = self._screen()
        verdicts = {(v.task_id, v.sample_idx): v for v in self.db.verdicts(self.run_id)}
        records: list[dict[str, Any]] = []
        pass_rates: dict[str, float] = {}
        solutions_run = solutions_passed = 0
        for q, text in candidates:
            tests_rec = self.rows[(f"{q}/tests", 0)]
            if not tests_rec.completion:
                dropped[q] = {
                    "reason": "tests failing to parse",
                    "error": (tests_rec.extra or {}).get("error"),
                }
                continue
            passing: list[SampleRecord] = []
            ran = 0
            for j in range(spec.solutions):
                v = verdicts.get((f"{q}/solution", j))
                if v is None:
                    continue
                ran += 1
                if v.passed:
                    passing.append(self.rows[(f"{q}/solution", j)])
            solutions_run += ran
            solutions_passed += len(passing)
            pass_rates[q] = len(passing) / ran if ran else 0.0
            if not passing:
                dropped[q] = {"reason": "no passing solution"}
                continue
            chosen = None
            match = None
            for rec in passing:
                match = self.deco.code_match(rec.completion or "") if self.deco else None
                if match is None:
                    chosen = rec
                    break
            if chosen is None:
                assert match is not None
                dropped[q] = {
                    "reason": "contaminated solution",
                    "source": match.source,
                    "score": round(match.score, 3),
                }
                continue
            extra = tests_rec.extra or {}
            code = chosen.completion or ""
            records.append(
                {
                    "id": q,
                    "messages": [
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": f"[PYTHON]\n{code}\n[/PYTHON]"},
                    ],
                    "question": text,
                    "solution": code,
                    "tests": tests_rec.completion,
                    "entry_point": extra.get("entry_point"),
                    "solution_index": chosen.sample_idx,
                    "pass_rate": pass_rates[q],
                }
            )
        reasons: dict[str, int] = {}
        for info in dropped.values():
            reasons[info["reason"]] = reasons.get(info["reason"], 0) + 1
        summary = {
            "questions_generated": spec.questions,
            "unusable_questions": reasons.get("unusable question", 0),
            "exact_duplicates": reasons.get("exact duplicate", 0),
            "near_duplicates": reasons.get("near duplicate", 0),
            "contaminated_questions": reasons.get("contaminated question", 0),
            "tests_failing_to_parse": reasons.get("tests failing to parse", 0),
            "solutions_run": solutions_run,
            "solutions_passed": solutions_passed,
            "no_passing_solution": reasons.get("no passing solution", 0),
            "contaminated_solutions": reasons.get("contaminated solution", 0),
            "kept": len(records),
            "yield": len(records) / spec.questions,
            "pass_rate_per_question": pass_rates,
            "mean_pass_rate": (sum(pass_rates.values()) / len(pass_rates)) if pass_rates else None,
            "dropped": dict(sorted(dropped.items())),
        }
        return summary, records


# -- export ------------------------------------------------------------------------------------
