"""Modes of the state folder: nothing in it is readable by other users of the machine.

The folder and `data/` are traversable only (0711) so that Postgres, which runs as the
`postgres` OS user, reaches its own directory; each component's data, the PKI, the logs
and the pid files are private (0700) to the user that runs the component.
"""

from __future__ import annotations

from pathlib import Path

from inference_localstack.config import StackConfig

TRAVERSE_ONLY = 0o711
PRIVATE = 0o700
PROCESS_UMASK = 0o077
"""The umask of every process the stack starts: what they create is their own."""

DATA_COMPONENTS = ("etcd", "postgres", "minio", "minio-quant", "traefik", "node")


def dir_modes(config: StackConfig) -> dict[Path, int]:
    modes = {
        config.state_dir: TRAVERSE_ONLY,
        config.state_dir / "data": TRAVERSE_ONLY,
        config.pki_dir: PRIVATE,
        config.log_dir: PRIVATE,
        config.run_dir: PRIVATE,
    }
    data_dirs = {config.data_dir(name) for name in DATA_COMPONENTS}
    data_root = config.state_dir / "data"
    if data_root.is_dir():
        data_dirs |= {child for child in data_root.iterdir() if child.is_dir()}
    return modes | dict.fromkeys(sorted(data_dirs), PRIVATE)


def secure(config: StackConfig) -> None:
    """Creates the state folders that are missing and sets the modes of all of them
    (an older state folder made them world-readable)."""
    for path, mode in dir_modes(config).items():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
