"""The request lifecycle every API shares (`lifecycle.py`), through a real gateway and a real
llama.cpp replica: a client leaving mid-answer closes the upstream call and accounts the
request exactly once (the replica's other request keeps its place in the balancer), and a
replica's refusal comes back in each API's own error shape, streamed or whole."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from inference_testkit.waiting import async_wait_for

from .conftest import MODEL, Replica, RunningGateway

BIG = "hello " * 3000  # more tokens than a replica slot's context (1024)


def _body(api: str, text: str, tokens: int, stream: bool) -> tuple[str, dict[str, Any]]:
    """The path and body of a generation request in `api`'s own format."""
    messages = [{"role": "user", "content": text}]
    if api == "openai":
        return "/v1/chat/completions", {
            "model": MODEL,
            "messages": messages,
            "max_tokens": tokens,
            "ignore_eos": True,
            "stream": stream,
        }
    if api == "anthropic":
        return "/v1/messages", {
            "model": MODEL,
            "messages": messages,
            "max_tokens": tokens,
            "stream": stream,
        }
    if api == "ollama":
        return "/api/chat", {
            "model": MODEL,
            "messages": messages,
            "stream": stream,
            "options": {"num_predict": tokens},
        }
    return "/generate_stream" if stream else "/generate", {
        "inputs": text,
        "parameters": {"max_new_tokens": tokens},
    }


ERROR_SHAPES = {
    "openai": lambda b: b["error"]["type"] == "invalid_request_error",
    "anthropic": lambda b: b["type"] == "error" and b["error"]["type"] == "invalid_request_error",
    "ollama": lambda b: isinstance(b["error"], str),
    "tgi": lambda b: b["error_type"] == "validation",
}
CASES = [
    (api, stream) for api in ("openai", "anthropic", "ollama", "tgi") for stream in (False, True)
]


def _message(api: str, body: dict[str, Any]) -> str:
    error = body["error"]
    return str(error if isinstance(error, str) else error["message"])


async def _processing_slots(replica: Replica) -> set[int]:
    async with httpx.AsyncClient(timeout=5) as http:
        slots = (await http.get(replica.url + "/slots")).json()
    return {int(s["id"]) for s in slots if s.get("is_processing")}


async def _counter(gateway: RunningGateway, api: str, status: str) -> float:
    text = (await gateway.client.get("/metrics")).text
    line = f'gateway_requests_total{{api="{api}",model="{MODEL}",status="{status}"}} '
    match = re.search(re.escape(line) + r"([0-9.e+]+)", text)
    return float(match.group(1)) if match else 0.0


@asynccontextmanager
async def _companion(gateway: RunningGateway) -> AsyncIterator[None]:
    """A long streamed request holding one place on the replica while the test runs."""
    path, body = _body("openai", "Tell a story", 900, stream=True)
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=60) as http,
        http.stream("POST", path, headers=gateway.auth, json=body) as response,
    ):
        lines = response.aiter_lines()
        await lines.__anext__()
        yield


@pytest.mark.parametrize(("api", "stream"), CASES)
async def test_a_client_leaving_closes_the_call_and_accounts_the_request_once(
    gateway: RunningGateway, replicas: list[Replica], api: str, stream: bool
) -> None:
    replica = replicas[0]
    request_id = f"leaving-{api}-{'stream' if stream else 'whole'}"
    # TGI completes raw text: counting keeps it going as long as the chat prompts do
    text = "1, 2, 3, 4, 5, 6, 7, 8," if api == "tgi" else "Tell a long story"
    path, body = _body(api, text, 600, stream)
    headers = {**gateway.auth, "x-request-id": request_id}
    cancelled_before = await _counter(gateway, api, "499")
    async with _companion(gateway), httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
        assert gateway.state.balancer.outstanding == {replica.url: 1}
        companion_slots = await _processing_slots(replica)
        assert len(companion_slots) == 1

        async def two_generating() -> bool:
            return len(await _processing_slots(replica)) == 2

        if stream:
            async with http.stream("POST", path, headers=headers, json=body) as response:
                assert response.status_code == 200
                await async_wait_for(two_generating, timeout=30, what="request generating")
        else:
            task = asyncio.create_task(http.post(path, headers=headers, json=body))
            await async_wait_for(two_generating, timeout=30, what="request generating")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        async def accounted() -> bool:
            progress = gateway.state.tracker.get(request_id)
            return progress is not None and progress.finished_at is not None

        await async_wait_for(accounted, timeout=30, what="request accounted")
        progress = gateway.state.tracker.get(request_id)
        assert progress is not None
        assert progress.state == "cancelled"
        assert gateway.state.balancer.outstanding == {replica.url: 1}
        assert await _counter(gateway, api, "499") == cancelled_before + 1

        async def left_slot_idle() -> bool:
            # The companion may finish meanwhile on a slow machine: watch the other slot only.
            return not (await _processing_slots(replica)) - companion_slots

        await async_wait_for(left_slot_idle, timeout=30, what="replica stopped the request")


@pytest.mark.parametrize(("api", "stream"), CASES)
async def test_a_replica_refusal_is_the_api_s_own_error_streamed_or_whole(
    gateway: RunningGateway, api: str, stream: bool
) -> None:
    request_id = f"refused-{api}-{'stream' if stream else 'whole'}"
    path, body = _body(api, BIG, 1, stream)
    response = await gateway.client.post(
        path, headers={**gateway.auth, "x-request-id": request_id}, json=body
    )
    assert response.status_code == 400, response.text
    error = response.json()
    assert ERROR_SHAPES[api](error), error
    assert "exceeds the available context size" in _message(api, error)
    progress = gateway.state.tracker.get(request_id)
    assert progress is not None
    assert (progress.state, progress.finished_at is not None) == ("failed", True)
    assert gateway.state.balancer.outstanding == {}
