"""The server's malloc setting: large blocks go back to the system after use (glibc)."""

from __future__ import annotations

import gc
import subprocess
import sys

from inference_api.app import create_app
from inference_api.settings import ApiSettings

# Like Argon2 in `asyncio.to_thread` or an upload's part buffers: large blocks allocated in
# worker threads, with small objects allocated next to them that stay alive.
CHILD = """
import sys
import threading
from inference_api.memory import return_large_blocks_to_the_system

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

if sys.argv[1] == "set":
    assert return_large_blocks_to_the_system()
kept = []

def work():
    for _ in range(3):  # after the first free glibc would raise its threshold to this size
        block = bytearray(b"x" * (20 * 1024 * 1024))
        kept.append([bytes(100) for _ in range(100)])
        del block

before = rss_mib()
for _ in range(2):
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
print(rss_mib() - before)
"""


def retained_mib(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip())


def test_large_blocks_are_returned_after_use() -> None:
    assert retained_mib("set") < 5
    # The default keeps them (which is what the setting is for).
    assert retained_mib("default") > 15


async def test_the_server_app_freezes_its_start_up_objects(api_settings: ApiSettings) -> None:
    assert gc.get_freeze_count() == 0
    app = create_app(api_settings, freeze_gc=True)
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
