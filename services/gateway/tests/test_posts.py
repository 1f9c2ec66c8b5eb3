"""The POST endpoints: each path has its handler and the body model the handler declares,
each is an explicit Starlette route served by `PostEndpoint` (no FastAPI route behind it
whose dependencies could silently not run), and the OpenAPI document still describes it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route

from inference_gateway.app import create_app
from inference_gateway.posts import PostEndpoint, PostRoutes
from inference_gateway.routes import anthropic, ollama, openai, tgi
from inference_gateway.schemas import (
    ChatCompletionRequest,
    MessagesRequest,
    OllamaShowRequest,
    TgiGenerateRequest,
)
from inference_gateway.settings import GatewaySettings

POSTS = {p.path: p for m in (openai, ollama, tgi, anthropic) for p in m.posts.posts}
PATHS = {
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/messages",
    "/api/generate",
    "/api/chat",
    "/api/show",
    "/generate",
    "/generate_stream",
    "/",
}


def test_every_post_path_has_its_handler_and_body_model() -> None:
    assert set(POSTS) == PATHS
    assert POSTS["/v1/chat/completions"].model is ChatCompletionRequest
    assert POSTS["/v1/chat/completions"].handler is openai.create_chat_completion
    assert POSTS["/v1/messages"].model is MessagesRequest
    assert POSTS["/api/show"].model is OllamaShowRequest
    assert POSTS["/"].model is TgiGenerateRequest
    assert POSTS["/"].handler is tgi.tgi_compat_generate


def test_a_handler_without_a_body_model_is_refused_at_import() -> None:
    posts = PostRoutes("x")
    with pytest.raises(KeyError, match="body"):

        @posts.post("/x")
        async def no_body() -> None: ...


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(GatewaySettings(dev_mode=True, database_url=""), watch=False)


def test_post_paths_are_served_only_by_post_endpoints(app: FastAPI) -> None:
    for path in PATHS:
        posting = [
            r
            for r in app.routes
            if isinstance(r, Route) and r.path == path and "POST" in (r.methods or ())
        ]
        assert len(posting) == 1, path
        assert not isinstance(posting[0], APIRoute), path
        assert isinstance(posting[0].app, PostEndpoint), path


def test_the_openapi_document_describes_every_post(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path, post in POSTS.items():
        operation = paths[path]["post"]
        assert operation["operationId"] == post.handler.__name__
        assert operation["tags"] == [post.tag]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{post.model.__name__}"}
    assert paths["/v1/models"]["get"]["operationId"] == "list_models"
