"""Small REST adapters: Flink SQL Gateway and JobManager. The HTTP session is injectable, so tests
assert the requests sent, and integration tests run them against the real servers.

Errors become StreamMetricsError with the URL and what to check, never a bare traceback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

from .errors import StreamMetricsError


class GatewayError(StreamMetricsError):
    pass


@dataclass
class _Rest:
    base_url: str
    what: str
    http: Any = field(default_factory=requests.Session)
    timeout: float = 30.0

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        url = self.base_url.rstrip("/") + path
        try:
            response = self.http.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise GatewayError(f"{self.what} at {self.base_url} is unreachable ({type(exc).__name__}); "
                               f"is it running? check the target's URL in profiles.yml") from None
        if response.status_code >= 400:
            raise GatewayError(f"{self.what} {method} {path} failed with HTTP {response.status_code}: "
                               f"{_error_text(response)}")
        return response.json() if response.content else {}


def _error_text(response: Any) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return response.text[:500]
    lines = [line for e in errors for line in str(e).splitlines() if line.strip()]
    causes = [line.strip() for line in lines if line.strip().startswith("Caused by:")]
    return (causes[-1] if causes else (lines[0] if lines else "no detail"))[:500]


@dataclass
class SqlGateway:
    """Flink SQL Gateway REST API v1: one session, statements executed one at a time."""

    rest: _Rest
    session: str | None = None
    poll_seconds: float = 0.2

    @classmethod
    def connect(cls, url: str, http: Any = None) -> "SqlGateway":
        rest = _Rest(url, "Flink SQL Gateway", http or requests.Session())
        gateway = cls(rest)
        gateway.session = rest.call("POST", "/v1/sessions", {"sessionName": "streammetrics"})["sessionHandle"]
        return gateway

    def close(self) -> None:
        if self.session:
            try:
                self.rest.call("DELETE", f"/v1/sessions/{self.session}")
            except GatewayError:
                pass
            self.session = None

    def __enter__(self) -> "SqlGateway":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def configure(self, statement: str) -> None:
        """SET / USE / CREATE CATALOG style statements that change the session."""
        self.rest.call("POST", f"/v1/sessions/{self.session}/configure-session", {"statement": statement})

    def execute(self, statement: str, timeout: float = 120.0) -> list[list[Any]]:
        """Run one statement; returns its result rows (an INSERT returns the job id)."""
        operation = self.rest.call("POST", f"/v1/sessions/{self.session}/statements",
                                   {"statement": statement})["operationHandle"]
        base = f"/v1/sessions/{self.session}/operations/{operation}"
        deadline = time.monotonic() + timeout
        while True:
            status = self.rest.call("GET", f"{base}/status")["status"]
            if status == "FINISHED":
                break
            if status in ("ERROR", "CANCELED", "CLOSED", "TIMEOUT"):
                # the result endpoint carries the exception text
                self.rest.call("GET", f"{base}/result/0")
                raise GatewayError(f"statement {status.lower()}: {statement.splitlines()[0][:120]}")
            if time.monotonic() > deadline:
                raise GatewayError(f"statement still {status} after {timeout:.0f} s: {statement.splitlines()[0][:120]}")
            time.sleep(self.poll_seconds)
        rows: list[list[Any]] = []
        token: Any = 0
        while token is not None:
            page = self.rest.call("GET", f"{base}/result/{token}?rowFormat=JSON")
            rows += [r.get("fields", r) for r in (page.get("results") or {}).get("data", [])]
            next_uri = page.get("nextResultUri")
            if not next_uri or page.get("resultType") == "EOS":
                break
            token = next_uri.rstrip("/").split("/")[-1].split("?")[0]
        return rows


@dataclass
class JobManager:
    """Flink JobManager REST: running jobs by name, stop with savepoint."""

    rest: _Rest

    @classmethod
    def connect(cls, url: str, http: Any = None) -> "JobManager":
        return cls(_Rest(url, "Flink JobManager", http or requests.Session()))

    def jobs(self) -> list[dict[str, Any]]:
        return self.rest.call("GET", "/jobs/overview").get("jobs", [])

    def running(self, name: str) -> dict[str, Any] | None:
        active = [j for j in self.jobs() if j.get("name") == name and j.get("state") in ("RUNNING", "CREATED", "RESTARTING", "INITIALIZING")]
        return max(active, key=lambda j: j.get("start-time", 0)) if active else None

    def stop_with_savepoint(self, job_id: str, directory: str | None, timeout: float = 300.0) -> str:
        """Stop with a savepoint in `directory` (None: the cluster's state.savepoints.dir); returns its path."""
        body: dict[str, Any] = {"drain": False}
        if directory:
            body["targetDirectory"] = directory
        request = self.rest.call("POST", f"/jobs/{job_id}/stop", body)["request-id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.rest.call("GET", f"/jobs/{job_id}/savepoints/{request}")
            if status.get("status", {}).get("id") == "COMPLETED":
                operation = status.get("operation", {})
                if "failure-cause" in operation:
                    cause = operation["failure-cause"].get("stack-trace", "").splitlines()[0:1]
                    raise GatewayError(f"stop-with-savepoint of job {job_id} failed: {cause[0] if cause else 'unknown'}")
                return operation["location"]
            time.sleep(0.5)
        raise GatewayError(f"stop-with-savepoint of job {job_id} did not finish in {timeout:.0f} s")

    def cancel(self, job_id: str) -> None:
        self.rest.call("PATCH", f"/jobs/{job_id}?mode=cancel")
