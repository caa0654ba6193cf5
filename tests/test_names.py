"""The shared names and the lists dbt repeats in YAML (dbt cannot import Python) stay equal."""

from pathlib import Path

import yaml

from finance_recon.contracts import CATEGORIES, NON_BREAK_CATEGORIES, VERDICTS

MARTS = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts" / "_marts__models.yml"


def _accepted_values(model: str, column: str) -> list[str]:
    models = {m["name"]: m for m in yaml.safe_load(MARTS.read_text())["models"]}
    col = next(c for c in models[model]["columns"] if c["name"] == column)
    (values,) = [
        t["accepted_values"]["arguments"]["values"] for t in col["data_tests"] if "accepted_values" in t
    ]
    return values


def test_dbt_category_lists_are_the_python_list():
    project = yaml.safe_load((MARTS.parents[2] / "dbt_project.yml").read_text())
    assert project["vars"]["categories"] == list(CATEGORIES)
    # the tests and the summary read that one list
    assert _accepted_values("fct_reconciliation_items", "category") == "{{ var('categories') }}"
    assert _accepted_values("rpt_category_summary", "category") == "{{ var('categories') }}"
    summary = (MARTS.parent / "rpt_reconciliation_summary.sql").read_text()
    assert "{%- set categories = var('categories') %}" in summary


def test_dbt_verdicts_are_the_python_list():
    assert _accepted_values("rpt_reconciliation_summary", "verdict") == list(VERDICTS)


def test_dbt_is_break_rule_uses_the_python_list():
    models = {m["name"]: m for m in yaml.safe_load(MARTS.read_text())["models"]}
    col = next(c for c in models["fct_reconciliation_items"]["columns"] if c["name"] == "is_break")
    (expression,) = [t["expression_is_true"]["arguments"]["expression"] for t in col["data_tests"]]
    settled = expression.split("not in (", 1)[1].split(")", 1)[0]
    assert [c.strip().strip("'") for c in settled.split(",")] == list(NON_BREAK_CATEGORIES)


def test_dbt_settled_categories_macro_is_the_python_list():
    """is_break (int_reconciliation_items.sql) reads the non-break list from one macro (macros/rules.sql)."""
    rules = (MARTS.parents[2] / "macros" / "rules.sql").read_text()
    body = rules.split("{% macro settled_categories() -%}", 1)[1].split("{%- endmacro %}", 1)[0]
    listed = body.split("-#}", 1)[1].strip()
    assert [c.strip().strip("'") for c in listed.split(",")] == list(NON_BREAK_CATEGORIES)
