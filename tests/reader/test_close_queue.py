"""Closes queue on each other (a UI backfill starts several day runs at once): the second waits,
says so once, and goes on when the first is done."""

from __future__ import annotations

import threading

from finance_recon.report.close import one_close_at_a_time
from finance_recon.settings import load_settings


def test_a_second_close_waits_for_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path))
    settings = load_settings().model_copy(update={"home": tmp_path})
    waits: list[str] = []
    entered = threading.Event()

    def second():
        with one_close_at_a_time(settings, on_wait=waits.append):
            entered.set()

    with one_close_at_a_time(settings, on_wait=waits.append):
        thread = threading.Thread(target=second)
        thread.start()
        assert not entered.wait(1.0)  # blocked while the first close holds the queue
        assert len(waits) == 1 and "another close is running" in waits[0]
    thread.join(10)
    assert entered.is_set() and len(waits) == 1
    with one_close_at_a_time(settings, on_wait=waits.append):  # free again: no wait
        pass
    assert len(waits) == 1
