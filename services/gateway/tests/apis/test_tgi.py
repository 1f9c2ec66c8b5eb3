from __future__ import annotations

from typing import Any

import pytest

from inference_gateway.apis import tgi as api
from inference_gateway.errors import GatewayError
from inference_gateway.events import Usage


def test_completion_request_maps_parameters() -> None:
    body = api.completion_request(
        {
            "inputs": "Once",
            "parameters": {
                "max_new_tokens": 5,
                "temperature": 0.5,
                "seed": 3,
                "repetition_penalty": 1.2,
                "stop": ["."],
            },
        },
        "m",
    )
    assert body["prompt"] == "Once"
    assert body["max_tokens"] == 5
    assert body["temperature"] == 0.5
    assert body["seed"] == 3
    assert body["repeat_penalty"] == 1.2
    assert "stop" not in body  # matched by the gateway
    assert api.completion_request({"inputs": "x"}, "m")["max_tokens"] == 100
    greedy = api.completion_request({"inputs": "x", "parameters": {"do_sample": False}}, "m")
    assert greedy["temperature"] == 0.0


@pytest.mark.parametrize(
    ("finish", "stop", "reason"),
    [("length", None, "length"), ("stop", None, "eos_token"), ("stop", ".", "stop_sequence")],
)
def test_finish_reason(finish: str, stop: str | None, reason: str) -> None:
    assert api.finish_reason(finish, stop) == reason


def test_stops_validation() -> None:
    assert api.stops_of({"stop": ["a"]}) == ["a"]
    with pytest.raises(GatewayError):
        api.stops_of({"stop": ["a"] * 5})
    with pytest.raises(GatewayError):
        api.stops_of({"stop": "a"})


def test_generate_response_with_details_and_full_text() -> None:
    params: dict[str, Any] = {"details": True, "return_full_text": True, "seed": 1}
    out = api.generate_response(api.Generation(" upon", params, "Once", "length", Usage(1, 2), 2))
    assert out["generated_text"] == "Once upon"
    assert out["details"]["finish_reason"] == "length"
    assert out["details"]["generated_tokens"] == 2
    assert api.generate_response(api.Generation("x", {}, "p", "eos_token", None, 1)) == {
        "generated_text": "x"
    }


def test_stream_events() -> None:
    token = api.stream_token(1, "a")
    assert token["token"]["text"] == "a"
    assert token["generated_text"] is None
    final = api.stream_final(2, api.Generation("ab", {}, "p", "length", None, 2))
    assert final["generated_text"] == "ab"
    assert final["details"]["finish_reason"] == "length"
    assert final["token"]["special"] is True
