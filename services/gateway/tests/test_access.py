"""Table tests of who may use which server, which servers a request pools, and which
forwarded paths reach a model server."""

from __future__ import annotations

import pytest

from inference_common.server_identity import NAMESPACE, PRIVATE, PUBLIC
from inference_gateway.access import (
    is_inference_path,
    may_use_server,
    route_pool,
    strip_server_prefix,
)
from inference_gateway.auth import ANONYMOUS, Principal
from inference_gateway.catalog import ServeInfo

ALICE = Principal("user:a", "jwt", user_id="a", namespaces=frozenset({"ns"}))
BOB = Principal("user:b", "jwt", user_id="b", namespaces=frozenset({"ns", "team"}))
CAROL = Principal("user:c", "jwt", user_id="c", namespaces=frozenset({"elsewhere"}))
ADMIN = Principal("user:root", "jwt", user_id="root", role="admin")


def serve(
    name: str, model: str, owner: str | None, visibility: str, aliases: tuple[str, ...] = ()
) -> ServeInfo:
    return ServeInfo("ns", name, model, aliases, owner=owner, visibility=visibility)


ALICE_PRIVATE = serve("a1", "smollm2:135m", "a", PRIVATE)
ALICE_PUBLIC = serve("a2", "smollm2:135m", "a", PUBLIC)
BOB_PRIVATE = serve("b1", "smollm2:135m", "b", PRIVATE)
BOB_PUBLIC = serve("b2", "smollm2:135m", "b", PUBLIC)
UNOWNED = serve("k1", "smollm2:135m", None, PUBLIC)
BOB_ALIAS = serve("b3", "other:1b", "b", PUBLIC, aliases=("smollm2:135m",))
BOB_LATEST = serve("b4", "qwen", "b", PUBLIC)
ALICE_QWEN = serve("a4", "qwen:latest", "a", PRIVATE)
ALICE_TEAM = serve("a5", "smollm2:135m", "a", NAMESPACE)


@pytest.mark.parametrize(
    ("principal", "server", "allowed"),
    [
        (ALICE, ALICE_PRIVATE, True),
        (BOB, ALICE_PRIVATE, False),
        (ANONYMOUS, ALICE_PRIVATE, False),
        (ADMIN, ALICE_PRIVATE, True),
        (BOB, ALICE_PUBLIC, True),
        (ANONYMOUS, ALICE_PUBLIC, True),
        (BOB, UNOWNED, True),
        (Principal("user:?", "jwt"), serve("x", "m", None, PRIVATE), False),  # no owner, no id
        (ALICE, ALICE_TEAM, True),
        (BOB, ALICE_TEAM, True),  # allowed in the server's namespace
        (CAROL, ALICE_TEAM, False),  # not allowed there
        (ANONYMOUS, ALICE_TEAM, False),
        (ADMIN, ALICE_TEAM, True),
        (CAROL, ServeInfo("team", "t", "m", owner="a", visibility=NAMESPACE), False),
        (BOB, ServeInfo("team", "t", "m", owner="a", visibility=NAMESPACE), True),
        (BOB, ServeInfo("team", "t", "m", owner="a", visibility=PRIVATE), False),
    ],
)
def test_may_use_server(principal: Principal, server: ServeInfo, allowed: bool) -> None:
    assert may_use_server(principal, server) is allowed


@pytest.mark.parametrize(
    ("principal", "requested", "serves", "pooled"),
    [
        # the reported bug: another user's server with bad settings took a share
        (ALICE, "smollm2:135m", [ALICE_PRIVATE, BOB_PRIVATE], [ALICE_PRIVATE]),
        (ALICE, "smollm2:135m", [ALICE_PRIVATE, BOB_PUBLIC], [ALICE_PRIVATE]),
        (ALICE, "smollm2:135m", [ALICE_PRIVATE, UNOWNED], [ALICE_PRIVATE]),
        (BOB, "smollm2:135m", [ALICE_PRIVATE], []),
        (BOB, "smollm2:135m", [ALICE_PUBLIC, UNOWNED], [ALICE_PUBLIC, UNOWNED]),
        (BOB, "smollm2:135m", [ALICE_PRIVATE, BOB_PRIVATE, ALICE_PUBLIC], [BOB_PRIVATE]),
        # an alias never joins or shadows a server whose model is the name
        (ALICE, "smollm2:135m", [ALICE_PUBLIC, BOB_ALIAS], [ALICE_PUBLIC]),
        (BOB, "smollm2:135m", [ALICE_PUBLIC, BOB_ALIAS], [BOB_ALIAS]),  # own first
        (ANONYMOUS, "smollm2:135m", [ALICE_PUBLIC, BOB_ALIAS], [ALICE_PUBLIC]),
        (ANONYMOUS, "smollm2:135m", [BOB_ALIAS], [BOB_ALIAS]),
        # `name` ≡ `name:latest` does not let a foreign server in either
        (ALICE, "qwen", [BOB_LATEST, ALICE_QWEN], [ALICE_QWEN]),
        (ALICE, "qwen:latest", [BOB_LATEST, ALICE_QWEN], [ALICE_QWEN]),
        (BOB, "qwen", [BOB_LATEST, ALICE_QWEN], [BOB_LATEST]),
        # admins may use every server, and still prefer their own (they own none here)
        (ADMIN, "smollm2:135m", [ALICE_PRIVATE, BOB_PRIVATE], [ALICE_PRIVATE, BOB_PRIVATE]),
        # a server shared with its namespace pools for its team only, after one's own
        (BOB, "smollm2:135m", [ALICE_TEAM, ALICE_PRIVATE], [ALICE_TEAM]),
        (BOB, "smollm2:135m", [ALICE_TEAM, BOB_PRIVATE], [BOB_PRIVATE]),
        (CAROL, "smollm2:135m", [ALICE_TEAM, ALICE_PRIVATE], []),
        (CAROL, "smollm2:135m", [ALICE_TEAM, UNOWNED], [UNOWNED]),
    ],
)
def test_route_pool(
    principal: Principal, requested: str, serves: list[ServeInfo], pooled: list[ServeInfo]
) -> None:
    assert route_pool(principal, requested, serves) == pooled


U = "7f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("uri", "path", "allowed"),
    [
        (f"/{U}/v1/chat/completions", "/v1/chat/completions", True),
        (f"/{U}/v1/completions?x=1", "/v1/completions", True),
        (f"/{U}/v1/embeddings", "/v1/embeddings", True),
        (f"/{U}/v1/models", "/v1/models", True),
        (f"/{U}/completion", "/completion", True),
        (f"/{U}/tokenize", "/tokenize", True),
        (f"/{U}/health", "/health", True),
        (f"/{U}/slots", "/slots", False),
        (f"/{U}/slots/0?action=erase", "/slots/0", False),
        (f"/{U}/props", "/props", False),
        (f"/{U}/metrics", "/metrics", False),
        (f"/{U}/lora-adapters", "/lora-adapters", False),
        (f"/{U}/", None, False),  # the web UI
        (f"/{U}/v1/chat/completions/../../props", None, False),
        (f"/{U}/v1/./models", None, False),
        (f"/{U}//props", None, False),
        (f"/{U}/%70rops", None, False),
        (f"/{U}/v1%2Fmodels", None, False),
        ("/other/v1/models", None, False),  # another server's prefix
        (f"/{U}", None, False),
        ("", None, False),
    ],
)
def test_forwarded_paths(uri: str, path: str | None, allowed: bool) -> None:
    assert strip_server_prefix(uri, U) == path
    assert (path is not None and is_inference_path(path)) is allowed
