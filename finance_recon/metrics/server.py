"""`finance-recon metrics serve`: the HTTP exporter (prometheus_client) over the report store.

Bound to 127.0.0.1 by default; in a container pass `--host 0.0.0.0` and publish the port. The
process answers `/metrics` until SIGINT/SIGTERM; scrapes never crash it (see `collector.py`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from finance_recon.metrics.collector import ReportCollector
from finance_recon.metrics.latest import open_report_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9108  # the exporter's conventional port range; 9108 is free of well-known exporters here

log = logging.getLogger(__name__)


def build_registry(store: Any, clock: Any = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    collector = ReportCollector(store) if clock is None else ReportCollector(store, clock=clock)
    registry.register(collector)
    return registry


def configure_serve_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to bind (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--reports-uri",
        default=None,
        help="report store root (default: FINANCE_RECON_REPORTS_URI / settings)",
    )
    parser.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    from finance_recon.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    if getattr(args, "reports_uri", None):
        settings = settings.model_copy(update={"reports_uri": args.reports_uri})
    store = open_report_store(settings)
    return serve(store, host=args.host, port=args.port)


def serve(
    store: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, stop: threading.Event | None = None
) -> int:
    """Serve /metrics until `stop` is set or SIGINT/SIGTERM arrives. Returns the exit code."""
    registry = build_registry(store)
    try:
        httpd, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        print(f"finance-recon metrics: cannot bind {host}:{port}: {exc}", file=sys.stderr)
        return 2
    bound_host, bound_port = httpd.server_address[:2]
    # One parseable line on stdout: tests and scripts read the port when started with --port 0.
    print(
        f"finance-recon metrics: serving http://{bound_host}:{bound_port}/metrics (store {store.uri})",
        flush=True,
    )
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Stand-alone parser for `python -m finance_recon.metrics` (same options as the CLI)."""
    parser = argparse.ArgumentParser(prog="python -m finance_recon.metrics", description=__doc__)
    sub = parser.add_subparsers(dest="metrics_command", required=True)
    configure_serve_parser(sub.add_parser("serve", help="serve /metrics computed from the newest report"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
