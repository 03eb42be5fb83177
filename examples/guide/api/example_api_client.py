"""A small client for the HTTP API guide's shopping workflow, built on `requests` only.

    from api.example_api_client import TemporalAPIClient

    client = TemporalAPIClient()  # http://localhost:8000
    result = client.trigger_shopping_workflow_sync([{"fruit": "APPLE", "amount": 5}])
    print(result["result"])

Every method returns the API's JSON answer as a dict. HTTP errors raise `TemporalAPIError`
carrying the problem document's `detail` (the API answers errors as RFC 9457
application/problem+json); waits that run out raise `TimeoutError`.
"""

import time
from urllib.parse import quote

import requests

__all__ = ["TemporalAPIClient", "TemporalAPIError"]

# Seconds allowed to open a connection to the API.
CONNECT_TIMEOUT = 5.0
# Longest single long poll asked of the server (it caps the wait at its own api.result_wait).
MAX_POLL_WAIT = 30.0
# Read timeout on top of the wait the server was asked for.
READ_SLACK = 10.0
# Pause before asking again when the server answered "still running" early.
RETRY_PAUSE = 0.5


class TemporalAPIError(Exception):
    """The API answered with an error status."""

    def __init__(self, status_code, detail, problem=None):
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.problem = problem or {}


class TemporalAPIClient:
    """Client for the shopping workflow routes and the workflow status/result routes."""

    def __init__(self, base_url="http://localhost:8000", session=None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    # -- shopping -------------------------------------------------------------------------

    def trigger_shopping_workflow_sync(self, items, timeout=60):
        """Start a shopping workflow and wait (at most `timeout` seconds) for its result.

        Returns {"workflow_id", "status", "result"}. If the API answers 202 (the workflow was
        still running when its own wait ended), keeps waiting with `wait_for_workflow`.
        """
        deadline = time.monotonic() + timeout
        response = self.session.post(
            f"{self.base_url}/workflows/shopping",
            json={"items": items},
            timeout=(CONNECT_TIMEOUT, timeout + READ_SLACK),
        )
        answer = self._json(response)
        if response.status_code == 202:
            remaining = max(deadline - time.monotonic(), 0.0)
            return self.wait_for_workflow(answer["workflow_id"], timeout=remaining)
        return answer

    def trigger_shopping_workflow_async(self, items):
        """Start a shopping workflow and return at once: {"workflow_id", "status": "started"}."""
        response = self.session.post(
            f"{self.base_url}/workflows/shopping/async",
            json={"items": items},
            timeout=(CONNECT_TIMEOUT, MAX_POLL_WAIT),
        )
        return self._json(response)

    # -- any workflow ---------------------------------------------------------------------

    def get_workflow_status(self, workflow_id):
        """Temporal's view of the workflow: {"workflow_id", "status", "start_time", "close_time"}."""
        response = self.session.get(
            f"{self._workflow_url(workflow_id)}/status",
            timeout=(CONNECT_TIMEOUT, MAX_POLL_WAIT),
        )
        return self._json(response)

    def get_workflow_result(self, workflow_id, wait=None):
        """The workflow's result, waiting on the server at most `wait` seconds (server default
        when None, 0 for an immediate answer). A workflow still running comes back with
        status "running" and result None."""
        params = {}
        if wait is not None:
            params["wait"] = f"{max(wait, 0.0):.3f}"
        server_wait = MAX_POLL_WAIT if wait is None else max(wait, 0.0)
        response = self.session.get(
            f"{self._workflow_url(workflow_id)}/result",
            params=params,
            timeout=(CONNECT_TIMEOUT, server_wait + READ_SLACK),
        )
        return self._json(response)

    def wait_for_workflow(self, workflow_id, timeout=60):
        """Wait at most `timeout` seconds for the workflow to end; return the result answer.

        Polls GET /workflows/{id}/result: 200 means the workflow ended (its "status" says how:
        "completed", or "failed"/"canceled"/"terminated"/"timed_out" with an "error"); 202 means
        still running, so ask again. Raises TimeoutError when `timeout` runs out.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"workflow {workflow_id} did not finish within {timeout} seconds"
                )
            asked = time.monotonic()
            response = self.session.get(
                f"{self._workflow_url(workflow_id)}/result",
                params={"wait": f"{min(remaining, MAX_POLL_WAIT):.3f}"},
                timeout=(CONNECT_TIMEOUT, min(remaining, MAX_POLL_WAIT) + READ_SLACK),
            )
            answer = self._json(response)
            if response.status_code != 202:
                return answer
            # Still running. A server that caps the wait lower may answer at once: pause a
            # little (never past the deadline) before asking again.
            if time.monotonic() - asked < RETRY_PAUSE:
                time.sleep(max(min(RETRY_PAUSE, deadline - time.monotonic()), 0.0))

    # -- helpers --------------------------------------------------------------------------

    def _workflow_url(self, workflow_id):
        return f"{self.base_url}/workflows/{quote(workflow_id, safe='')}"

    @staticmethod
    def _json(response):
        """The JSON body of a 2xx answer; raises TemporalAPIError for anything else."""
        if response.status_code >= 400:
            problem = None
            try:
                problem = response.json()
            except ValueError:
                pass
            if isinstance(problem, dict) and problem.get("detail"):
                detail = problem["detail"]
            else:
                detail = response.text.strip() or response.reason
            raise TemporalAPIError(response.status_code, detail, problem if isinstance(problem, dict) else None)
        try:
            return response.json()
        except ValueError as error:
            raise TemporalAPIError(
                response.status_code, f"answer is not JSON: {response.text[:200]!r}"
            ) from error
