"""Hugging Face TGI wire format (/generate, /generate_stream, /info). Prompts are raw text
(TGI applies no chat template) and go to the replica's /v1/completions; stop sequences are
matched by the gateway so the finish reason can say `stop_sequence`. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference_gateway.errors import GatewayError, Kind
from inference_gateway.events import Usage

DEFAULT_MAX_NEW_TOKENS = 100
MAX_STOP_SEQUENCES = 4


def parameters_of(body: dict[str, Any]) -> dict[str, Any]:
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise GatewayError(Kind.INVALID, "parameters must be an object")
    return params


def stops_of(params: dict[str, Any]) -> list[str]:
    stops = params.get("stop") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise GatewayError(Kind.INVALID, "parameters.stop must be a list of strings")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise GatewayError(
            Kind.INVALID,
            f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: {len(stops)}",
        )
    return stops


def completion_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    params = parameters_of(body)
    max_new = params.get("max_new_tokens")
    out: dict[str, Any] = {
        "model": model,
        "prompt": body.get("inputs", ""),
        "max_tokens": DEFAULT_MAX_NEW_TOKENS if max_new is None else max_new,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if params.get("do_sample") is False and params.get("temperature") is None:
        out["temperature"] = 0.0
    for key in ("temperature", "top_p", "top_k", "seed", "typical_p"):
        if params.get(key) is not None:
            out[key] = params[key]
    if params.get("repetition_penalty") is not None:
        out["repeat_penalty"] = params["repetition_penalty"]
    if params.get("frequency_penalty") is not None:
        out["frequency_penalty"] = params["frequency_penalty"]
    if params.get("grammar") is not None:  # TGI: {"type": "json"|"regex", "value": ...}
        grammar = params["grammar"]
        if isinstance(grammar, dict) and grammar.get("type") == "json":
            out["json_schema"] = grammar.get("value")
        else:
            raise GatewayError(Kind.INVALID, "only grammar.type 'json' is supported")
    return out


def finish_reason(upstream_finish: str | None, stop_sequence: str | None) -> str:
    if stop_sequence is not None:
        return "stop_sequence"
    if upstream_finish == "length":
        return "length"
    return "eos_token"


@dataclass(frozen=True)
class Generation:
    """A finished generation, as /generate answers it and /generate_stream's last event
    carries it."""

    text: str
    params: dict[str, Any]
    prompt: str
    reason: str
    usage: Usage | None
    tokens: int

    @property
    def generated_text(self) -> str:
        return (self.prompt + self.text) if self.params.get("return_full_text") else self.text

    def stream_details(self) -> dict[str, Any]:
        return {
            "finish_reason": self.reason,
            "generated_tokens": (self.usage.completion_tokens if self.usage else 0) or self.tokens,
            "seed": self.params.get("seed"),
        }

    def details(self) -> dict[str, Any]:
        """The non-streamed `details`: the streamed ones plus the (empty) token lists."""
        return {**self.stream_details(), "prefill": [], "tokens": []}


def generate_response(generation: Generation) -> dict[str, Any]:
    out: dict[str, Any] = {"generated_text": generation.generated_text}
    if generation.params.get("details"):
        out["details"] = generation.details()
    return out


def stream_token(index: int, text: str) -> dict[str, Any]:
    return {
        "index": index,
        "token": {"id": 0, "text": text, "logprob": 0.0, "special": False},
        "generated_text": None,
        "details": None,
        "top_tokens": None,
    }


def stream_final(index: int, generation: Generation) -> dict[str, Any]:
    return {
        "index": index,
        "token": {"id": 0, "text": "", "logprob": 0.0, "special": True},
        "generated_text": generation.generated_text,
        "details": generation.stream_details(),
        "top_tokens": None,
    }


def info(model: str, context_length: int | None, version: str) -> dict[str, Any]:
    ctx = context_length or 4096
    return {
        "model_id": model,
        "model_sha": None,
        "model_dtype": "gguf",
        "model_device_type": "llama.cpp",
        "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": 128,
        "max_best_of": 1,
        "max_stop_sequences": MAX_STOP_SEQUENCES,
        "max_input_tokens": max(ctx - 1, 1),
        "max_total_tokens": ctx,
        "validation_workers": 1,
        "max_client_batch_size": 1,
        "router": "inference-gateway",
        "version": version,
        "sha": None,
        "docker_label": None,
    }
