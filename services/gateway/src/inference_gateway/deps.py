"""FastAPI dependencies: the gateway state and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inference_common.logging import request_id_var
from inference_gateway.auth import Principal
from inference_gateway.gateway import Gateway


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def get_principal(request: Request) -> Principal:
    gateway: Gateway = request.app.state.gateway
    return await gateway.auth.authenticate(request.headers)


def request_id() -> str:
    return request_id_var.get() or "-"


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
