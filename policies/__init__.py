"""The rules as data: one TOML file per programme rule version (national-2018, national-2022,
national-2026, and the provincial and city programmes).

This is where a reader looks for a rule: which tiers a programme has, who decides and who
recommends each, how long a designation is valid, which tier a tier requires (a little giant
requires a valid provincial 专精特新: ``national-2022.toml``, ``[[tiers]] id = "little_giant"``,
``requires``), the thresholds, the reward schemes.  Every rule names its source document.  The
files hold no code; ``infra.policy_files`` reads them into ``domain.policy`` structures, which
the domain enforces.
"""

from pathlib import Path

SHIPPED = Path(__file__).parent
# Standards the rules refer to, not programmes (the 企业划型 test of 工信部联企业〔2011〕300号).
STANDARDS = SHIPPED / "standards"
