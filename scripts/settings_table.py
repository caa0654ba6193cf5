"""Rewrite the README's table of configuration variables from `finance_recon.settings.Settings`.

    python scripts/settings_table.py          # rewrite README.md
    python scripts/settings_table.py --check  # exit 1 when README.md is not current

tests/test_settings_table.py runs the check.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "<!-- settings-table:"
END = "<!-- /settings-table -->"


def render(readme: str) -> str:
    """The README with the text between the markers replaced by the table of the model."""
    sys.path.insert(0, str(ROOT))
    from finance_recon.settings import settings_table_markdown

    start = readme.index("\n", readme.index(START)) + 1
    end = readme.index(END)
    return readme[:start] + settings_table_markdown() + readme[end:]


def main(argv: list[str]) -> int:
    text = README.read_text()
    current = render(text)
    if "--check" in argv:
        return 0 if current == text else 1
    README.write_text(current)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
