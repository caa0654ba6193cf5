"""A source connection cut mid-stream by a loopback TCP proxy (real MariaDB and PostgreSQL behind
it): the extraction fails with one line naming the source (redacted URL, host:port, database) and
the driver's own complaint — never psycopg2's "connection already closed" from the cleanup, never
"Exceeded max_retries" — classified retryable."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import pytest
from dagster import DagsterInstance, RetryPolicy, materialize

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import load_table
from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.runs.facts import run_failure
from finance_recon.sources.assets import build_batch_asset
from finance_recon.sources.errors import SourceUnavailableError
from finance_recon.sources.readers import open_reader
from finance_recon.sources.resources import SourceDatabaseResource
from finance_recon.sources.urls import SourceUrl
from tests.sources.conftest import mysql_admin, mysql_url, pg_admin, pg_url  # noqa: F401 (fixtures)

CUT_AFTER_BYTES = 64 * 1024  # server → client, per connection: the metadata queries get through


class CuttingProxy:
    """127.0.0.1:<port> → upstream; a connection that has carried `cut_after` bytes from the server
    is reset on both sides (RST), as a failing network or a killed server would."""

    def __init__(self, upstream: tuple[str, int], cut_after: int):
        self.upstream, self.cut_after = upstream, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        carried = 0
        try:
            while data := src.recv(16384):
                if counted and carried + len(data) > self.cut_after:
                    dst.sendall(data[: self.cut_after - carried])
                    self.cuts += 1
                    for s in (src, dst):  # abort both sides (shutdown also wakes the other pump)
                        with contextlib.suppress(OSError):
                            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                            s.shutdown(socket.SHUT_RDWR)
                    return
                dst.sendall(data)
                carried += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        self._stop = True
        self.listener.close()


@pytest.fixture(scope="module")
def shop():
    return generate_shop(4_000, seed=3)  # ~0.5 MB of rows per table: the cut lands mid-stream


def _through_proxy(url: str, port: int) -> str:
    parsed = SourceUrl.parse(url).url.set(host="127.0.0.1", port=port)
    return parsed.render_as_string(hide_password=False)


def _sources(request, shop, kind: str):
    if kind == "postgresql":
        url = request.getfixturevalue("pg_url")
        load_table(PAYMENTS, shop.payments, url)
        return PAYMENTS, url, 5432
    url = request.getfixturevalue("mysql_url")
    load_table(ORDERS, shop.orders, url)
    return ORDERS, url, 3306


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_connection_cut_mid_stream_names_the_source(request, shop, kind, monkeypatch, tmp_path):
    table, url, port = _sources(request, shop, kind)
    database = SourceUrl.parse(url).database
    proxy = CuttingProxy(("127.0.0.1", port), CUT_AFTER_BYTES)
    try:
        cut_url = _through_proxy(url, proxy.port)
        # The reader alone: the original error survives the cleanup on the dead connection.
        with pytest.raises(SourceUnavailableError) as cut, open_reader(SourceUrl.parse(cut_url)) as reader:
            checked = reader.check_contract(table)
            for _ in reader.read(table, None, 1_000, checked):
                pass
        message = str(cut.value)
        assert proxy.cuts >= 1
        assert "\n" not in message and "already closed" not in message
        assert f"is unavailable (host 127.0.0.1:{proxy.port}, database {database})" in message

        # The extraction asset in a real Dagster run (short retries): one line, the real error.
        asset = build_batch_asset(table, retry_policy=RetryPolicy(max_retries=1, delay=0.05))
        result = materialize(
            [asset],
            resources={
                "warehouse": EmbeddedWarehouse(path=str(tmp_path / "warehouse.duckdb")),
                table.source_resource_key: SourceDatabaseResource(url=cut_url),
            },
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    finally:
        proxy.close()
    assert not result.success
    failure = run_failure(result.all_events)
    assert failure.cause.startswith(f"step {table.batch_asset_name} failed: source ")
    assert f"(host 127.0.0.1:{proxy.port}, database {database})" in failure.cause
    assert "max_retries" not in failure.cause and "already closed" not in failure.cause
    assert (failure.kind, failure.retryable) == ("unreachable", True)
