"""Routing across replicas: default model, no ready replica, least-outstanding balancing,
failover when a replica dies (before and during a response), re-admission once it is
ready again, and cancellation of upstream work when the client disconnects."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from inference_testkit.waiting import async_wait_for

from .conftest import (
    MODEL,
    Cluster,
    GatewayFactory,
    Replica,
    RunningGateway,
    replica_command,
    start_replica,
    wait_healthy,
)

LONG = {"max_tokens": 150, "temperature": 1.0, "ignore_eos": True}


def _chat(model: str | None, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"messages": [{"role": "user", "content": "Tell a story"}], **extra}
    if model is not None:
        body["model"] = model
    return body


async def _slots_busy(replica: Replica) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        slots = (await http.get(replica.url + "/slots")).json()
    return sum(1 for s in slots if s.get("is_processing"))


async def test_no_model_goes_to_the_smallest_ready_model(
    cluster: Cluster, replicas: list[Replica], gateway_factory: GatewayFactory
) -> None:
    cluster.serve("big", "big:7b", [replicas[0].ip], size=7_000_000_000)
    cluster.serve("small", "small:135m", [replicas[1].ip], size=98_000_000)
    cluster.serve("tiny", "tiny:1m", [], size=1)  # no ready replica: never the default
    gw = await gateway_factory()
    await gw.wait_routable("big:7b")
    await gw.wait_routable("small:135m")
    response = await gw.client.post(
        "/v1/completions", headers=gw.auth, json={"prompt": "a", "max_tokens": 1}
    )
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "small:135m"


async def test_known_model_without_ready_replica_is_503_with_retry_after(
    cluster: Cluster, replicas: list[Replica], gateway_factory: GatewayFactory
) -> None:
    cluster.serve("cold", "cold:1b", [replicas[0].ip], ready=False)
    gw = await gateway_factory()
    await async_wait_for(lambda: _known(gw, "cold:1b"), timeout=30, what="serve known")
    for path, body in [
        ("/v1/chat/completions", _chat("cold:1b", max_tokens=1)),
        ("/api/generate", {"model": "cold:1b", "prompt": "x"}),
        (
            "/v1/messages",
            {"model": "cold:1b", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]},
        ),
        ("/generate", {"inputs": "x", "model": "cold:1b"}),
    ]:
        response = await gw.client.post(path, headers=gw.auth, json=body)
        assert response.status_code == 503, (path, response.text)
        assert response.headers["retry-after"] == "3"
    # readiness arrives through the EndpointSlice: routable without restarting anything
    cluster.set_endpoints("cold", [replicas[0].ip], ready=True)
    await gw.wait_routable("cold:1b")
    ok = await gw.client.post(
        "/v1/chat/completions", headers=gw.auth, json=_chat("cold:1b", max_tokens=1)
    )
    assert ok.status_code == 200


async def _known(gw: RunningGateway, model: str) -> bool:
    return bool(gw.state.catalog.find(model))


async def test_least_outstanding_spreads_concurrent_streams(
    cluster: Cluster, replicas: list[Replica], gateway_factory: GatewayFactory
) -> None:
    cluster.serve("pair", MODEL, [r.ip for r in replicas])
    gw = await gateway_factory()
    await gw.wait_routable(MODEL, count=2)
    async with httpx.AsyncClient(base_url=gw.url, timeout=60) as http:
        streams = [
            http.stream(
                "POST",
                "/v1/chat/completions",
                headers=gw.auth,
                json=_chat(MODEL, stream=True, **LONG),
            )
            for _ in range(4)
        ]
        responses = [await s.__aenter__() for s in streams]
        lines = [r.aiter_lines() for r in responses]  # kept: dropping one closes its stream
        try:
            for response, it in zip(responses, lines, strict=True):
                assert response.status_code == 200
                await it.__anext__()  # output arrived: the request is on a replica
            assert sorted(gw.state.balancer.outstanding.values()) == [2, 2]
            busy = [await _slots_busy(r) for r in replicas]
            assert busy == [2, 2]
        finally:
            for stream in streams:
                await stream.__aexit__(None, None, None)
    # closing the client streams cancels the generation on both replicas
    await async_wait_for(lambda: _idle(replicas), timeout=30, what="replicas idle")


async def _idle(replicas: list[Replica]) -> bool:
    return all([await _slots_busy(r) == 0 for r in replicas])


@pytest.fixture
def spare(replicas: list[Replica], tmp_path: Path) -> Iterator[Replica]:
    """A third replica this test may kill and restart."""
    with ExitStack() as stack:
        replica = start_replica(stack, tmp_path)
        wait_healthy(replica)
        yield replica


def _kill(replica: Replica) -> None:
    for proc in replica.host.processes:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    replica.host.processes.clear()


def _restart(replica: Replica) -> None:
    replica.host.spawn(replica_command(replica.ip), log=replica.log)


async def test_failover_mid_stream_and_readmission(
    cluster: Cluster,
    replicas: list[Replica],
    spare: Replica,
    gateway_factory: GatewayFactory,
) -> None:
    cluster.serve("ha", MODEL, [replicas[0].ip, spare.ip])
    gw = await gateway_factory()
    await gw.wait_routable(MODEL, count=2)
    async with httpx.AsyncClient(base_url=gw.url, timeout=60) as http:
        first = http.stream(
            "POST", "/v1/chat/completions", headers=gw.auth, json=_chat(MODEL, stream=True, **LONG)
        )
        second = http.stream(
            "POST", "/v1/chat/completions", headers=gw.auth, json=_chat(MODEL, stream=True, **LONG)
        )
        r1 = await first.__aenter__()
        r2 = await second.__aenter__()
        try:
            lines1 = r1.aiter_lines()
            lines2 = r2.aiter_lines()
            await lines1.__anext__()
            await lines2.__anext__()
            assert gw.state.balancer.outstanding == {replicas[0].url: 1, spare.url: 1}
            _kill(spare)
            rest = [line async for line in lines1] + [line async for line in lines2]
        finally:
            await first.__aexit__(None, None, None)
            await second.__aexit__(None, None, None)
    # the stream that was on the dead replica ends with an OpenAI error event
    assert any('"error"' in line and "failed during the response" in line for line in rest)
    assert spare.url in gw.state.balancer.ejected
    # meanwhile every request succeeds on the remaining replica
    for _ in range(3):
        ok = await gw.client.post(
            "/v1/chat/completions", headers=gw.auth, json=_chat(MODEL, max_tokens=1)
        )
        assert ok.status_code == 200
    # ready again (health probe) → taken back in
    _restart(spare)
    await async_wait_for(lambda: _readmitted(gw, spare), timeout=120, what="re-admission")


async def _readmitted(gw: RunningGateway, replica: Replica) -> bool:
    return replica.url not in gw.state.balancer.ejected


async def test_dead_replica_before_output_is_retried_elsewhere(
    cluster: Cluster,
    replicas: list[Replica],
    spare: Replica,
    gateway_factory: GatewayFactory,
) -> None:
    _kill(spare)
    cluster.serve("ha2", MODEL, [replicas[1].ip, spare.ip])
    gw = await gateway_factory()
    await gw.wait_routable(MODEL, count=2)
    results = await asyncio.gather(
        *[
            gw.client.post("/v1/chat/completions", headers=gw.auth, json=_chat(MODEL, max_tokens=1))
            for _ in range(4)
        ]
    )
    assert [r.status_code for r in results] == [200] * 4
    assert spare.url in gw.state.balancer.ejected


async def test_client_disconnect_cancels_upstream_non_stream(
    gateway: RunningGateway, replicas: list[Replica]
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
        task = asyncio.create_task(
            http.post(
                "/api/generate",
                headers=gateway.auth,
                json={
                    "model": MODEL,
                    "prompt": "Tell a long story",
                    "stream": False,
                    "options": {"num_predict": 400},
                },
            )
        )
        await async_wait_for(lambda: _busy(replicas[0]), timeout=30, what="generation started")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await async_wait_for(lambda: _idle([replicas[0]]), timeout=30, what="generation cancelled")


async def _busy(replica: Replica) -> bool:
    return await _slots_busy(replica) > 0
