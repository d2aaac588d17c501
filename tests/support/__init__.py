"""What the tests share besides fixtures (those are in ``tests/conftest.py``).

Every test module imports these one way, ``from tests.support.<module> import …``: the
project root is on ``sys.path`` through ``pythonpath`` in ``pyproject.toml``.

- ``ledgers``: ``Script`` (commands as JSON-shaped dicts), ``uscc``, a PostgreSQL schema per test
- ``journeys``: an enterprise driven through the lifecycle by real commands
- ``streams``: the six-command ``journey`` to a designation, ``load``, ``send_all`` over NATS, ``start_serve``
- ``serving``: a real ``cultivation serve`` in a subprocess; ``principals``: the same with accounts
- ``hostile``: one well-formed command of each type, row counts, raw sends
- ``demo``, ``generated``: the demo history in a SQLite file; the issue's generated file
- ``readme``: the README's code blocks
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project: tests/support/__init__.py → tests → root
