"""Holding the reconciliation schedule through the Dagster webserver's GraphQL API."""

from __future__ import annotations

import requests

LOCATION = "finance_recon"
REPOSITORY = "__repository__"


class ScheduleHold:
    """Stops the reconciliation schedule through the webserver's GraphQL API, and starts it again."""

    def __init__(self, dagster_url: str, schedule_name: str):
        self.url = dagster_url.rstrip("/") + "/graphql"
        self.selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "scheduleName": schedule_name,
        }
        self.was_running = False
        self.stopped = False

    def _gql(self, query: str, **variables) -> dict:
        response = requests.post(self.url, json={"query": query, "variables": variables}, timeout=30)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL error: {body['errors']}")
        return body["data"]

    def status(self) -> tuple[str, str | None]:
        data = self._gql(
            "query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) { __typename "
            "... on Schedule { scheduleState { id selectorId status } } ... on PythonError { message } } }",
            s=self.selector,
        )["scheduleOrError"]
        if data["__typename"] != "Schedule":
            raise RuntimeError(f"schedule {self.selector['scheduleName']}: {data}")
        state = data["scheduleState"]
        return state["status"], state["id"]

    def stop(self) -> str:
        status, state_id = self.status()
        self.was_running = status == "RUNNING"
        if not self.was_running:
            return f"schedule {self.selector['scheduleName']} already {status}"
        result = self._gql(
            "mutation($id: String!) { stopRunningSchedule(id: $id) { __typename ... on PythonError { message } } }",
            id=state_id,
        )["stopRunningSchedule"]
        if result["__typename"] == "PythonError":
            raise RuntimeError(result["message"])
        self.stopped = True
        return f"schedule {self.selector['scheduleName']} stopped via {self.url}"

    def restore(self) -> str | None:
        if not self.stopped:
            return None
        result = self._gql(
            "mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) { __typename "
            "... on PythonError { message } } }",
            s=self.selector,
        )["startSchedule"]
        if result["__typename"] == "PythonError":
            raise RuntimeError(result["message"])
        self.stopped = False
        return f"schedule {self.selector['scheduleName']} started again"
