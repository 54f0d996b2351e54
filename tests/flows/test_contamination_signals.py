"""Contamination signals: recall, Min-K%, Min-K%++ and AUC on hand-made inputs, then Min-K% on
the embedded model, which must tell texts it has certainly seen from freshly written ones.

The real check (issue 17, point 3): passages of texts copied verbatim across the public web and
every code host (the MIT licence, the Apache-2.0 header, the GPL-2.0+ header, the BSD-3-Clause
conditions, PEP 20) against passages written for this test in the same style and of similar
length (made-up licences and a made-up list of aphorisms). A Min-K% that cannot separate the
two on these would be no evidence of anything on benchmark problems.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import pytest

from codeduel.flows.contamination.signals import (
    Recall,
    auc,
    min_k_percent,
    min_k_plus_plus,
    verbatim_recall,
)
from codeduel.models import load_model
from codeduel.models.base import (
    Completion,
    GenParams,
    Message,
    Model,
    ModelInfo,
    Prompt,
    TokenLogprobs,
    TokenMoments,
)

pytestmark = pytest.mark.timeout(300)


def _chars(text: str) -> list[int]:
    """A stand-in tokenizer: one token per character."""
    return [ord(c) for c in text]


def _words(text: str) -> list[int]:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return [hash(w) for w in text.split()]


REFERENCE = "def add(a, b):\n    total = a + b\n    return total\n"


# -- verbatim_recall -----------------------------------------------------------------------------


def test_exact_recall_ignores_line_endings_and_trailing_space() -> None:
    said = "Here it is:\r\ndef add(a, b):   \r\n    total = a + b\r\n    return total\r\n# done\r\n"
    got = verbatim_recall(said, REFERENCE, _words)
    assert got.exact
    assert got.reference_tokens == len(REFERENCE.split())
    assert got.longest_common_run == got.reference_tokens
    assert 0.0 < got.similarity < 1.0  # the extra line and comment are not the reference


def test_identical_code_is_similarity_one() -> None:
    got = verbatim_recall(REFERENCE, REFERENCE, _chars)
    assert got == Recall(True, len(REFERENCE.rstrip("\n")), len(REFERENCE.rstrip("\n")), 1.0)


def test_reformatted_code_is_not_exact_but_similar_through_ast() -> None:
    said = "def add(a,b):\n  total=(a+b)\n  return total  # same thing\n"
    got = verbatim_recall(said, REFERENCE, _chars)
    assert not got.exact
    assert got.similarity == 1.0  # ast.unparse drops layout, parentheses and comments


def test_renamed_identifiers_are_near_but_not_exact() -> None:
    said = "def plus(x, y):\n    s = x + y\n    return s\n"
    got = verbatim_recall(said, REFERENCE, _chars)
    assert not got.exact
    assert 0.6 < got.similarity < 1.0
    unrelated = verbatim_recall("import os\nprint(os.getcwd())\n", REFERENCE, _chars)
    assert unrelated.similarity < got.similarity
    assert unrelated.longest_common_run < got.longest_common_run


def test_indented_body_is_found_and_parsed() -> None:
    body = "    total = a + b\n    return total\n"
    got = verbatim_recall(REFERENCE, body, _chars)
    assert got.exact
    assert got.similarity < 1.0  # the continuation also has the def line


def test_text_that_does_not_parse_falls_back_to_whitespace() -> None:
    got = verbatim_recall("the  answer\n is   forty two", "the answer is forty two", _chars)
    assert not got.exact
    assert got.similarity == 1.0


def test_empty_reference_and_empty_continuation() -> None:
    assert verbatim_recall("anything", " \n\t\n", _chars) == Recall(False, 0, 0, 0.0)
    got = verbatim_recall("", REFERENCE, _chars)
    assert not got.exact
    assert got.longest_common_run == 0
    assert got.similarity == 0.0


# -- min_k_percent -------------------------------------------------------------------------------


def _lp(*values: float | None) -> TokenLogprobs:
    return TokenLogprobs(tokens=list(range(len(values))), logprobs=list(values))


def test_min_k_is_the_mean_of_the_lowest_fraction() -> None:
    lp = _lp(None, -0.1, -5.0, -0.2, -3.0, -0.3, -0.1, -0.1, -0.2, -0.1, -0.4)
    assert min_k_percent(lp, 0.2) == pytest.approx(-4.0)  # 10 scored: the lowest 2
    assert min_k_percent(lp, 1.0) == pytest.approx(-9.5 / 10)
    assert min_k_percent(lp, 0.01) == pytest.approx(-5.0)  # at least one token


def test_min_k_edge_cases() -> None:
    assert min_k_percent(_lp(-2.5), 0.2) == -2.5
    assert math.isnan(min_k_percent(_lp(None), 0.2))  # a one-token text without BOS
    assert math.isnan(min_k_percent(_lp(), 0.2))
    with pytest.raises(ValueError, match="k must be"):
        min_k_percent(_lp(-1.0), 0.0)
    with pytest.raises(ValueError, match="k must be"):
        min_k_percent(_lp(-1.0), 1.5)


# -- min_k_plus_plus -----------------------------------------------------------------------------


class ScriptedModel(Model):
    """Returns the moments it was given (or None, as llama.cpp does)."""

    backend = "fake"

    def __init__(self, moments: list[TokenMoments] | None) -> None:
        self.moments = moments

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Completion]]:
        raise NotImplementedError

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        raise NotImplementedError

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        raise NotImplementedError

    def next_token_moments(self, texts: Sequence[str]) -> list[TokenMoments] | None:
        return None if self.moments is None else self.moments[: len(texts)]

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return _chars(text)

    def info(self) -> ModelInfo:
        return ModelInfo(backend="fake", spec="fake", weights_id="fake", context_window=64)


def test_min_k_plus_plus_standardises_each_token() -> None:
    m = TokenMoments(
        tokens=[1, 2, 3, 4, 5, 6],
        logprobs=[None, -1.0, -4.0, -2.0, -3.0, -1.0],
        means=[None, -2.0, -2.0, -2.0, -1.0, -1.0],
        stds=[None, 1.0, 2.0, 0.5, 1.0, 0.0],  # the last has sigma 0: skipped
    )
    # z = 1, -1, 0, -2 -> k=0.5 keeps the lowest two: (-2 + -1) / 2
    assert min_k_plus_plus(ScriptedModel([m]), ["x"], 0.5) == [pytest.approx(-1.5)]
    assert min_k_plus_plus(ScriptedModel([m]), ["x"], 0.2) == [pytest.approx(-2.0)]
    empty = TokenMoments(tokens=[1], logprobs=[None], means=[None], stds=[None])
    assert math.isnan(min_k_plus_plus(ScriptedModel([empty]), ["x"])[0])  # type: ignore[index]


def test_min_k_plus_plus_is_none_without_the_distribution() -> None:
    assert min_k_plus_plus(ScriptedModel(None), ["a", "b"]) is None


# -- auc -----------------------------------------------------------------------------------------


def test_auc_perfect_chance_and_inverted() -> None:
    assert auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auc([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert auc([1.0, 4.0], [2.0, 3.0]) == 0.5


def test_auc_ties_count_half() -> None:
    assert auc([1.0], [1.0]) == 0.5
    assert auc([2.0, 1.0], [1.0]) == 0.75  # one win, one tie
    assert auc([1.0, 1.0, 1.0], [1.0, 1.0]) == 0.5


def test_auc_needs_both_classes_and_no_nan() -> None:
    with pytest.raises(ValueError, match="at least one"):
        auc([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        auc([math.nan], [1.0])


# -- the embedded model: memorised against fresh texts -------------------------------------------

MIT = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

APACHE = """\
Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
"""

GPL = """\
This program is free software; you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation; either version 2 of the License, or
(at your option) any later version.

This program is distributed in the hope that it will be useful,
but WITHOUT ANY WARRANTY; without even the implied warranty of
MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
GNU General Public License for more details.
"""

BSD = """\
Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.
"""

ZEN = """\
Beautiful is better than ugly.
Explicit is better than implicit.
Simple is better than complex.
Complex is better than complicated.
Flat is better than nested.
Sparse is better than dense.
Readability counts.
Special cases aren't special enough to break the rules.
Although practicality beats purity.
Errors should never pass silently.
Unless explicitly silenced.
In the face of ambiguity, refuse the temptation to guess.
There should be one-- and preferably only one --obvious way to do it.
Although that way may not be obvious at first unless you're Dutch.
Now is better than never.
Although never is often better than *right* now.
If the implementation is hard to explain, it's a bad idea.
If the implementation is easy to explain, it may be a good idea.
Namespaces are one honking great idea -- let's do more of those!
"""

# Written for this test (2026-12): same genres, lengths and layout, wording of their own.
FRESH_PERMISSIVE = """\
Leave is given, at no cost, to every person or group that receives this
program and the notes shipped beside it (together, the "Work") to run, study,
reshape, bundle, lend and hand on the Work, in whole or in part, and to let
those who receive it from them do likewise, on the two terms set out below:

Every copy, trimmed or complete, must carry this notice and the name of the
collective, placed where a reader would look for it first.

THE WORK IS HANDED OVER PLAINLY, WITH NO PROMISE OF ANY SORT, WRITTEN OR
UNDERSTOOD, ABOUT ITS SOUNDNESS, ITS SAFETY OR ITS USEFULNESS FOR A GIVEN
TASK. THE COLLECTIVE AND ITS MEMBERS ANSWER FOR NO LOSS, HARM OR COST THAT
FOLLOWS FROM THE WORK, FROM ITS MISUSE OR FROM ANY TRADE CONDUCTED WITH IT,
HOWEVER THAT LOSS CAME ABOUT, WHOEVER BRINGS THE COMPLAINT, AND WHATEVER THE
COURT OR COUNCIL THAT HEARS IT.
"""

FRESH_HEADER = """\
Shared under the Brackenfield Open Terms, Edition 4 (the "Terms");
this file may be copied only by those who accept the Terms.
A full copy of the Terms is kept in the folder named

    docs/terms/BRACKENFIELD-4.txt

Except where a signed agreement says otherwise, this file is offered
to you as it stands, and its authors make no pledge, stated or hinted,
about how it behaves. Read the Terms to learn what you may do with the
file and which duties you take on by doing so.
"""

FRESH_COPYLEFT = """\
This collection is open to everyone; you may share it and rework it
following the conditions of the Riverbend Common Charter as set down by
the Riverbend Stewards Guild; pick edition 3 of the Charter, or, if
you like, any edition the Guild issues afterwards.

The collection is shared hoping that it serves someone well,
yet it comes WITHOUT ANY GUARANTEE; not even an unstated guarantee of
SOUNDNESS or SUITABILITY FOR A SPECIFIC JOB.  Consult the
Riverbend Common Charter for the complete wording.
"""

FRESH_CONDITIONS = """\
Copying and reuse of this work, as text or as built programs, with or
without edits, are allowed when every one of these rules is kept:

1. Copies of the text must keep the notice of authorship above, this
   set of rules and the disclaimer that closes it.

2. Built programs must repeat the notice of authorship above, this set
   of rules and the disclaimer in the manual or other papers that travel
   with the program.

3. The name of the workshop and the names of those who helped may not
   be used to praise or sell goods made from this work unless they
   agree to it in writing beforehand.
"""

FRESH_ZEN = """\
A quiet failure is worse than a loud one.
Small functions travel further than clever ones.
Names are promises, so keep them.
A test that never fails teaches nothing.
Delete before you abstract.
The log is read by a tired person at night.
Configuration is code that forgot to be tested.
One owner beats three reviewers.
If the diff is hard to read, the design is hard to change.
Prefer the boring library over the exciting one.
A cache is a second source of truth, and the second one lies.
Write the error message for the person who will see it.
Timeouts belong on every call that crosses a wire.
Old code that works has earned some respect.
Make it obvious, then make it fast, then stop.
Comments should say why, because the code already says what.
The speed of the build is the speed of the team.
Every flag is a fork you will maintain for ever.
"""


def passages(text: str, words: int = 24) -> list[str]:
    """Consecutive lines grouped until each passage has ``words`` words (a short rest joins the
    last one): 16-53 tokens each, 35 on average."""
    out: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        out[-1].append(line)
        if sum(len(x.split()) for x in out[-1]) >= words:
            out.append([])
    if len(out) > 1 and sum(len(x.split()) for x in out[-1]) < words // 2:
        last = out.pop()
        out[-1] += last
    return ["".join(p).strip("\n") + "\n" for p in out if "".join(p).strip()]


# Every other passage (21 per class split, 11 kept): llama.cpp scores at decode speed, about
# 20-30 tokens/s on one core, so the 770 tokens kept cost 30-50 s.
SEEN = [p for text in (MIT, APACHE, GPL, BSD, ZEN) for p in passages(text)][::2]
FRESH = [
    p
    for text in (FRESH_PERMISSIVE, FRESH_HEADER, FRESH_COPYLEFT, FRESH_CONDITIONS, FRESH_ZEN)
    for p in passages(text)
][::2]


@pytest.fixture(scope="module")
def embedded() -> Iterator[Model]:
    """The default embedded model (Qwen2.5-Coder-0.5B-Instruct, llama.cpp) on one thread, as the
    perplexity test runs it: steady when other work shares the cores."""
    with load_model(None, n_ctx=1024, n_parallel=8, n_threads=1) as loaded:
        yield loaded


def test_min_k_separates_memorised_from_fresh_text(embedded: Model) -> None:
    """Min-K% (k=0.2) must rank widely copied texts above fresh ones of the same genre.

    Measured on this model (xllamacpp 2026.10, 2 busy CPUs, 2026-12-03): AUC 0.85 and 0.86 in
    two runs on these 11 + 11 passages (0.96 on the other half of the passages, 0.91 on all
    21 + 21), mean Min-K% -6.5 for the seen passages against -10.7 for the fresh ones; 770
    tokens, 29 s of CPU (48 s wall beside another test run). Why the AUC is not 1: a 0.5B model
    recalls PEP 20 only weakly (its passages score -7 to -10, fresh aphorisms -11 to -13) and
    every passage starts mid-text, where the first tokens surprise in both classes. Asserted:
    AUC >= 0.7, which a score without signal reaches with p < 0.05 at 11 + 11 (Mann-Whitney),
    and leaves 18 of the 121 pairs to numeric differences across CPUs and llama.cpp builds;
    and the seen mean above the fresh mean by at least 2 nats (measured 4.2).
    """
    started = time.perf_counter()
    scored = embedded.loglikelihood(SEEN + FRESH)
    scores = [min_k_percent(lp, 0.2) for lp in scored]
    seen, fresh = scores[: len(SEEN)], scores[len(SEEN) :]
    area = auc(seen, fresh)
    seen_mean, fresh_mean = sum(seen) / len(seen), sum(fresh) / len(fresh)
    print(
        f"Min-K% AUC {area:.3f}, seen mean {seen_mean:.2f}, fresh mean {fresh_mean:.2f}, "
        f"{sum(len(lp.tokens) for lp in scored)} tokens in {time.perf_counter() - started:.1f}s"
    )
    for text, score in zip(SEEN + FRESH, scores, strict=True):
        print(f"{score:8.3f}  {text[:50]!r}")
    assert area >= 0.7
    assert seen_mean - fresh_mean >= 2.0


def test_recall_on_the_real_tokenizer(embedded: Model) -> None:
    """Longest common run counts the model's own tokens."""
    reference = APACHE
    said = "# " + APACHE.splitlines()[0] + "\n# something else entirely\n"
    got = verbatim_recall(said, reference, embedded.tokenize)
    assert not got.exact
    assert got.reference_tokens == len(embedded.tokenize(reference.strip("\n")))
    first_line = len(embedded.tokenize(APACHE.splitlines()[0]))
    assert first_line - 2 <= got.longest_common_run <= first_line + 1
    assert verbatim_recall(APACHE, reference, embedded.tokenize).exact


def test_min_k_plus_plus_is_none_on_llama_cpp(embedded: Model) -> None:
    """llama.cpp gives only the top few log-probs per position, not the whole distribution."""
    assert min_k_plus_plus(embedded, SEEN[:1]) is None
