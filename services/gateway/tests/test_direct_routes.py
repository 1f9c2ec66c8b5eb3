"""direct_routes: the inference endpoints DirectDispatch serves, with the body model each
handler declares; a path without such a route is a start-up error, not a silent miss."""

from __future__ import annotations

import pytest

from inference_gateway.app import DIRECT_PATHS
from inference_gateway.direct import direct_routes
from inference_gateway.routes import anthropic, ollama, openai, progress, tgi
from inference_gateway.schemas import ChatCompletionRequest, MessagesRequest, TgiGenerateRequest

ROUTERS = [m.router for m in (openai, ollama, tgi, anthropic, progress)]


def test_every_direct_path_has_its_handler_and_body_model() -> None:
    table = direct_routes(ROUTERS, DIRECT_PATHS)
    assert set(table) == set(DIRECT_PATHS)
    assert table["/v1/chat/completions"].model is ChatCompletionRequest
    assert table["/v1/chat/completions"].handler is openai.create_chat_completion
    assert table["/v1/messages"].model is MessagesRequest
    assert table["/"].model is TgiGenerateRequest
    assert table["/"].handler is tgi.tgi_compat_generate


@pytest.mark.parametrize("path", ["/v1/models", "/api/tags", "/nowhere"])
def test_a_path_without_a_post_body_route_is_refused(path: str) -> None:
    with pytest.raises(RuntimeError, match=path):
        direct_routes(ROUTERS, [path])
