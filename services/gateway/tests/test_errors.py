from __future__ import annotations

import pytest

from inference_gateway.errors import (
    Api,
    GatewayError,
    Kind,
    api_of_path,
    dependency_outage,
    error_payload,
)


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/v1/chat/completions", Api.OPENAI),
        ("/v1/models", Api.OPENAI),
        ("/authz/servers/abc", Api.OPENAI),
        ("/v1/messages", Api.ANTHROPIC),
        ("/api/chat", Api.OLLAMA),
        ("/api/progress/abc", Api.PLATFORM),
        ("/generate", Api.TGI),
        ("/generate_stream", Api.TGI),
        ("/info", Api.TGI),
        ("/metrics", Api.PLATFORM),
        ("/", Api.TGI),
    ],
)
def test_api_of_path(path: str, api: Api) -> None:
    assert api_of_path(path) == api


NOT_FOUND = GatewayError(Kind.NOT_FOUND, "model 'x' not found", param="model")


@pytest.mark.parametrize(
    ("api", "body"),
    [
        (
            Api.OPENAI,
            {
                "error": {
                    "message": "model 'x' not found",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_found",
                }
            },
        ),
        (
            Api.ANTHROPIC,
            {
                "type": "error",
                "error": {"type": "not_found_error", "message": "model 'x' not found"},
            },
        ),
        (Api.OLLAMA, {"error": "model 'x' not found"}),
        (Api.TGI, {"error": "model 'x' not found", "error_type": "not_found"}),
        (
            Api.PLATFORM,
            {"error": {"type": "not_found", "message": "model 'x' not found", "detail": None}},
        ),
    ],
)
def test_each_api_renders_its_own_error(api: Api, body: dict[str, object]) -> None:
    assert error_payload(api, NOT_FOUND) == body


def test_unavailable_carries_retry_after() -> None:
    error = GatewayError(Kind.UNAVAILABLE, "busy", retry_after=7)
    assert error.status == 503
    assert error.headers() == {"Retry-After": "7"}
    assert GatewayError(Kind.UNAUTHENTICATED, "no").headers() == {"WWW-Authenticate": "Bearer"}


@pytest.mark.parametrize(
    ("api", "body"),
    [
        (
            Api.OPENAI,
            {
                "error": {
                    "message": "database unavailable",
                    "type": "server_error",
                    "param": None,
                    "code": "service_unavailable",
                }
            },
        ),
        (
            Api.ANTHROPIC,
            {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "database unavailable"},
            },
        ),
        (Api.OLLAMA, {"error": "database unavailable"}),
        (Api.TGI, {"error": "database unavailable", "error_type": "overloaded"}),
        (
            Api.PLATFORM,
            {
                "error": {
                    "type": "unavailable",
                    "message": "database unavailable",
                    "detail": {"dependency": "database"},
                }
            },
        ),
    ],
)
def test_dependency_outage_in_each_api_shape(api: Api, body: dict[str, object]) -> None:
    error = dependency_outage("database")
    assert error.status == 503
    assert error.headers() == {"Retry-After": "5"}
    assert error_payload(api, error) == body


RATE_LIMITED = GatewayError(
    Kind.RATE_LIMITED, "slow down", headers={"x-ratelimit-limit-requests": "3"}
)


@pytest.mark.parametrize(
    ("api", "body"),
    [
        (
            Api.OPENAI,
            {
                "error": {
                    "message": "slow down",
                    "type": "rate_limit_error",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
        ),
        (
            Api.ANTHROPIC,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
        ),
        (Api.OLLAMA, {"error": "slow down"}),
        (Api.TGI, {"error": "slow down", "error_type": "overloaded"}),
        (
            Api.PLATFORM,
            {"error": {"type": "too_many_requests", "message": "slow down", "detail": None}},
        ),
    ],
)
def test_rate_limited_in_each_api_s_shape(api: Api, body: dict[str, object]) -> None:
    assert error_payload(api, RATE_LIMITED) == body
    assert RATE_LIMITED.status == 429
    assert RATE_LIMITED.headers() == {"x-ratelimit-limit-requests": "3"}
