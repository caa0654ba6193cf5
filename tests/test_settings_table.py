"""The README's table of configuration variables is the settings model's (issue 26 item 5)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from finance_recon.settings import PROJECT_ROOT, Settings, env_names, settings_table_markdown

README = PROJECT_ROOT / "README.md"


def _table_rows() -> dict[str, tuple[str, str]]:
    text = README.read_text()
    block = text[text.index("<!-- settings-table:") : text.index("<!-- /settings-table -->")]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_the_readme_table_is_generated_from_the_model():
    text = README.read_text()
    block = text[
        text.index("\n", text.index("<!-- settings-table:")) + 1 : text.index("<!-- /settings-table -->")
    ]
    assert block == settings_table_markdown(), "run: python scripts/settings_table.py"


def test_the_readme_lists_every_variable_of_the_model_once_with_its_default():
    rows = _table_rows()
    expected = {" / ".join(f"`{v}`" for v in env_names(name)): name for name in Settings.model_fields}
    assert set(rows) == set(expected)
    for variable, name in expected.items():
        field = Settings.model_fields[name]
        shown, meaning = rows[variable]
        assert meaning == field.description and meaning
        literal = (field.json_schema_extra or {}).get("shown") is None
        if literal:  # a literal default is printed as it is
            default = field.default
            value = (
                "unset"
                if default is None
                else str(default).lower()
                if isinstance(default, bool)
                else str(default)
            )
            assert shown in (value, f"`{value}`"), (variable, shown, value)


def test_every_setting_is_declared_once_with_a_type_a_default_and_what_is_expected():
    for name, field in Settings.model_fields.items():
        assert field.annotation is not None, name
        assert field.description, name
        assert (field.json_schema_extra or {}).get("expected"), name
    # The defaults the README shows are the ones the model resolves.
    settings = Settings.from_values(**{"home": "/srv/recon"})
    assert settings.orders_url == "duckdb:////srv/recon/demo/oltp.duckdb"
    assert settings.warehouse_path == Path("/srv/recon/warehouse.duckdb")
    assert settings.lake_dir == Path("/srv/recon/lake")
    assert settings.reports_uri == "/srv/recon/object-store/finance-reports"
    assert settings.tolerance == Decimal("0.00") and settings.dbt_project_dir == PROJECT_ROOT / "dbt_project"


def test_the_variable_names_follow_the_prefix():
    for name in Settings.model_fields:
        assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", v) for v in env_names(name)), name
        assert env_names(name)[0] == "FINANCE_RECON_" + {
            "report_link_expiry_seconds": "REPORT_LINK_EXPIRY"
        }.get(name, name.upper())
