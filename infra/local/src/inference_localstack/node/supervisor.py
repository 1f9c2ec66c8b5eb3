"""One pod's life on the local node: namespace, init containers in order, serving
containers with readiness and liveness probes and crash-loop restarts, then cleanup."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from inference_localstack import network
from inference_localstack.config import Network
from inference_localstack.node.plan import (
    ProcessPlan,
    UnsupportedContainerError,
    gpu_count,
    plan_container,
    referenced_objects,
    resolve_env,
)
from inference_localstack.node.podstatus import (
    ContainerState,
    PodState,
    backoff_seconds,
    pod_status,
)

logger = logging.getLogger(__name__)

TERMINATION_MESSAGE_BYTES = 4096
MODEL_VOLUME = "model"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class NodeContext:
    """What every pod supervisor of this node shares."""

    net: Network
    host_ip: str
    pods_dir: Path
    model_cache: Path
    log_dir: Path
    python: str
    fetch_objects: Callable[
        [str, set[str], set[str]], tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]
    ]
    allocate_ip: Callable[[str, str | None], tuple[str, str]]
    release_ip: Callable[[str], None]
    allocate_gpus: Callable[[str, int], list[int] | None]
    release_gpus: Callable[[str], None]
    record_event: Callable[[Mapping[str, Any], str, str, str], None] = (
        lambda _obj, _type, _reason, _message: None
    )
    """Records a Kubernetes Event on an object (type Normal/Warning, reason, message)."""


def volume_dirs(pod: Mapping[str, Any], ctx: NodeContext, pod_dir: Path) -> dict[str, Path]:
    """Local folders for the pod's volumes. The model volume maps to the node's model cache
    (files there are named by their sha256 and written atomically, so pods share them)."""
    dirs: dict[str, Path] = {}
    for volume in pod["spec"].get("volumes") or []:
        name = volume["name"]
        if "persistentVolumeClaim" in volume:
            raise UnsupportedContainerError(
                f"volume {name}: PersistentVolumeClaims are not available on the local node"
            )
        if name == MODEL_VOLUME and "emptyDir" in volume:
            dirs[name] = ctx.model_cache
        elif "hostPath" in volume:
            dirs[name] = ctx.pods_dir.parent / "hostpath" / volume["hostPath"]["path"].lstrip("/")
        else:  # emptyDir; projected/secret/configMap volumes are left empty here
            dirs[name] = pod_dir / "volumes" / name
        dirs[name].mkdir(parents=True, exist_ok=True)
    return dirs


def container_port(container: Mapping[str, Any], port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise UnsupportedContainerError(f"container {container['name']}: no port named {port!r}")


class PodSupervisor:
    def __init__(
        self, pod: dict[str, Any], ctx: NodeContext, report: Callable[[dict[str, Any]], None]
    ) -> None:
        self.pod = pod
        self.ctx = ctx
        self.report = report
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.key = f"{meta['namespace']}/{meta['name']}"
        self.pod_dir = ctx.pods_dir / self.uid
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"pod-{meta['name']}", daemon=True)
        self.state = PodState(host_ip=ctx.host_ip)
        self.netns: str | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._last_reported: dict[str, Any] | None = None
        self.ref = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {k: meta[k] for k in ("namespace", "name", "uid")},
        }

    def _event(self, type_: str, reason: str, message: str) -> None:
        self.ctx.record_event(self.ref, type_, reason, message)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self, grace: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout=grace + 15)
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self._event("Normal", "Killing", f"Stopping container {name}")
        self._terminate_all(grace)
        self._cleanup()

    def _run(self) -> None:
        try:
            self._run_pod()
        except UnsupportedContainerError as exc:
            self._fail("UnsupportedContainer", str(exc))
        except Exception as exc:
            logger.exception("pod %s failed in the runtime", self.key)
            self._fail("LocalKubeletError", str(exc))

    def _fail(self, reason: str, message: str) -> None:
        self._event("Warning", "Failed", f"{reason}: {message}")
        self.state.failed_reason, self.state.failed_message = reason, message
        for container in self.state.main:
            container.reason, container.message = reason, message
        self._publish()

    def _run_pod(self) -> None:
        spec = self.pod["spec"]
        init_specs = list(spec.get("initContainers") or [])
        main_specs = list(spec.get("containers") or [])
        self.state.init = [ContainerState(c["name"], c.get("image", "")) for c in init_specs]
        self.state.main = [ContainerState(c["name"], c.get("image", "")) for c in main_specs]
        self.state.start_time = now_iso()

        self.netns, ip = self.ctx.allocate_ip(self.uid, (self.pod.get("status") or {}).get("podIP"))
        self.state.pod_ip = ip
        if self.netns not in network.namespaces():
            network.add_pod_namespace(self.ctx.net, self.netns, ip, isolated=True)
        self.pod_dir.mkdir(parents=True, exist_ok=True)
        self._publish()

        volumes = volume_dirs(self.pod, self.ctx, self.pod_dir)
        secrets, config_maps = self.ctx.fetch_objects(
            self.pod["metadata"]["namespace"], *referenced_objects(init_specs + main_specs)
        )
        fields = {
            "metadata.name": self.pod["metadata"]["name"],
            "metadata.namespace": self.pod["metadata"]["namespace"],
            "metadata.uid": self.uid,
            "spec.nodeName": spec.get("nodeName", ""),
            "status.podIP": ip,
            "status.hostIP": self.ctx.host_ip,
        }

        def plan(c: Mapping[str, Any]) -> ProcessPlan:
            return plan_container(
                c, volumes, resolve_env(c, secrets, config_maps, fields), self.ctx.python
            )

        init_plans = [plan(c) for c in init_specs]
        main_plans = [plan(c) for c in main_specs]
        gpus_needed = sum(gpu_count(c) for c in main_specs)
        gpus = self.ctx.allocate_gpus(self.uid, gpus_needed) if gpus_needed else []
        if gpus is None:
            raise UnsupportedContainerError(
                f"{gpus_needed} GPUs requested, not that many free here"
            )

        for index, init_plan in enumerate(init_plans):
            if not self._run_to_completion(self.state.init[index], init_plan):
                return
        for container in self.state.main:
            container.reason = "ContainerCreating"
        self._publish()
        gpu_env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus))} if gpus_needed else {}
        self._serve(main_specs, main_plans, gpu_env)

    # --- processes ------------------------------------------------------------------------

    def _log_path(self, container: str) -> Path:
        meta = self.pod["metadata"]
        return self.ctx.log_dir / f"pod_{meta['namespace']}_{meta['name']}_{container}.log"

    def _spawn(
        self, plan: ProcessPlan, extra_env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        argv = list(plan.argv)
        if plan.in_pod_network:
            assert self.netns is not None
            argv = ["ip", "netns", "exec", self.netns, *argv]
        base_env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        with self._log_path(plan.container).open("ab") as log:
            log.write(f"--- start {now_iso()}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**base_env, **plan.env, **(extra_env or {})},
                start_new_session=True,
                cwd=self.pod_dir,
            )
        self.procs[plan.container] = proc
        (self.pod_dir / f"{plan.container}.pid").write_text(str(proc.pid))
        return proc

    def _termination_message(self, container: str) -> str:
        path = self._log_path(container)
        if not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - TERMINATION_MESSAGE_BYTES))
            tail = f.read().decode(errors="replace")
        lines = [line for line in tail.splitlines() if line and not line.startswith("--- start")]
        return "\n".join(lines[-12:])[-TERMINATION_MESSAGE_BYTES:]

    def _record_exit(self, state: ContainerState, code: int) -> None:
        state.state, state.exit_code = "terminated", code
        state.reason = "Completed" if code == 0 else "Error"
        state.finished_at = now_iso()
        state.ready = False
        state.message = "" if code == 0 else self._termination_message(state.name)

    def _run_to_completion(self, state: ContainerState, plan: ProcessPlan) -> bool:
        """Runs an init container until it exits 0, restarting with back-off; False when stopped."""
        while not self.stop_event.is_set():
            state.state, state.reason, state.started_at = "running", "", now_iso()
            self._publish()
            proc = self._spawn(plan)
            self._event("Normal", "Started", f"Started container {state.name}")
            while proc.poll() is None:
                if self.stop_event.wait(0.2):
                    return False
            self._record_exit(state, proc.returncode)
            if proc.returncode == 0:
                self._publish()
                return True
            state.restart_count += 1
            state.last_exit_code, state.last_reason = state.exit_code, state.reason
            state.last_message, state.last_finished_at = state.message, state.finished_at
            delay = backoff_seconds(state.restart_count)
            state.state, state.reason = "waiting", "CrashLoopBackOff"
            state.message = (
                f"back-off {delay:.0f}s restarting failed container {state.name}: "
                f"{state.last_message}"
            )
            self._back_off(state.name)
            self._publish()
            if self.stop_event.wait(delay):
                return False
        return False

    def _serve(
        self, specs: list[dict[str, Any]], plans: list[ProcessPlan], gpu_env: Mapping[str, str]
    ) -> None:
        probes = [Prober(spec, self.state.pod_ip or "", self._unhealthy) for spec in specs]
        restart_at: dict[str, float] = {}
        for state, plan in zip(self.state.main, plans, strict=True):
            self._start_main(state, plan, gpu_env)
        self._publish()
        while not self.stop_event.wait(0.5):
            for state, plan, prober in zip(self.state.main, plans, probes, strict=True):
                proc = self.procs.get(state.name)
                if state.state == "running" and proc is not None:
                    code = proc.poll()
                    if code is None and prober.liveness_failed():
                        logger.info("pod %s: %s failed its liveness probe", self.key, state.name)
                        self._event(
                            "Normal",
                            "Killing",
                            f"Container {state.name} failed liveness probe, will be restarted",
                        )
                        self._kill(proc, grace=5)
                        code = proc.wait()
                    if code is not None:
                        self._record_exit(state, code)
                        state.restart_count += 1
                        state.last_exit_code, state.last_reason = state.exit_code, state.reason
                        state.last_message, state.last_finished_at = (
                            state.message,
                            state.finished_at,
                        )
                        delay = backoff_seconds(state.restart_count)
                        state.state, state.reason = "waiting", "CrashLoopBackOff"
                        state.message = (
                            f"back-off {delay:.0f}s restarting failed container {state.name}"
                        )
                        restart_at[state.name] = time.monotonic() + delay
                        prober.reset()
                        self._back_off(state.name)
                    else:
                        state.ready = prober.ready()
                elif state.state == "waiting" and time.monotonic() >= restart_at.get(state.name, 0):
                    self._start_main(state, plan, gpu_env)
            self._publish()

    def _start_main(
        self, state: ContainerState, plan: ProcessPlan, gpu_env: Mapping[str, str]
    ) -> None:
        self._spawn(plan, gpu_env)
        self._event("Normal", "Started", f"Started container {state.name}")
        state.state, state.reason, state.message = "running", "", ""
        state.started_at, state.ready = now_iso(), False

    def _back_off(self, container: str) -> None:
        name = self.pod["metadata"]["name"]
        self._event(
            "Warning", "BackOff", f"Back-off restarting failed container {container} in pod {name}"
        )

    def _unhealthy(self, message: str) -> None:
        self._event("Warning", "Unhealthy", message)

    def _kill(self, proc: subprocess.Popen[bytes], grace: float) -> None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def _terminate_all(self, grace: float) -> None:
        for proc in list(self.procs.values()):
            if proc.poll() is None:
                self._kill(proc, grace)
        self.procs.clear()

    def _cleanup(self) -> None:
        if self.netns:
            network.delete_pod_namespace(self.netns)
        self.ctx.release_ip(self.uid)
        self.ctx.release_gpus(self.uid)
        for pid_file in self.pod_dir.glob("*.pid"):
            pid_file.unlink(missing_ok=True)

    def _publish(self) -> None:
        comparable = pod_status(self.state, "")
        if comparable == self._last_reported:
            return
        self._last_reported = comparable
        try:
            self.report(pod_status(self.state, now_iso()))
        except Exception as exc:  # the next change publishes again; the watch resyncs
            logger.warning("pod %s: status update failed: %s", self.key, exc)
            self._last_reported = None


class Prober:
    """HTTP readiness and liveness probes of one container, from the host into the pod."""

    def __init__(
        self,
        container: Mapping[str, Any],
        pod_ip: str,
        on_unhealthy: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.on_unhealthy = on_unhealthy
        self.readiness = self._target(container, container.get("readinessProbe"), pod_ip)
        self.liveness = self._target(container, container.get("livenessProbe"), pod_ip)
        self.live_period = float((container.get("livenessProbe") or {}).get("periodSeconds", 10))
        self.live_threshold = int((container.get("livenessProbe") or {}).get("failureThreshold", 3))
        self.was_ready = False
        self.last_ready = False
        self.live_failures = 0
        self.next_live = 0.0

    @staticmethod
    def _target(
        container: Mapping[str, Any], probe: Mapping[str, Any] | None, ip: str
    ) -> str | None:
        if not probe or "httpGet" not in probe:
            return None
        get = probe["httpGet"]
        return f"http://{ip}:{container_port(container, get['port'])}{get.get('path', '/')}"

    @staticmethod
    def _ok(url: str) -> bool:
        try:
            return 200 <= httpx.get(url, timeout=2.0).status_code < 400
        except httpx.HTTPError:
            return False

    def reset(self) -> None:
        self.was_ready, self.live_failures, self.next_live = False, 0, 0.0
        self.last_ready = False

    def ready(self) -> bool:
        """Checked every half second (at most the pod's own period) so Ready comes quickly."""
        ok = True if self.readiness is None else self._ok(self.readiness)
        if self.was_ready and self.last_ready and not ok:
            self.on_unhealthy(f"Readiness probe failed: GET {self.readiness} did not succeed")
        self.was_ready = self.was_ready or ok
        self.last_ready = ok
        return ok

    def liveness_failed(self) -> bool:
        """Liveness counts only once the container was ready (a start-up grace, so a loading
        model is never killed)."""
        if self.liveness is None or not self.was_ready or time.monotonic() < self.next_live:
            return False
        self.next_live = time.monotonic() + self.live_period
        self.live_failures = 0 if self._ok(self.liveness) else self.live_failures + 1
        if self.live_failures:
            self.on_unhealthy(f"Liveness probe failed: GET {self.liveness} did not succeed")
        return self.live_failures >= self.live_threshold
