"""20 concurrent reserves against a quota of 5, sent as real HTTP requests to the real
service process: exactly 5 are admitted, and usage says 5."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx

from inference_contract.settings import ContractSettings

from .conftest import Users, contract_process, modelserve_spec

RACERS = 20
QUOTA = 5


async def test_twenty_concurrent_reserves_admit_exactly_five(
    contract_settings: ContractSettings, users: Users, tmp_path: Path
) -> None:
    alice, auth = await users.new()
    _, admin = await users.new("admin")
    namespace = f"race-{secrets.token_hex(3)}"
    with contract_process(contract_settings, tmp_path / "contract.log") as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.put(
                f"/contracts/users/{alice}",
                json={"max_servers": QUOTA, "allowed_namespaces": [namespace]},
                headers=admin,
            )
            assert response.status_code == 200, response.text

            async def reserve(i: int) -> int:
                body = {"namespace": namespace, "name": f"s{i}", "spec": modelserve_spec()}
                answer = await client.post("/reservations", json=body, headers=auth)
                return answer.status_code

            statuses = await asyncio.gather(*(reserve(i) for i in range(RACERS)))
            usage = (await client.get(f"/usage/users/{alice}", headers=auth)).json()
    assert sorted(statuses) == [200] * QUOTA + [409] * (RACERS - QUOTA)
    assert usage["servers"] == {"used": QUOTA, "limit": QUOTA}
