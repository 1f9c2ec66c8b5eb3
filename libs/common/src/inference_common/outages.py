"""Which dependency an exception says is down, and a log that speaks once per outage.

An outage is a failure to reach Postgres, MinIO or the Kubernetes API (refused, reset,
timed out, shut down, answering 5xx), as opposed to a bug or a refusal of the request
itself. The services answer it with 503 and Retry-After (see `web`), never 500.

Transport errors (OSError, urllib3's) do not say whom they were talking to; the library
frames of their traceback do (asyncpg/sqlalchemy, minio, kubernetes).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc
from urllib3.exceptions import HTTPError as TransportError

DATABASE = "database"
OBJECT_STORE = "object store"
KUBERNETES = "Kubernetes API"

_MAX_CHAIN = 16

_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the connection pool's
    sa_exc.DisconnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # admin/crash shutdown, cannot connect now
    asyncpg.TooManyConnectionsError,
)
_LIBRARY_DEPENDENCY = {
    "asyncpg": DATABASE,
    "sqlalchemy": DATABASE,
    "minio": OBJECT_STORE,
    "kubernetes": KUBERNETES,
}


def _loaded(module: str, *names: str) -> tuple[type[Exception], ...]:
    """Exception classes of a client library the process has imported, none of one it has
    not: an exception of a library nobody imported cannot occur, and importing the
    Kubernetes client or minio only to compare against their classes would cost a service
    that uses neither (the download service) about 20 MiB of memory."""
    found = sys.modules.get(module)
    return tuple(getattr(found, name) for name in names) if found is not None else ()


def kubernetes_errors() -> tuple[type[Exception], ...]:
    return _loaded("kubernetes.client.exceptions", "ApiException")


def minio_errors() -> tuple[type[Exception], ...]:
    """minio's base exception (where the answer is handled) when minio is in use."""
    return _loaded("minio.error", "MinioException")


def _minio_server_errors() -> tuple[type[Exception], ...]:
    return _loaded("minio.error", "ServerError", "InvalidResponseError")


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """exc, then its causes and contexts (bounded, cycles broken)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_database_failure(exc: BaseException) -> bool:
    if isinstance(exc, _DATABASE_ERRORS):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def _is_transport_failure(exc: BaseException) -> bool:
    if isinstance(exc, kubernetes_errors()):
        status = getattr(exc, "status", None)
        return status is None or status == 0 or status >= 500
    return isinstance(exc, (OSError, TransportError, *_minio_server_errors()))


def _libraries(exc: BaseException) -> Iterator[str]:
    """Top-level modules of the traceback's frames, innermost first."""
    modules: list[str] = []
    tb = exc.__traceback__
    while tb is not None:
        modules.append(str(tb.tb_frame.f_globals.get("__name__", "")).partition(".")[0])
        tb = tb.tb_next
    return reversed(modules)


def outage_of(exc: BaseException) -> str | None:
    """The dependency `exc` shows to be unreachable, or None when it is not an outage."""
    chain = list(exception_chain(exc))
    if any(_is_database_failure(e) for e in chain):
        return DATABASE
    for failure in (e for e in chain if _is_transport_failure(e)):
        if isinstance(failure, _minio_server_errors()):
            return OBJECT_STORE
        if isinstance(failure, kubernetes_errors()):
            return KUBERNETES
        for candidate in chain:
            for library in _libraries(candidate):
                if library in _LIBRARY_DEPENDENCY:
                    return _LIBRARY_DEPENDENCY[library]
    return None


@dataclass
class OutageLog:
    """Logs the first failure of an outage with its traceback, then at most one line per
    `interval` seconds while the dependency keeps failing, with the count of failures in
    between. A failure after `interval` seconds without one starts a new outage."""

    logger: logging.Logger
    interval: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _last_failure: dict[str, float] = field(default_factory=dict)
    _last_logged: dict[str, float] = field(default_factory=dict)
    _unlogged: dict[str, int] = field(default_factory=dict)

    def report(self, dependency: str, exc: BaseException) -> bool:
        """Records one failure; True when it was logged."""
        now = self.clock()
        last_failure = self._last_failure.get(dependency)
        self._last_failure[dependency] = now
        if last_failure is None or now - last_failure >= self.interval:
            self._last_logged[dependency] = now
            self._unlogged[dependency] = 0
            self.logger.warning("%s unavailable: %s", dependency, _describe(exc), exc_info=exc)
            return True
        since = now - self._last_logged[dependency]
        if since < self.interval:
            self._unlogged[dependency] += 1
            return False
        self.logger.warning(
            "%s still unavailable: %s (%d more failures in the last %.0f s)",
            dependency,
            _describe(exc),
            self._unlogged[dependency],
            since,
        )
        self._last_logged[dependency] = now
        self._unlogged[dependency] = 0
        return True


def _describe(exc: BaseException) -> str:
    return type(exc).__name__
