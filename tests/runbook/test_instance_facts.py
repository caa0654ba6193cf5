"""`runbook/instance.py` reads the orchestrator's state from the instance: the schedules' stored
status (never a sensor's) and the daemons' heartbeats, as `diagnose` reports them."""

from __future__ import annotations

import sys

from dagster import instance_for_test

from finance_recon.runbook.instance import read_instance


def _instigator_state(name: str, kind: str, status: str):
    """A stored schedule or sensor state as the daemon/UI stores it. Built with Dagster's own
    classes (not exported by `dagster`): this test sets up the storage, the code under test reads it."""
    from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteRepositoryOrigin
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    repository = RemoteRepositoryOrigin(
        ManagedGrpcPythonEnvCodeLocationOrigin(
            LoadableTargetOrigin(executable_path=sys.executable, module_name="fake", attribute="fake")
        ),
        "fake_repository",
    )
    data = ScheduleInstigatorData("*/10 * * * *", start_timestamp=None) if kind == "SCHEDULE" else None
    return InstigatorState(
        repository.get_instigator_origin(name), InstigatorType(kind), InstigatorStatus(status), data
    )


def test_schedules_are_reported_with_their_stored_status_and_sensors_are_not():
    with instance_for_test() as instance:
        instance.add_instigator_state(_instigator_state("every_10_minutes", "SCHEDULE", "STOPPED"))
        instance.add_instigator_state(_instigator_state("nightly", "SCHEDULE", "RUNNING"))
        instance.add_instigator_state(_instigator_state("dead_run_sensor", "SENSOR", "RUNNING"))
        facts = read_instance(instance=instance)
    assert facts.error is None, facts.error
    assert facts.schedules == {"every_10_minutes": "STOPPED", "nightly": "RUNNING"}
