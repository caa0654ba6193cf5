"""Every category has one explanation for Finance, in the rule order of contracts §2."""

from finance_recon.contracts import CATEGORIES
from finance_recon.report.guide import GUIDE


def test_every_category_is_explained_once_in_rule_order():
    assert tuple(GUIDE) == CATEGORIES


def test_each_explanation_says_what_happened_who_acts_and_what_to_do():
    for category, guide in GUIDE.items():
        for part in (guide.happened, guide.who_acts, guide.to_do):
            assert part.strip().endswith("."), (category, part)
            assert len(part) <= 140, (category, "one line each")
