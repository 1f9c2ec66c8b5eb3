"""What the app holds for its lifetime (built in the lifespan, read by dependencies)."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inference_common.auth import TokenSigner
from inference_contract.children import ChildNames
from inference_contract.contracts import Contracts
from inference_contract.reconcile import Reconciler
from inference_contract.settings import ContractSettings


@dataclass
class AppState:
    settings: ContractSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    signer: TokenSigner
    contracts: Contracts
    kube: client.ApiClient | None = None
    reconciler: Reconciler | None = None
    child_names: ChildNames | None = None
