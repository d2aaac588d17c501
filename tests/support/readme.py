"""The README's code blocks, so the tests run what the README shows."""

from __future__ import annotations

import re

from tests.support import ROOT

README = ROOT / "README.md"


def snippet(after: str) -> str:
    """The first ```python block after the line containing ``after``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    m = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert m, after
    return m.group(1)
