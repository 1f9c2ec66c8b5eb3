"""The model, alias, child-name and runtime-cap rules of the policy decision (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inference_common.llama_flags import parse_runtime_params
from inference_common.model_access import ModelAccess, may_serve, name_forms
from inference_common.modelserve import ALIASES_ANNOTATION, ModelServeSpec
from inference_contract.children import ChildCheck, check
from inference_contract.facts import (
    AliasClaim,
    ModelFacts,
    Principal,
    ServerRequest,
    aliases_of,
    server_request,
)
from inference_contract.limits import Limits
from inference_contract.policy import Account, Reason, decide
from inference_contract.repository import model_facts

REQUEST = ServerRequest(namespace="team-a", name="s", model_name="m", replicas=1)
LIMITS = Limits(max_threads=8, max_batch_size=2048)
ALICE = Principal("alice")

OWN = ModelAccess("m", "alice", "private")
PRIVATE = ModelAccess("m", "bob", "private")
PUBLIC = ModelAccess("m", "bob", "public")
SHARED_A = ModelAccess("m", "bob", "shared", ("team-a",))
SHARED_B = ModelAccess("m", "bob", "shared", ("team-b",))
ORPHAN = ModelAccess("m", None, "private")


def _codes(
    request: ServerRequest = REQUEST,
    principal: Principal = ALICE,
    model: ModelFacts = ModelFacts(),  # noqa: B008
) -> list[str]:
    decision = decide(request, principal, [Account("user", "alice", LIMITS)], model)
    return [v.code.value for v in decision.violations]


@pytest.mark.parametrize(
    ("model", "username", "is_admin", "namespace", "expected"),
    [
        (OWN, "alice", False, "team-a", True),
        (PRIVATE, "alice", False, "team-a", False),
        (PRIVATE, "alice", True, "team-a", True),
        (PUBLIC, "alice", False, "anywhere", True),
        (PUBLIC, None, False, "anywhere", True),
        (SHARED_A, "alice", False, "team-a", True),
        (SHARED_A, "alice", False, "team-b", False),
        (SHARED_B, None, False, "team-b", True),
        (ORPHAN, None, False, "team-a", False),
        (ORPHAN, "alice", False, "team-a", False),
    ],
)
def test_may_serve(
    model: ModelAccess, username: str | None, is_admin: bool, namespace: str, expected: bool
) -> None:
    assert may_serve(model, username, is_admin, namespace) is expected


@pytest.mark.parametrize(
    ("models", "principal", "expected"),
    [
        ((), ALICE, []),  # not a registry model (a PVC file of its own): no rule
        ((OWN,), ALICE, []),
        ((PRIVATE,), ALICE, [Reason.MODEL_NOT_ALLOWED]),
        ((PRIVATE,), Principal("alice", is_admin=True), []),
        ((PUBLIC,), ALICE, []),
        ((SHARED_A,), ALICE, []),
        ((SHARED_B,), ALICE, [Reason.MODEL_NOT_ALLOWED]),
        ((PUBLIC, PRIVATE), ALICE, [Reason.MODEL_NOT_ALLOWED]),  # uuid and name disagree
    ],
)
def test_model_rule(
    models: tuple[ModelAccess, ...], principal: Principal, expected: list[Reason]
) -> None:
    assert _codes(principal=principal, model=ModelFacts(models=models)) == [
        r.value for r in expected
    ]


def test_model_refusal_is_403_and_names_the_model() -> None:
    decision = decide(REQUEST, ALICE, [], ModelFacts(models=(SHARED_B,)))
    assert decision.status_code == 403
    assert "shared with team-b only" in decision.message


CLAIM = AliasClaim("chat", "bob", "team-b", "bobs")


@pytest.mark.parametrize(
    ("aliases", "facts", "principal", "expected"),
    [
        ((), ModelFacts(alias_claims=(CLAIM,)), ALICE, []),
        (("chat",), ModelFacts(), ALICE, []),
        (("chat",), ModelFacts(alias_claims=(CLAIM,)), ALICE, [Reason.ALIAS_TAKEN]),
        (("chat",), ModelFacts(alias_claims=(CLAIM,)), Principal("bob"), []),
        (("m",), ModelFacts(alias_models=(PRIVATE,)), ALICE, [Reason.ALIAS_NOT_ALLOWED]),
        (("m",), ModelFacts(alias_models=(PUBLIC,)), ALICE, []),
        (("m",), ModelFacts(alias_models=(PRIVATE,)), Principal("x", is_admin=True), []),
    ],
)
def test_alias_rules(
    aliases: tuple[str, ...], facts: ModelFacts, principal: Principal, expected: list[Reason]
) -> None:
    request = replace(REQUEST, aliases=aliases)
    assert _codes(request, principal, facts) == [r.value for r in expected]


def test_foreign_children_are_refused_as_a_conflict() -> None:
    facts = ModelFacts(foreign_children=("Deployment s", "Service s"))
    decision = decide(REQUEST, ALICE, [], facts)
    assert [v.code for v in decision.violations] == [Reason.NAME_TAKEN_BY_CHILD] * 2
    assert decision.status_code == 409


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("", []),
        ("--threads 8 --threads-batch 8", []),
        ("--threads 9", [Reason.THREADS_LIMIT]),
        ("-tb 16", [Reason.THREADS_LIMIT]),
        ("--batch-size 2048 --ubatch-size 512", []),
        ("-b 4096", [Reason.BATCH_SIZE_LIMIT]),
        ("--ubatch-size 2049", [Reason.BATCH_SIZE_LIMIT]),
        ("-t 9 -b 4096", [Reason.THREADS_LIMIT, Reason.BATCH_SIZE_LIMIT]),
    ],
)
def test_runtime_caps(flags: str, expected: list[Reason]) -> None:
    spec = ModelServeSpec.model_validate(
        {
            "model": {"name": "m", "source": {"pvc": {"claimName": "c", "path": "m.gguf"}}},
            "runtime": parse_runtime_params(flags).to_k8s(),
        }
    )
    request = server_request("team-a", "s", spec, {}, 24)
    assert _codes(request) == [r.value for r in expected]


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        (None, ()),
        ({}, ()),
        ({ALIASES_ANNOTATION: ""}, ()),
        ({ALIASES_ANNOTATION: "chat, code:7b"}, ("chat", "chat:latest", "code:7b")),
        ({ALIASES_ANNOTATION: "x:latest,x"}, ("x:latest", "x")),
        ({ALIASES_ANNOTATION: 5}, ()),
    ],
)
def test_aliases_of(annotations: dict[str, object] | None, expected: tuple[str, ...]) -> None:
    assert aliases_of(annotations) == expected


@pytest.mark.parametrize(
    ("name", "forms"),
    [("a", ("a", "a:latest")), ("a:latest", ("a:latest", "a")), ("a:7b", ("a:7b",))],
)
def test_name_forms(name: str, forms: tuple[str, ...]) -> None:
    assert name_forms(name) == forms


MS_REF = {"apiVersion": "inference-service.dev/v1alpha1", "kind": "ModelServe", "controller": True}


def _obj(*refs: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"name": "s", "ownerReferences": list(refs)}}


@pytest.mark.parametrize(
    ("found", "synced", "foreign", "unchecked"),
    [
        ({"Deployment": None}, {"Deployment": True}, (), ()),
        ({"Deployment": _obj()}, {"Deployment": True}, ("Deployment s",), ()),
        ({"Deployment": _obj({**MS_REF, "name": "s"})}, {"Deployment": True}, (), ()),
        (
            {"Service": _obj({**MS_REF, "name": "other"})},
            {"Service": True},
            ("Service s",),
            (),
        ),
        (
            {"Service": _obj({**MS_REF, "name": "s", "controller": False})},
            {"Service": True},
            ("Service s",),
            (),
        ),
        (
            {"Service": _obj({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "s"})},
            {"Service": True},
            ("Service s",),
            (),
        ),
        ({"IngressRoute": _obj()}, {"IngressRoute": False}, (), ("IngressRoute",)),
    ],
)
def test_child_names(
    found: dict[str, dict[str, object] | None],
    synced: dict[str, bool],
    foreign: tuple[str, ...],
    unchecked: tuple[str, ...],
) -> None:
    assert check(found, synced, "s") == ChildCheck(foreign, unchecked)


U1 = "7f0c5a52-7a0e-4a43-9d7f-2d1c1b1f0a01"
ROWS = [
    {"uuid": U1, "name": "by-uuid", "sha256": "a" * 64, "context_length": 4096,
     "owner": "bob", "visibility": "private", "shared_with": []},
    {"uuid": "x", "name": "m", "sha256": "b" * 64, "context_length": 2048,
     "owner": None, "visibility": "public", "shared_with": []},
    {"uuid": "y", "name": "chat", "sha256": "c" * 64, "context_length": None,
     "owner": "bob", "visibility": "shared", "shared_with": ["team-a"]},
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "named", "context", "alias_models"),
    [
        ({}, ["m"], 2048, []),
        ({"model_uuid": U1}, ["by-uuid", "m"], 4096, []),
        ({"model_uuid": U1.upper()}, ["by-uuid", "m"], 4096, []),
        ({"model_uuid": "not-a-uuid"}, ["m"], 2048, []),
        ({"model_name": "other", "model_sha256": "a" * 64}, ["by-uuid"], None, []),
        ({"aliases": ("chat", "chat:latest")}, ["m"], 2048, ["chat"]),
    ],
)
def test_model_facts_from_a_snapshot(
    changes: dict[str, object], named: list[str], context: int | None, alias_models: list[str]
) -> None:
    facts = model_facts(replace(REQUEST, **changes), ROWS, [])  # type: ignore[arg-type]
    assert [m.name for m in facts.models] == named
    assert facts.context_length == context
    assert [m.name for m in facts.alias_models] == alias_models


def test_claims_of_a_snapshot_keep_the_aliases_asked() -> None:
    claims = [{"namespace": "b", "name": "srv", "owner": "bob", "names": ["x", "srv", "m"]}]
    facts = model_facts(replace(REQUEST, aliases=("srv", "y")), [], claims)
    assert facts.alias_claims == (AliasClaim("srv", "bob", "b", "srv"),)
