"""Reasoning output end to end: the model's output is forced with a llama.cpp grammar to
`<think>plan</think>done`, then each API places the reasoning its own way."""

from __future__ import annotations

import json

import anthropic
import ollama
import openai

from .conftest import MODEL, Cluster, GatewayFactory, Replica, RunningGateway

GRAMMAR = 'root ::= "<think>plan</think>done"'
USER = [{"role": "user", "content": "Think, then answer."}]


async def test_openai_reasoning_content(gateway: RunningGateway) -> None:
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=gateway.token)
    result = await client.chat.completions.create(
        model=MODEL, messages=USER, max_tokens=30, extra_body={"grammar": GRAMMAR}
    )
    message = result.choices[0].message
    assert message.content == "done"
    assert message.model_extra is not None
    assert message.model_extra["reasoning_content"] == "plan"
    kept = await client.chat.completions.create(
        model=MODEL,
        messages=USER,
        max_tokens=30,
        extra_body={"grammar": GRAMMAR, "reasoning_format": "none"},
    )
    assert kept.choices[0].message.content == "<think>plan</think>done"


async def test_openai_reasoning_stream(gateway: RunningGateway) -> None:
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=gateway.token)
    stream = await client.chat.completions.create(
        model=MODEL, messages=USER, max_tokens=30, stream=True, extra_body={"grammar": GRAMMAR}
    )
    reasoning = content = ""
    async for chunk in stream:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
    assert (reasoning, content) == ("plan", "done")


async def test_ollama_keeps_it_inline_unless_think(gateway: RunningGateway) -> None:
    client = ollama.AsyncClient(host=gateway.url, headers=gateway.auth)
    options = {"num_predict": 30, "grammar": GRAMMAR}
    plain = await client.chat(model=MODEL, messages=USER, options=options)
    assert plain.message.content == "<think>plan</think>done"
    thought = await client.chat(model=MODEL, messages=USER, options=options, think=True)
    assert thought.message.content == "done"
    assert thought.message.thinking == "plan"
    parts = [
        p
        async for p in await client.generate(
            model=MODEL, prompt="x", options=options, think=True, stream=True
        )
    ]
    assert "".join(p.thinking or "" for p in parts) == "plan"
    assert "".join(p.response for p in parts) == "done"


async def test_anthropic_thinking_blocks(gateway: RunningGateway) -> None:
    client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=gateway.token, max_retries=0)
    message = await client.messages.create(
        model=MODEL, max_tokens=30, messages=USER, extra_body={"grammar": GRAMMAR}
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "plan"  # type: ignore[union-attr]
    assert message.content[1].text == "done"  # type: ignore[union-attr]
    async with client.messages.stream(
        model=MODEL, max_tokens=30, messages=USER, extra_body={"grammar": GRAMMAR}
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    inline = await client.messages.create(
        model=MODEL,
        max_tokens=30,
        messages=USER,
        extra_body={"grammar": GRAMMAR, "thinking": {"type": "disabled"}},
    )
    assert [b.type for b in inline.content] == ["text"]
    assert inline.content[0].text == "<think>plan</think>done"  # type: ignore[union-attr]


async def test_global_inline_setting(
    cluster: Cluster, replicas: list[Replica], gateway_factory: GatewayFactory
) -> None:
    cluster.serve("inline", MODEL, [replicas[1].ip])
    gw = await gateway_factory(GATEWAY_REASONING="inline")
    await gw.wait_routable(MODEL)
    response = await gw.client.post(
        "/v1/chat/completions",
        headers=gw.auth,
        json={"model": MODEL, "messages": USER, "max_tokens": 30, "grammar": GRAMMAR},
    )
    message = response.json()["choices"][0]["message"]
    assert message["content"] == "<think>plan</think>done"
    assert "reasoning_content" not in message
    assert json.dumps(message)
