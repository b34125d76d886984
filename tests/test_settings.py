"""Each owner's settings: the README's tables are the dataclasses as they are, and a
service reads its own when it starts."""
import os
import subprocess
from pathlib import Path

import pytest

from gateway import settings as gateway
from services.leads import settings as leads
from services.finance import settings as finance
from services.sales import settings as sales
from shared.config import Settings, documented
from shared.launcher import service_argv

README = Path(__file__).resolve().parents[1] / "README.md"
OWNERS = {"Kernel": (Settings, "CRM", {}),
          "Gateway": (gateway.GatewaySettings, "GATEWAY", gateway.RENAMED),
          "Leads": (leads.LeadsSettings, "LEADS", leads.RENAMED),
          "Sales": (sales.SalesSettings, "SALES", sales.RENAMED),
          "Finance": (finance.FinanceSettings, "FINANCE", {})}


def _table(heading: str) -> dict[str, list[str]]:
    """The rows of the table under ``### <heading>``: variable -> its other cells."""
    section = README.read_text().split(f"\n### {heading}", 1)[1].split("\n#", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| `")]
    return {row[0].strip("`"): row[1:] for row in rows if "<" not in row[0]}  # <SERVICE>_DATABASE_URL: not a field


@pytest.mark.parametrize("owner", OWNERS)
def test_the_readme_shows_each_owners_settings_as_they_are(owner):
    cls, prefix, renamed = OWNERS[owner]
    rows = _table(owner)
    expected = documented(cls, prefix, renamed)
    assert list(rows) == [name for name, _, _ in expected], f"README's {owner} table lists other variables"
    for name, default, old in expected:
        shown = rows[name][0]
        assert shown.startswith(f"`{default}`") if default is not None else not shown.startswith("`"), \
            f"README shows a stale default of {name}"
        if renamed:
            assert rows[name][1] == (f"`{old}`" if old else ""), f"README names the wrong former name of {name}"


def test_a_service_reports_an_old_name_and_refuses_a_bad_value_when_it_starts(fresh_amqp_uri, tmp_path):
    """At the start, not at the first call; and it stops rather than restart in vain."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LEADS_", "CRM_"))}
    env.update(AMQP_URI=fresh_amqp_uri, CRM_DATA_DIR=str(tmp_path), CRM_POOL_STALE_DAYS="3",
               LEADS_POOL_CLAIM_CAP="many")
    done = subprocess.run(service_argv("leads"), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "CRM_POOL_STALE_DAYS is deprecated: set LEADS_POOL_STALE_DAYS instead" in done.stderr
    assert "service leads cannot start: LEADS_POOL_CLAIM_CAP='many' is not a whole number" in done.stderr
