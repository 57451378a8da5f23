"""The ``pregen`` console command: dev tokens for the local stack (ops commands arrive with their issue)."""

from __future__ import annotations

import argparse
import sys

from pregen_local import devjwt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pregen", description="Pregen tooling for the local stack and operators")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a dev JWT that the local stack accepts")
    token.add_argument("--sub", required=True, help="the learner's id (the token's subject)")
    token.add_argument("--role", default="student", choices=devjwt.ROLES)
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    args = parser.parse_args(argv)
    if args.command == "token":
        print(devjwt.mint(args.sub, args.role, ttl_seconds=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
