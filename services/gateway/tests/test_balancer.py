from __future__ import annotations

from inference_gateway.balancer import Balancer


def test_least_outstanding_wins() -> None:
    b = Balancer()
    b.acquire("a")
    b.acquire("a")
    b.acquire("b")
    assert b.pick(["a", "b", "c"]) == "c"
    b.acquire("c")
    b.acquire("c")
    assert b.pick(["a", "b", "c"]) == "b"


def test_ties_rotate() -> None:
    b = Balancer()
    picks = {b.pick(["a", "b"]) for _ in range(4)}
    assert picks == {"a", "b"}


def test_release_and_exclude() -> None:
    b = Balancer()
    b.acquire("a")
    b.release("a")
    assert b.outstanding == {}
    assert b.pick(["a", "b"], exclude=["a"]) == "b"
    assert b.pick(["a"], exclude=["a"]) is None


def test_ejected_replicas_are_skipped_until_readmitted() -> None:
    b = Balancer()
    assert b.eject("a") is True
    assert b.eject("a") is False
    assert b.pick(["a"]) is None
    assert b.pick(["a", "b"]) == "b"
    b.readmit("a")
    assert b.pick(["a"]) == "a"


def test_forget_missing_readmits_replicas_that_left() -> None:
    b = Balancer()
    b.eject("a")
    b.eject("b")
    b.forget_missing(["b"])
    assert b.ejected == {"b"}
