"""``cultivation api``: the machine-readable contract of the NATS API (README, "The contract")."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _api(args: argparse.Namespace) -> int:
    from entrypoints.api import asyncapi, render, schema

    sys.stdout.write(render(asyncapi() if args.asyncapi else schema()))
    return 0


def add_api_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("api", parents=[common], help="print the JSON Schema or the AsyncAPI document of the NATS API",
                       description=__doc__)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--schema", action="store_true",
                       help="JSON Schema 2020-12 of every message (docs/api/schema.json)")
    which.add_argument("--asyncapi", action="store_true", help="AsyncAPI 3.0 of every subject (docs/api/asyncapi.json)")
    p.set_defaults(func=_api)
