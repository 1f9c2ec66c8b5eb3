"""`infstack up | down | status | logs [NAME]`: the single-machine stack."""

from __future__ import annotations

import argparse
import sys

from inference_localstack import processes, stack
from inference_localstack.config import StackConfig
from inference_localstack.launch import StackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start every component (reuses what already runs)")
    sub.add_parser("down", help="stop everything; leaves no process or network namespace")
    sub.add_parser("status", help="which components run")
    logs = sub.add_parser("logs", help="the tail of a component's log")
    logs.add_argument("name", nargs="?", help="component; all when omitted")
    logs.add_argument("-n", "--lines", type=int, default=40)
    args = parser.parse_args(argv)
    config = StackConfig()
    try:
        if args.command == "up":
            stack.up(config)
        elif args.command == "down":
            stack.down(config)
        elif args.command == "status":
            stack.print_json(stack.status(config))
        elif args.command == "logs":
            names = (
                [args.name] if args.name else sorted(p.stem for p in config.log_dir.glob("*.log"))
            )
            for name in names:
                print(f"==> {name} <==\n{processes.log_tail(config, name, args.lines)}\n")
    except StackError as exc:
        print(f"[stack] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
