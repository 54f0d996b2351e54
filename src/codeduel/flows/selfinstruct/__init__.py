"""Self-instruct with execution feedback (Code Llama paper, section 2.5): questions from one
model, tests and solutions from a code model, the first solution that passes kept.

Rooms: :mod:`.prompts` (what the models are asked), :mod:`.parsing` (what is read back from
their answers), :mod:`.dedup` (near-duplicates and benchmark look-alikes), :mod:`.spec` (the
run's identity and result), :mod:`.job` (the resumable phases), :mod:`.export` (TRL records,
a ``datasets`` copy, re-scorable files) and :mod:`.flow` (the entry point).
"""

from codeduel.flows.selfinstruct.export import export
from codeduel.flows.selfinstruct.flow import selfinstruct
from codeduel.flows.selfinstruct.parsing import (
    ParsedTests,
    parse_question,
    parse_solution,
    parse_tests,
)
from codeduel.flows.selfinstruct.prompts import PHASES, hint_for
from codeduel.flows.selfinstruct.spec import SelfInstructResult, SelfInstructSpec

__all__ = [
    "PHASES",
    "ParsedTests",
    "SelfInstructResult",
    "SelfInstructSpec",
    "export",
    "hint_for",
    "parse_question",
    "parse_solution",
    "parse_tests",
    "selfinstruct",
]
