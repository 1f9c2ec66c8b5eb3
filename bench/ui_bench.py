"""The web UI: built bundle size (gzip) and, in headless chromium, first contentful paint
and time to the full table of the servers page with N servers (default 1,000).
Goals (issue 14): bundle < 300 kB gzip, FCP < 1 s.

    uv run python bench/ui_bench.py [--servers 1000] [--runs 5]

Runs against the local stack (make up) with a throwaway database seeded like
bench/api_status_bench.py; an API process and the UI server of this checkout are started on
free ports (the gateway is the stack's). Needs `npm ci` in frontend/ and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import secrets
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from api_common import api_process, login, stack_env, throwaway_bucket
from api_common import throwaway_database as throwaway_db
from api_status_bench import seed

from inference_localstack.frontend import ensure_built
from inference_localstack.ui_process import ui_argv
from inference_testkit.object_store import minio_from_env
from inference_testkit.servers import free_port, http_process

HERE = Path(__file__).parent


def bundle_sizes(dist: Path) -> dict[str, tuple[int, int]]:
    """Raw and gzip (level 9) bytes of each JS and CSS file the page loads."""
    sizes = {}
    for path in sorted((dist / "assets").iterdir()):
        if path.suffix in {".js", ".css"}:
            raw = path.read_bytes()
            sizes[path.name] = (len(raw), len(gzip.compress(raw, 9)))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    dist = ensure_built()
    sizes = bundle_sizes(dist)
    total_gzip = sum(g for _, g in sizes.values())
    for name, (raw, gz) in sizes.items():
        print(f"{name}: {raw / 1000:.1f} kB, gzip {gz / 1000:.1f} kB")
    print(
        f"bundle: gzip {total_gzip / 1000:.1f} kB "
        f"(goal < 300 kB: {'met' if total_gzip < 300_000 else 'NOT met'})"
    )

    env = stack_env()
    password = secrets.token_urlsafe(18)
    with throwaway_db(env) as database_url, throwaway_bucket(minio_from_env(env)) as bucket:
        asyncio.run(seed(database_url, args.servers, password))
        with api_process(
            env,
            database_url,
            bucket,
            password,
            WATCH_MODELSERVES="false",
            SERVER_UUID_KEY=secrets.token_urlsafe(48),
        ) as (
            api_url,
            _pid,
        ):
            token = login(api_url, password)["Authorization"].split(" ", 1)[1]
            port = free_port()
            argv = ui_argv(port, dist, api_url, env["GATEWAY_URL"])
            ui_url = f"http://127.0.0.1:{port}"
            with http_process(argv, dict(os.environ), f"{ui_url}/"):
                out = subprocess.run(
                    [
                        "node",
                        str(HERE / "ui_fcp.mjs"),
                        ui_url,
                        token,
                        str(args.servers),
                        str(args.runs),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=600,
                ).stdout
    runs = json.loads(out.strip().splitlines()[-1])
    fcp = statistics.median(r["fcp"] for r in runs)
    table = statistics.median(r["tableMs"] for r in runs)
    print(
        f"servers page, {args.servers} servers, median of {len(runs)} runs: "
        f"FCP {fcp:.0f} ms (goal < 1 s: {'met' if fcp < 1000 else 'NOT met'}), "
        f"all {args.servers} rows rendered {table:.0f} ms after navigation "
        f"(runs: FCP {[round(r['fcp']) for r in runs]} ms)"
    )


if __name__ == "__main__":
    main()
