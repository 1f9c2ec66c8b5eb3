"""Ollama wire format (/api/generate, /api/chat, /api/tags, /api/show, /api/ps): requests
become OpenAI-style requests for the replica; replica events become Ollama's NDJSON
objects. Reasoning stays inline unless the request asks `think`, then it goes to `thinking`.
Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inference_gateway.errors import GatewayError, Kind
from inference_gateway.events import Usage, inline_thinking
from inference_gateway.model_facts import ModelFacts
from inference_gateway.reasoning import Piece

VERSION = "0.12.0"

_OPTION_MAP = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "seed": "seed",
    "repeat_penalty": "repeat_penalty",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "typical_p": "typical_p",
    "repeat_last_n": "repeat_last_n",
}


def now_iso(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def options_to_openai(options: dict[str, Any] | None) -> dict[str, Any]:
    """Ollama `options` as llama.cpp request fields. num_ctx cannot change per request
    (the replica's context is fixed when it starts); it is accepted and checked by the
    caller against the model's context."""
    out: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if key in _OPTION_MAP:
            out[_OPTION_MAP[key]] = value
        elif key == "num_predict":
            if isinstance(value, int) and value >= 0:
                out["max_tokens"] = value
        elif key == "stop":
            stops = [value] if isinstance(value, str) else list(value or [])
            if stops:
                out["stop"] = stops
        elif key == "grammar":  # llama.cpp extension, passed through
            out["grammar"] = value
    return out


def _format(fmt: Any) -> dict[str, Any]:
    if fmt in (None, ""):
        return {}
    if fmt == "json":
        return {"response_format": {"type": "json_object"}}
    if isinstance(fmt, dict):
        return {"response_format": {"type": "json_object", "schema": fmt}}
    raise GatewayError(Kind.INVALID, 'format must be "json" or a JSON schema')


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def chat_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    messages = [
        {"role": m.get("role", "user"), "content": _content(m)}
        for m in body.get("messages") or []
        if isinstance(m, dict)
    ]
    out: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
    if body.get("tools"):
        out["tools"] = body["tools"]
    out.update(_format(body.get("format")))
    out.update(options_to_openai(body.get("options")))
    out["stream_options"] = {"include_usage": True}
    out["reasoning_format"] = "none"
    return out


def generate_request(body: dict[str, Any], model: str) -> tuple[str, dict[str, Any]]:
    """(replica path, body): raw prompts go to /v1/completions untouched; others through
    the model's chat template like Ollama does."""
    prompt = body.get("prompt") or ""
    out: dict[str, Any] = {"model": model, "stream": True}
    if body.get("raw"):
        out["prompt"] = prompt
        path = "/v1/completions"
    else:
        messages = []
        if body.get("system"):
            messages.append({"role": "system", "content": body["system"]})
        messages.append({"role": "user", "content": prompt})
        out["messages"] = messages
        out["reasoning_format"] = "none"
        path = "/v1/chat/completions"
    out.update(_format(body.get("format")))
    out.update(options_to_openai(body.get("options")))
    out["stream_options"] = {"include_usage": True}
    return path, out


def done_reason(finish_reason: str | None) -> str:
    return "length" if finish_reason == "length" else "stop"


@dataclass
class OllamaEncoder:
    """Builds Ollama's response objects for /api/chat (chat=True) or /api/generate."""

    model: str
    chat: bool
    think: bool
    _in_think: bool = False
    _content: list[str] = field(default_factory=list)
    _thinking: list[str] = field(default_factory=list)

    def _split(self, pieces: Sequence[Piece]) -> tuple[str, str]:
        if self.think:
            thinking = "".join(t for k, t in pieces if k == "thinking")
            content = "".join(t for k, t in pieces if k == "content")
            return content, thinking
        text, self._in_think = inline_thinking(pieces, self._in_think)
        return text, ""

    def _body(self, content: str, thinking: str) -> dict[str, Any]:
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            return {"model": self.model, "created_at": now_iso(), "message": message}
        out: dict[str, Any] = {"model": self.model, "created_at": now_iso(), "response": content}
        if thinking:
            out["thinking"] = thinking
        return out

    def chunk(self, pieces: Sequence[Piece]) -> dict[str, Any] | None:
        content, thinking = self._split(pieces)
        if not content and not thinking:
            return None
        self._content.append(content)
        self._thinking.append(thinking)
        return {**self._body(content, thinking), "done": False}

    def final(
        self,
        finish_reason: str | None,
        usage: Usage | None,
        total_seconds: float,
        whole: bool,
    ) -> dict[str, Any]:
        """The last object (stream) or the whole answer (whole=True)."""
        content = "".join(self._content) if whole else ""
        thinking = "".join(self._thinking) if whole else ""
        usage = usage or Usage()
        out = self._body(content, thinking)
        out.update(
            {
                "done": True,
                "done_reason": done_reason(finish_reason),
                "total_duration": int(total_seconds * 1e9),
                "load_duration": 0,
                "prompt_eval_count": usage.prompt_tokens,
                "prompt_eval_duration": int((usage.prompt_ms or 0) * 1e6),
                "eval_count": usage.completion_tokens,
                "eval_duration": int((usage.predicted_ms or 0) * 1e6),
            }
        )
        return out


def _details(facts: ModelFacts | None) -> dict[str, Any]:
    arch = facts.architecture if facts else None
    params = facts.parameter_count if facts else None
    return {
        "parent_model": "",
        "format": "gguf",
        "family": arch or "",
        "families": [arch] if arch else None,
        "parameter_size": _human_params(params),
        "quantization_level": (facts.file_type or "") if facts else "",
    }


def _human_params(count: int | None) -> str:
    if not count:
        return ""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}".replace(".0", "")
    return str(count)


def tag_entry(
    name: str, size: int | None, digest: str | None, modified: int, facts: ModelFacts | None
) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": now_iso(datetime.fromtimestamp(modified, UTC)),
        "size": size or 0,
        "digest": digest or "",
        "details": _details(facts),
    }


def ps_entry(
    name: str,
    size: int | None,
    digest: str | None,
    facts: ModelFacts | None,
    context_length: int | None,
) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "size": size or 0,
        "digest": digest or "",
        "details": _details(facts),
        "expires_at": "0001-01-01T00:00:00Z",
        "size_vram": 0,
        "context_length": context_length or 0,
    }


def show_response(facts: ModelFacts | None, modified: int) -> dict[str, Any]:
    """/api/show: `model_info` carries the GGUF metadata with `<arch>.context_length`."""
    arch = (facts.architecture if facts else None) or "unknown"
    info: dict[str, Any] = {}
    if facts is not None:
        for key, value in facts.metadata.items():
            small_list = isinstance(value, list) and len(value) <= 64
            if small_list or isinstance(value, (str, int, float, bool)) or value is None:
                info[key] = value
            else:
                info[key] = None  # large arrays (tokenizer vocab) are elided like Ollama's
        info["general.architecture"] = arch
        if facts.parameter_count is not None:
            info.setdefault("general.parameter_count", facts.parameter_count)
        if facts.context_length is not None:
            info[f"{arch}.context_length"] = facts.context_length
    return {
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": _details(facts),
        "model_info": info,
        "capabilities": ["completion"],
        "modified_at": now_iso(datetime.fromtimestamp(modified, UTC)),
    }
