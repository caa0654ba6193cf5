"""`finance-recon metrics serve`: the Prometheus exporter (see `finance_recon.metrics`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


class _DeferredParser(argparse.ArgumentParser):
    """A subcommand parser whose arguments are added on first use (parsing it, or showing its help).

    `serve`'s arguments come from `finance_recon.metrics.server`, which imports prometheus_client and,
    through the collector, pyarrow: deferring them keeps `finance-recon --help` light.
    """

    def __init__(self, *args, configure: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._configure = configure

    def _configured(self) -> _DeferredParser:
        configure, self._configure = self._configure, None
        if configure is not None:
            configure(self)
        return self

    def parse_known_args(self, args=None, namespace=None):
        return super(_DeferredParser, self._configured()).parse_known_args(args, namespace)

    def format_usage(self) -> str:
        return super(_DeferredParser, self._configured()).format_usage()

    def format_help(self) -> str:
        return super(_DeferredParser, self._configured()).format_help()


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    from finance_recon.metrics.server import configure_serve_parser

    configure_serve_parser(parser)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("metrics", help="Prometheus metrics over the published reports")
    sub = parser.add_subparsers(dest="metrics_command", metavar="{serve}", parser_class=_DeferredParser)
    sub.add_parser(
        "serve",
        help="serve /metrics (age, last update, breaks, source lag) computed at scrape time from the newest manifest",
        configure=_configure_serve,
    )

    def _usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_usage)
    return parser
