"""`finance-recon metrics serve`: the Prometheus exporter (see `finance_recon.metrics`)."""

from __future__ import annotations

import argparse

from finance_recon.metrics.server import configure_serve_parser


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("metrics", help="Prometheus metrics over the published reports")
    sub = parser.add_subparsers(dest="metrics_command", metavar="{serve}")
    serve = sub.add_parser(
        "serve",
        help="serve /metrics (age, last update, breaks, source lag) computed at scrape time from the newest manifest",
    )
    configure_serve_parser(serve)

    def _usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_usage)
    return parser
