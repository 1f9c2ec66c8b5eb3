"""Starting, finding and stopping the stack's daemons: one process group each, its pid in
`.local/run/<name>.pid`, its output in `.local/logs/<name>.log`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from inference_localstack.config import StackConfig
from inference_localstack.state_dirs import PROCESS_UMASK


def pid_file(config: StackConfig, name: str) -> Path:
    return config.run_dir / f"{name}.pid"


def log_file(config: StackConfig, name: str) -> Path:
    return config.log_dir / f"{name}.log"


def running_pid(config: StackConfig, name: str) -> int | None:
    path = pid_file(config, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    if _is_zombie(pid):
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def start(
    config: StackConfig,
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    user: str | None = None,
) -> int:
    """Starts argv detached in its own session, with a umask that keeps what it writes to
    itself; output appends to the component's log."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    config.log_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log_file(config, name).open("ab") as log:
        log.write(f"\n--- start {time.strftime('%Y-%m-%dT%H:%M:%S')} {argv[0]}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
            user=user,
            umask=PROCESS_UMASK,
        )
    pid_file(config, name).write_text(str(proc.pid))
    return proc.pid


def stop(
    config: StackConfig, name: str, timeout: float = 15.0, sig: signal.Signals = signal.SIGTERM
) -> None:
    """`sig` to the process group, SIGKILL after `timeout` seconds."""
    pid = running_pid(config, name)
    if pid is None:
        pid_file(config, name).unlink(missing_ok=True)
        return
    _signal_group(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    pid_file(config, name).unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return not _is_zombie(pid)


def log_tail(config: StackConfig, name: str, lines: int = 30) -> str:
    path = log_file(config, name)
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
