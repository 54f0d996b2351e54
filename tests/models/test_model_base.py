"""GenParams and Completion: validated, frozen, JSON round-trip for the results store."""

from __future__ import annotations

import json

import pydantic
import pytest

from codeduel.models import Completion, GenParams


def test_genparams_round_trips_through_json() -> None:
    params = GenParams(temperature=0.8, top_p=0.95, n=200, max_new_tokens=512, seed=7, stop=("\n",))
    data = json.loads(params.to_json())
    assert data["stop"] == ["\n"] and data["n"] == 200 and data["top_k"] is None
    assert GenParams.model_validate_json(params.to_json()) == params
    assert hash(params) == hash(GenParams.model_validate(data))
    assert not params.greedy and GenParams().greedy


@pytest.mark.parametrize(
    "bad",
    [{"n": 0}, {"temperature": -1}, {"top_p": 0}, {"stop": ("",)}, {"unknown": 1}],
)
def test_genparams_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        GenParams(**bad)  # type: ignore[arg-type]


def test_genparams_is_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        GenParams().n = 3  # type: ignore[misc]


def test_completion_serialises() -> None:
    c = Completion(
        text="    return 1\n",
        finish_reason="stop",
        stop_sequence="\ndef ",
        prompt_tokens=10,
        completion_tokens=5,
        seconds=0.5,
    )
    assert Completion.model_validate_json(c.model_dump_json()) == c
