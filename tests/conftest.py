"""Fixtures shared across test packages."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real S3-API server (moto) on 127.0.0.1, in-process, on a free port, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs two workers, `--dist loadgroup`), every test of one top-level
    test package runs on the same worker: a package's expensive fixtures (a published deployment, a
    Spark session, a daemon) are built once, and its tests keep the order they were written in."""
    for item in items:
        parts = item.nodeid.split("/")
        group = parts[1] if len(parts) > 2 else "root"
        item.add_marker(pytest.mark.xdist_group(group))
