"""The ranking of causes and the classification of store errors, without any service (fast)."""

from __future__ import annotations

import errno
from datetime import UTC, datetime, timedelta

import pytest

from finance_recon.report.store import LocalReportStore, StoreError
from finance_recon.runbook import causes as C
from finance_recon.runbook.instance import CheckFact, InstanceFacts, RunFact
from finance_recon.runbook.probes import SourceProbe, StoreProbe, classify_store_error, probe_store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = C.Thresholds(sla_minutes=30, source_lag_warn_minutes=15, source_lag_fail_minutes=30)


def source(name="orders", lag=1.0, kind=None, error=None) -> SourceProbe:
    return SourceProbe(
        name,
        f"duckdb:///{name}",
        "duckdb",
        reachable=kind != "unavailable",
        contract_ok=kind != "contract",
        max_updated_at=NOW - timedelta(minutes=lag),
        lag_minutes=lag,
        error=error,
        error_kind=kind,
    )


def store(**kw) -> StoreProbe:
    return StoreProbe(**{"uri": "/x", "kind": "local", "read_ok": True, "write_ok": True, **kw})


def run(status="SUCCESS", minutes=5.0, step=None, error=None) -> RunFact:
    return RunFact("r" * 36, "finance_reconciliation", status, None, None, None, minutes, step, error)


def instance(latest=None, checks=(), schedules=None, daemons=None) -> InstanceFacts:
    return InstanceFacts(
        dagster_home="/x",
        latest_run=latest or run(),
        checks=list(checks),
        schedules=schedules or {},
        daemons=daemons if daemons is not None else {"SCHEDULER": 5.0},
    )


def ranked(sources=None, st=None, inst=None, age=5.0) -> list[str]:
    return [
        c.code
        for c in C.rank_causes(
            sources or [source("orders"), source("payments")], st or store(), inst or instance(), T, age
        )
    ]


def test_healthy_when_nothing_is_wrong():
    assert ranked() == [C.HEALTHY]


def test_store_problems_outrank_everything():
    codes = ranked(
        sources=[
            source("orders", lag=200),
            source("payments", kind="contract", error="missing column currency"),
        ],
        st=store(read_ok=False, error="cannot read: Could not connect", error_kind="unreachable"),
        inst=instance(run("FAILURE", step="payments", error="missing column currency")),
        age=None,
    )
    assert codes[0] == C.STORAGE_UNREACHABLE
    assert codes.index(C.SCHEMA_DRIFT) < codes.index(C.JOB_FAILURE) < codes.index(C.SOURCE_LAG)


def test_write_probe_denied_is_credentials():
    codes = ranked(st=store(write_ok=False, error="cannot write: AccessDenied", error_kind="credentials"))
    assert codes[0] == C.CREDENTIALS_REJECTED


def test_source_login_rejected_is_credentials():
    codes = ranked(
        sources=[source("orders", kind="credentials", error="Access denied for user"), source("payments")]
    )
    assert codes[0] == C.CREDENTIALS_REJECTED


def test_failed_contract_check_is_schema_drift_and_explains_the_failed_run():
    check = CheckFact(
        "payments_batch:contract", "FAILED", False, "ERROR", "payments.currency missing", "r" * 36, ""
    )
    causes = C.rank_causes(
        [source("orders"), source("payments")],
        store(),
        instance(run("FAILURE", step=None, error="blocking check failed"), [check]),
        T,
        40,
    )
    assert [c.code for c in causes][:2] == [C.SCHEMA_DRIFT, C.JOB_FAILURE]


def test_warn_level_lag_ranks_below_a_job_failure():
    codes = ranked(
        sources=[source("orders", lag=20), source("payments")],
        inst=instance(run("FAILURE", step="x", error="boom")),
    )
    assert codes == [C.JOB_FAILURE, C.SOURCE_LAG]


def test_stale_report_without_failure_is_job_not_running():
    causes = C.rank_causes(
        [source("orders"), source("payments")],
        store(),
        instance(
            run("SUCCESS", minutes=45),
            schedules={"finance_reconciliation_every_10_minutes": "STOPPED"},
            daemons={},
        ),
        T,
        45,
    )
    assert causes[0].code == C.JOB_NOT_RUNNING
    assert "schedule stopped" in causes[0].evidence[0] and "no scheduler daemon" in causes[0].evidence[0]


def test_run_in_flight_longer_than_the_sla_is_stuck():
    assert ranked(inst=instance(run("STARTED", minutes=50)), age=50)[0] == C.JOB_STUCK


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "full"),
        (PermissionError(errno.EACCES, "Permission denied"), "credentials"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "unreachable"),
    ],
)
def test_os_errors_are_classified(exc, kind):
    wrapped = StoreError("cannot write")
    wrapped.__cause__ = exc
    assert classify_store_error(wrapped) == kind


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("InvalidAccessKeyId", 403, "credentials"),
        ("SignatureDoesNotMatch", 403, "credentials"),
        ("ExpiredToken", 400, "credentials"),
        ("AccessDenied", 403, "credentials"),
        ("XMinioStorageFull", 507, "full"),
        ("NoSuchBucket", 404, "unreachable"),
        ("ServiceUnavailable", 503, "unreachable"),
    ],
)
def test_s3_errors_are_classified(code, status, kind):
    from botocore.exceptions import ClientError

    exc = ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )
    assert classify_store_error(exc) == kind


def test_endpoint_down_is_unreachable():
    from botocore.exceptions import EndpointConnectionError

    assert classify_store_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")) == "unreachable"


class FullStore(LocalReportStore):
    """A local store on a full disk: reads work, every write fails with ENOSPC (as the OS reports it)."""

    def put(self, key, data, content_type="application/octet-stream"):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise StoreError(f"cannot write {key}: {exc}") from exc


def test_full_store_is_named_by_the_write_probe(tmp_path):
    class S:
        reports_uri = str(tmp_path)
        reports_are_s3 = False
        s3_endpoint_url = None

    probe = probe_store(S(), NOW, store=FullStore(tmp_path))
    assert probe.read_ok is True and probe.write_ok is False and probe.error_kind == "full"
    assert ranked(st=probe, age=None)[0] == C.STORAGE_FULL
    skipped = probe_store(S(), NOW, write_probe=False, store=FullStore(tmp_path))
    assert skipped.write_ok is None and skipped.error is None
