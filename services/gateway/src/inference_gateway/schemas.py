"""Request bodies of each API as pydantic models (validation and the OpenAPI document).
Unknown fields are kept: sampling extensions pass through to llama.cpp."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- OpenAI / vLLM ---
class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(_Open):
    include_usage: bool | None = None


class ChatCompletionRequest(_Open):
    model: str | None = Field(None, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=0)
    max_completion_tokens: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    reasoning_format: str | None = None


class CompletionRequest(_Open):
    model: str | None = Field(None, max_length=256)
    prompt: str | list[str] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None


class EmbeddingRequest(_Open):
    model: str | None = Field(None, max_length=256)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] | None = None


# --- Ollama ---
class OllamaOptions(_Open):
    num_predict: int | None = None
    num_ctx: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0)
    stop: list[str] | None = None
    seed: int | None = None


class OllamaGenerateRequest(_Open):
    model: str | None = Field(None, max_length=256)
    prompt: str = ""
    system: str | None = None
    raw: bool = False
    stream: bool = True
    format: Literal["json"] | dict[str, Any] | None = None
    options: OllamaOptions | None = None
    think: bool | None = None
    keep_alive: str | int | None = None


class OllamaMessage(_Open):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""


class OllamaChatRequest(_Open):
    model: str | None = Field(None, max_length=256)
    messages: list[OllamaMessage] = Field(default_factory=list)
    stream: bool = True
    format: Literal["json"] | dict[str, Any] | None = None
    options: OllamaOptions | None = None
    think: bool | None = None
    tools: list[dict[str, Any]] | None = None
    keep_alive: str | int | None = None


class OllamaShowRequest(_Open):
    model: str | None = Field(None, max_length=256)
    name: str | None = Field(None, max_length=256)


# --- TGI ---
class TgiGrammar(BaseModel):
    type: Literal["json", "regex"]
    value: Any = None


class TgiParameters(_Open):
    max_new_tokens: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, gt=0)
    top_p: float | None = Field(None, gt=0, lt=1)
    top_k: int | None = Field(None, gt=0)
    repetition_penalty: float | None = Field(None, gt=0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = Field(None, ge=0)
    do_sample: bool = False
    details: bool = False
    return_full_text: bool | None = None
    grammar: TgiGrammar | None = None


class TgiGenerateRequest(_Open):
    inputs: str = Field(min_length=1)
    parameters: TgiParameters | None = None
    stream: bool = False
    model: str | None = Field(
        None, max_length=256, description="Gateway extension: which model; default smallest."
    )


# --- Anthropic ---
class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class AnthropicThinking(_Open):
    type: Literal["enabled", "disabled"]
    budget_tokens: int | None = Field(None, ge=0)


class MessagesRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    messages: list[AnthropicMessage] = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    system: str | list[dict[str, Any]] | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0)
    thinking: AnthropicThinking | None = None
    metadata: dict[str, Any] | None = None
