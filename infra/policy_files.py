"""Reading programme files from disk.

The shipped defaults live in ``policies/``; ``CULTIVATION_POLICIES`` (or
``--policies``) names another folder.  Every ``*.toml`` file in the folder is one rule
version of one programme.  A bad file fails at load with the file, the field and the
reason, e.g.::

    policy file national-2022.toml: Expected `int`, got `str` - at `$.tiers[0].notice_days`
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from domain.policy import PolicyBook, Programme, decode_programme
from domain.sme import SmeStandard, decode_sme_standard
from policies import SHIPPED, STANDARDS

SME_STANDARD = STANDARDS / "sme-2011.toml"


class PolicyFileError(ValueError):
    """A programme file that does not decode; names the file, the field and the reason."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"policy file {path}: {reason}")
        self.path = path
        self.reason = reason


def load_programme(path: Path) -> Programme:
    try:
        return decode_programme(path.read_bytes())
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise PolicyFileError(path, str(e)) from None


def load_sme_standard(path: str | Path | None = None) -> SmeStandard:
    """The 企业划型 standard (《中小企业划型标准规定》) the ``not_sme`` bar judges by."""
    path = Path(path or SME_STANDARD)
    try:
        return decode_sme_standard(path.read_bytes())
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise PolicyFileError(path, str(e)) from None


def load_policy_book(folder: str | Path | None = None) -> PolicyBook:
    folder = Path(folder or os.environ.get("CULTIVATION_POLICIES") or SHIPPED)
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise PolicyFileError(folder, "no *.toml programme files in this folder")
    programmes = [load_programme(f) for f in files]
    try:
        return PolicyBook(programmes)
    except ValueError as e:
        raise PolicyFileError(folder, str(e)) from None
