"""Which dependency an exception shows to be down, and the outage log's pace.

The "unreachable" cases are real: the real clients (asyncpg, MinIO, Kubernetes) dialling a
loopback port nobody listens on."""

from __future__ import annotations

import asyncio
import logging

import asyncpg  # type: ignore[import-untyped]
import pytest
import urllib3
from kubernetes import client as kube_client
from kubernetes.client.exceptions import ApiException
from minio import Minio
from minio.error import S3Error, ServerError
from sqlalchemy import exc as sa_exc

from inference_common.errors import NotFoundError, UnavailableError
from inference_common.outages import DATABASE, KUBERNETES, OBJECT_STORE, OutageLog, outage_of
from inference_testkit.servers import free_port


def _caused(outer: Exception, cause: BaseException) -> Exception:
    try:
        raise outer from cause
    except Exception as exc:
        return exc


def _s3_error(code: str) -> S3Error:
    response = urllib3.HTTPResponse(status=404)
    return S3Error(response, code, "message", "bucket/key", "req", "host")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (sa_exc.OperationalError("SELECT 1", None, ConnectionRefusedError()), DATABASE),
        (sa_exc.InterfaceError("SELECT 1", None, Exception("connection is closed")), DATABASE),
        (sa_exc.TimeoutError("QueuePool limit reached"), DATABASE),
        (sa_exc.DBAPIError("SELECT 1", None, Exception(), connection_invalidated=True), DATABASE),
        (sa_exc.DBAPIError("SELECT 1", None, Exception()), None),
        (sa_exc.IntegrityError("INSERT", None, Exception("duplicate")), None),
        (asyncpg.CannotConnectNowError("the database system is starting up"), DATABASE),
        (asyncpg.AdminShutdownError("terminating connection"), DATABASE),
        (asyncpg.ConnectionDoesNotExistError("closed in the middle"), DATABASE),
        (asyncpg.UniqueViolationError("duplicate"), None),
        (ApiException(status=503, reason="Service Unavailable"), KUBERNETES),
        (ApiException(status=0, reason="no answer"), KUBERNETES),
        (ApiException(status=404, reason="Not Found"), None),
        (ServerError("503 from MinIO", 503), OBJECT_STORE),
        (_s3_error("NoSuchKey"), None),
        (ConnectionRefusedError(), None),  # no library frames: nothing says whose
        (ValueError("bug"), None),
        (_caused(UnavailableError("x"), sa_exc.TimeoutError("pool")), DATABASE),
        (_caused(NotFoundError("x"), ValueError()), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_outage_of(exc: BaseException, expected: str | None) -> None:
    assert outage_of(exc) == expected


async def test_unreachable_postgres_is_a_database_outage() -> None:
    with pytest.raises(ConnectionRefusedError) as raised:
        await asyncpg.connect(host="127.0.0.1", port=free_port(), user="x", timeout=5)
    assert outage_of(raised.value) == DATABASE


def test_unreachable_minio_is_an_object_store_outage() -> None:
    http = urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=5)
    s3 = Minio(f"127.0.0.1:{free_port()}", "key", "secret-key", secure=False, http_client=http)
    with pytest.raises(Exception) as raised:  # noqa: PT011 (any error the client raises)
        s3.bucket_exists("models")
    assert outage_of(raised.value) == OBJECT_STORE


def test_unreachable_apiserver_is_a_kubernetes_outage() -> None:
    configuration = kube_client.Configuration(host=f"http://127.0.0.1:{free_port()}")
    configuration.retries = 0
    with kube_client.ApiClient(configuration) as api, pytest.raises(Exception) as raised:  # noqa: PT011
        kube_client.VersionApi(api).get_code(_request_timeout=5)
    assert outage_of(raised.value) == KUBERNETES


async def test_an_error_in_a_worker_thread_keeps_its_library_frames() -> None:
    http = urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=5)
    s3 = Minio(f"127.0.0.1:{free_port()}", "key", "secret-key", secure=False, http_client=http)
    with pytest.raises(Exception) as raised:  # noqa: PT011
        await asyncio.to_thread(s3.bucket_exists, "models")
    assert outage_of(raised.value) == OBJECT_STORE


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("failures_at", "logged"),
    [
        ([0.0], [True]),
        ([0.0, 1.0, 2.0, 29.0], [True, False, False, False]),
        ([0.0, 10.0, 20.0, 30.0, 31.0], [True, False, False, True, False]),
        ([0.0, 1.0, 100.0], [True, False, True]),  # quiet for an interval: a new outage
    ],
)
def test_outage_log_pace(
    failures_at: list[float], logged: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    log = OutageLog(logging.getLogger("test.outages"), interval=30.0, clock=clock)
    results = []
    with caplog.at_level(logging.WARNING, "test.outages"):
        for at in failures_at:
            clock.now = at
            results.append(log.report(DATABASE, ConnectionRefusedError()))
    assert results == logged
    assert len(caplog.records) == sum(logged)


def test_outage_log_counts_what_it_did_not_log(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = OutageLog(logging.getLogger("test.outages"), interval=30.0, clock=clock)
    with caplog.at_level(logging.WARNING, "test.outages"):
        for at in (0.0, 5.0, 10.0, 15.0, 30.0):
            clock.now = at
            log.report(OBJECT_STORE, ConnectionRefusedError())
    assert caplog.records[0].exc_info is not None  # the first failure: with its traceback
    assert caplog.records[1].getMessage() == (
        "object store still unavailable: ConnectionRefusedError (3 more failures in the last 30 s)"
    )
    assert caplog.records[1].exc_info is None
