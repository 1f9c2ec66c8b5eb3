"""What the gateway's access-log line says about an inference request (pure).

llama.cpp logs no caller-supplied id: its per-request lines are keyed by its own slot and
task ids (`slot print_timing: id  0 | task 5 | prompt eval time = …`), which its answers do
not carry. Its answers do carry `timings` — the same numbers those lines print — and a
completion id. So the gateway logs, next to the request id, llama.cpp's completion id, its
timings and `llama_log_key`: the text of llama.cpp's `prompt eval time` line for this
request, exactly as llama.cpp prints it. `grep -F "<llama_log_key>"` on the replica's log
finds the line, and with it the slot and task whose other lines belong to the request."""

from __future__ import annotations

from typing import Any

_TIMING_FIELDS = ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms")


def llama_log_key(prompt_ms: float, prompt_n: int) -> str:
    """llama.cpp's `print_timing` text (`prompt eval time = %10.2f ms / %5d tokens`)."""
    return f"prompt eval time = {prompt_ms:10.2f} ms / {prompt_n:5d} tokens"


def llama_identifiers(answer: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's own identifiers in one of its answers (a whole answer or a stream
    chunk): its completion id, its timings and the log key they give. Empty when it has
    none (an embedding, a chunk before the last)."""
    found: dict[str, Any] = {}
    completion_id = answer.get("id")
    if isinstance(completion_id, str):
        found["llama_completion_id"] = completion_id
    timings = answer.get("timings")
    if isinstance(timings, dict):
        values = {name: timings.get(name) for name in _TIMING_FIELDS}
        numbers = {
            name: value
            for name, value in values.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        if len(numbers) == len(_TIMING_FIELDS):
            found.update({f"llama_{name}": value for name, value in numbers.items()})
            found["llama_log_key"] = llama_log_key(
                float(numbers["prompt_ms"]), int(numbers["prompt_n"])
            )
    return found


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def access_fields(
    api: str,
    model: str,
    server_uuid: str | None,
    replica: str | None,
    outcome: str,
    error_kind: str | None,
    tokens: int,
    upstream_seconds: float | None,
    ttft_seconds: float | None,
    llama: dict[str, Any],
) -> dict[str, Any]:
    """The fields an inference request adds to its access-log line (None fields left out)."""
    fields: dict[str, Any] = {
        "api": api,
        "model": model,
        "server_uuid": server_uuid,
        "replica": replica,
        "outcome": outcome,
        "error": error_kind,
        "tokens": tokens,
        "upstream_ms": _ms(upstream_seconds),
        "ttft_ms": _ms(ttft_seconds),
        **llama,
    }
    return {k: v for k, v in fields.items() if v is not None}
