"""The cluster's nodes and their GPUs, with the pods (servers) holding them."""

from __future__ import annotations

from fastapi import APIRouter

from inference_api.deps import CurrentUser, StateDep
from inference_api.node_inventory import NodeOut, node_inventory

router = APIRouter(tags=["nodes"])


@router.get("/nodes", response_model=list[NodeOut])
async def list_nodes(_: CurrentUser, state: StateDep) -> list[NodeOut]:
    """Nodes with GPU product, card memory, capacity, allocatable and allocated GPUs, and
    which pods hold them; `simulated` for kwok nodes, whose metrics are never reported."""
    nodes, pods = await state.serving.nodes.read_objects()
    return node_inventory(nodes, pods)
