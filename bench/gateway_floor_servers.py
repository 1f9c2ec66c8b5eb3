"""The lower bounds the gateway is compared with in bench/gateway_floor.py; for the
benchmark only, on 127.0.0.1:

    python bench/gateway_floor_servers.py relay PORT UPSTREAM_PORT
        a TCP relay: bytes copied both ways, no HTTP at all (the cost of one more hop);
    python bench/gateway_floor_servers.py asgi PORT UPSTREAM_PORT
        the least an HTTP proxy in this stack can do: uvicorn + a raw ASGI app that parses
        the JSON body, forwards it with aiohttp, parses the answer, sets the model name and
        sends it back. No auth, routing, metrics or validation.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, cast

import aiohttp
import uvicorn
import uvloop

HOST = "127.0.0.1"


class _Upstream(asyncio.Protocol):
    def __init__(self, downstream: asyncio.Transport) -> None:
        self.downstream = downstream

    def data_received(self, data: bytes) -> None:
        self.downstream.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.downstream.close()


class _Relay(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.upstream: asyncio.BaseTransport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.connecting = asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        upstream, _ = await loop.create_connection(
            lambda: _Upstream(self.transport), HOST, self.upstream_port
        )
        self.upstream = upstream
        for data in self.pending:
            upstream.write(data)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.upstream is None:
            self.pending.append(data)
        else:
            self.upstream.write(data)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None:
            self.upstream.close()


async def relay(port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Relay(upstream_port), HOST, port)
    await server.serve_forever()


def asgi_app(upstream_port: int) -> Any:
    base = f"http://{HOST}:{upstream_port}"
    sessions: list[aiohttp.ClientSession] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    sessions.append(aiohttp.ClientSession())
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await sessions[0].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["method"] == "GET":  # /health, for the benchmark to wait on
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        doc = json.loads(body) if body else {}
        async with sessions[0].post(
            base + scope["path"],
            data=json.dumps(doc).encode(),
            headers={"content-type": "application/json"},
        ) as response:
            answer = json.loads(await response.read())
            status = response.status
        answer["model"] = doc.get("model", "")
        out = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(out))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    return app


def main() -> None:
    kind, port, upstream_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if kind == "relay":
        uvloop.run(relay(port, upstream_port))
    elif kind == "asgi":
        uvicorn.run(asgi_app(upstream_port), host=HOST, port=port, log_level="warning")
    else:
        raise SystemExit(f"unknown kind {kind!r}")


if __name__ == "__main__":
    main()
