"""The command line's argument parser and the types of the run parameters' flags (τ, G, as_of).

Every refusal is one line on stderr naming the flag, the value and what is expected, exit 2, before
any work starts: argparse's own multi-line usage + error is replaced by `OneLineParser.error`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from finance_recon.settings import (
    GRACE_EXPECTED,
    MAX_AS_OF_SKEW_MINUTES,
    TOLERANCE_EXPECTED,
    check_grace_minutes,
    check_tolerance,
)

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line: `<prog>: <message> (see <prog> --help)`."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def tolerance(text: str) -> Decimal:
    try:
        return check_tolerance(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        raise argparse.ArgumentTypeError(f"τ {text!r} is invalid: expected {TOLERANCE_EXPECTED}") from None


def grace_minutes(text: str) -> int:
    try:
        return check_grace_minutes(int(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"G {text!r} is invalid: expected {GRACE_EXPECTED}") from None


def positive_int(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected an integer ≥ 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected an integer ≥ 0")
    return value


def as_of(text: str, *, now: datetime | None = None) -> str:
    """A cut-off the run may use: ISO-8601 with an offset, not later than now + a small clock skew."""
    # Imported here: `parameters` imports Dagster, which `--help` does not need.
    from finance_recon.reconciliation.parameters import ParameterError, format_ts, parse_as_of

    if not text.strip():
        raise argparse.ArgumentTypeError(
            "as_of is empty: expected ISO-8601 with an offset, e.g. 2026-11-28T18:00:00Z"
        )
    try:
        value = parse_as_of(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    now = now or datetime.now(UTC)
    if value > now + timedelta(minutes=MAX_AS_OF_SKEW_MINUTES):
        raise argparse.ArgumentTypeError(
            f"as_of {text!r} is in the future (now {format_ts(now.replace(microsecond=0))}): "
            f"expected a cut-off at most {MAX_AS_OF_SKEW_MINUTES} minutes ahead of the clock"
        )
    return format_ts(value)


def fail(prog: str, message: str, code: int = EXIT_USAGE) -> int:
    """Print one line on stderr and return the exit code (for refusals found after parsing)."""
    print(f"{prog}: {message}", file=sys.stderr)
    return code
