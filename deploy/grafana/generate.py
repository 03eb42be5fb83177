#!/usr/bin/env python3
"""Generates Flowgate's Grafana dashboards (deploy/grafana/dashboards/*.json).

The JSON files are checked in (the compose stack and the Helm chart mount them as they are); a
test fails when they drift from this script. Edit here, then run: python3 deploy/grafana/generate.py [OUTPUT_DIR]
"""
import json
import pathlib
import sys

OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
# Every query reads only the chosen namespace(s) and Flowgate jobs: in a shared cluster other
# applications' `up`, `process_*` or Temporal SDK series never show.
SCOPE = 'namespace=~"$namespace", job=~"$job"'
# The worker's own Temporal SDK metrics carry the task queue it polls; on dashboards built while
# this is set, they also filter by the `task_queue` variable. (The SDK's calls to Temporal,
# `temporal_request*` and `temporal_long_request*`, are the client's and carry no task queue.)
QUEUE = 'task_queue=~"$task_queue"'
BY_QUEUE = False


def scope_of(metric):
    """The matchers a selector of `metric` gets."""
    per_queue = metric.startswith("temporal_") and not metric.startswith(("temporal_request", "temporal_long_request"))
    return SCOPE + ", " + QUEUE if BY_QUEUE and per_queue else SCOPE
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan", "sum", "min", "max", "avg", "count", "group", "stddev",
            "stdvar", "topk", "bottomk", "quantile", "count_values"}


def scoped(expr):
    """expr with SCOPE added to every metric selector (names that are neither functions,
    keywords, labels of a grouping clause, nor inside strings, matchers or ranges)."""
    out, i, grouping = [], 0, False
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            end = expr.index(c, i + 1)
            out.append(expr[i:end + 1])
            i = end + 1
        elif c == "[":
            end = expr.index("]", i)
            out.append(expr[i:end + 1])
            i = end + 1
        elif c.isalpha() or c in "_:":
            j = i
            while j < len(expr) and (expr[j].isalnum() or expr[j] in "_:"):
                j += 1
            word, rest = expr[i:j], expr[j:].lstrip()
            out.append(word)
            i = j
            if word.lower() in ("by", "without", "on", "ignoring", "group_left", "group_right"):
                grouping = True
            elif not grouping and word.lower() not in KEYWORDS and not rest.startswith("("):
                if rest.startswith("{"):
                    start = expr.index("{", j)
                    end = expr.index("}", start)
                    inner = expr[start + 1:end].strip()
                    out.append(expr[j:start] + "{" + scope_of(word) + (", " + inner if inner else "") + "}")
                    i = end + 1
                else:
                    out.append("{" + scope_of(word) + "}")
        elif c.isdigit() or c == ".":
            j = i
            while j < len(expr) and (expr[j].isalnum() or expr[j] == "."):
                j += 1
            out.append(expr[i:j])
            i = j
        else:
            if c == ")":
                grouping = False
            out.append(c)
            i += 1
    return "".join(out)


def variable(name, label, query, all_value=None):
    v = {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "query": {"query": query, "refId": name}, "definition": query,
        "refresh": 2, "multi": True, "includeAll": True, "current": {}, "hide": 0, "sort": 1,
        "description": f"From {query}.",
    }
    if all_value:
        v["allValue"] = all_value
    return v


def panel(title, exprs, unit="short", kind="timeseries", description="", legend=None):
    """One panel; exprs is a list of (PromQL, legend) pairs."""
    targets = [
        {"datasource": DS, "expr": scoped(expr), "legendFormat": leg, "refId": chr(65 + i)}
        for i, (expr, leg) in enumerate(exprs)
    ]
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "table", "placement": "bottom", "calcs": legend or ["mean", "max"]}}
    return p


def dashboard(uid, title, description, rows):
    panels, y, pid = [], 0, 1
    for row_title, row_panels in rows:
        panels.append({"type": "row", "title": row_title, "id": pid, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        pid += 1
        y += 1
        width = 24 // max(1, min(len(row_panels), 3))
        for i, p in enumerate(row_panels):
            p["id"] = pid
            pid += 1
            p["gridPos"] = {"h": 8, "w": width, "x": (i % 3) * width, "y": y + (i // 3) * 8}
            panels.append(p)
        y += 8 * ((len(row_panels) + 2) // 3)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["flowgate"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource",
             "query": "prometheus", "current": {}, "hide": 0, "refresh": 1},
            # Without a namespace label (the compose stack) "All" matches the missing label too.
            variable("namespace", "Namespace", "label_values(flowgate_build_info, namespace)", all_value=".*"),
            # "All" is every job that exports flowgate_build_info, never another application's.
            variable("job", "Job", 'label_values(flowgate_build_info{namespace=~"$namespace"}, job)'),
        ] + ([
            # Task queues the chosen workers poll; "All" also matches series without one.
            variable("task_queue", "Task queue", 'label_values(temporal_num_pollers{' + SCOPE + '}, task_queue)', all_value=".*"),
        ] if BY_QUEUE else [])},
        "annotations": {"list": []},
        "links": [{"title": "Flowgate", "type": "dashboards", "tags": ["flowgate"], "asDropdown": True}],
        "panels": panels,
    }


HTTP = "http_server_request_duration_seconds"


def quantiles(metric, by, extra=""):
    return [
        (f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{extra}[$__rate_interval])))", f"p{int(q*100)} {{{{{by}}}}}")
        for q in (0.5, 0.95, 0.99)
    ]


api = dashboard("flowgate-api", "Flowgate / API", "HTTP traffic of flowgate-api and its calls to Temporal.", [
    ("Traffic", [
        panel("Request rate by route", [(f"sum by (http_route) (rate({HTTP}_count[$__rate_interval]))", "{{http_route}}")], "reqps"),
        panel("Responses by status code", [(f"sum by (http_response_status_code) (rate({HTTP}_count[$__rate_interval]))", "{{http_response_status_code}}")], "reqps"),
        panel("5xx ratio", [(f"sum(rate({HTTP}_count{{http_response_status_code=~\"5..\"}}[$__rate_interval])) / clamp_min(sum(rate({HTTP}_count[$__rate_interval])), 1e-9)", "5xx")], "percentunit",
              description="Share of requests answered with a 5xx (503 = Temporal unavailable)."),
    ]),
    ("Latency", [
        panel("p50 latency by route", quantiles(HTTP, "http_route")[:1], "s"),
        panel("p95 latency by route", quantiles(HTTP, "http_route")[1:2], "s"),
        panel("p99 latency by route", quantiles(HTTP, "http_route")[2:], "s"),
        panel("Requests in flight", [("sum by (http_route) (http_server_active_requests)", "{{http_route}}")]),
    ]),
    ("Temporal", [
        panel("Temporal reachable", [("min(flowgate_temporal_up)", "up")], "bool", kind="stat"),
        panel("Temporal call latency p95", [(
            "histogram_quantile(0.95, sum by (le, operation) (rate(flowgate_temporal_request_duration_seconds_bucket[$__rate_interval])))", "{{operation}}")], "s"),
        panel("Temporal call failures", [("sum by (operation, reason) (rate(flowgate_temporal_request_failures_total[$__rate_interval]))", "{{operation}} {{reason}}")], "ops"),
    ]),
    ("Event streams", [
        panel("Open event streams", [("sum(flowgate_event_streams_open)", "open")],
              description="GET /v1/workflows/{id}/events streams open now, against api.events.max_streams per replica."),
        panel("Events sent", [("sum(rate(flowgate_event_stream_events_total[$__rate_interval]))", "events")], "ops"),
        panel("Stream resumes", [("sum(rate(flowgate_event_stream_resumes_total[$__rate_interval]))", "resumes")], "ops",
              description="Streams that resumed after an event (Last-Event-ID): a steady rate comes from api.events.max_age; a burst from a rollout or a proxy closing streams."),
    ]),
])

BY_QUEUE = True
workflows = dashboard("flowgate-workflows", "Flowgate / Workflows", "Workflow starts through the API and workflow outcomes on the worker.", [
    ("Starts", [
        panel("Starts by type and outcome", [("sum by (workflow_type, outcome) (rate(flowgate_workflow_starts_total[$__rate_interval]))", "{{workflow_type}} {{outcome}}")], "ops"),
        panel("Items ordered by fruit", [("sum by (fruit) (rate(flowgate_items_ordered_total[$__rate_interval]))", "{{fruit}}")], "ops"),
    ]),
    ("Outcomes", [
        panel("Completions by type", [("sum by (workflow_type) (rate(temporal_workflow_completed_total[$__rate_interval]))", "{{workflow_type}}")], "ops"),
        panel("Failures by type", [("sum by (workflow_type) (rate(temporal_workflow_failed_total[$__rate_interval]))", "{{workflow_type}}")], "ops"),
        panel("End-to-end latency", quantiles("temporal_workflow_endtoend_latency_seconds", "workflow_type"), "s",
              description="From workflow start to completion, as seen by the worker."),
    ]),
    ("Completion webhooks", [
        panel("Webhook deliveries by outcome", [("sum by (outcome) (rate(flowgate_webhook_deliveries_total[$__rate_interval]))", "{{outcome}}")], "ops",
              description="Notifications delivered (2xx), given up after webhooks.retry_for (failed), or refused by the destination rules."),
        panel("Webhook attempts by outcome", [("sum by (outcome) (rate(flowgate_webhook_delivery_attempts_total[$__rate_interval]))", "{{outcome}}")], "ops",
              description="Every POST: delivered, rejected (answered other than 2xx), error (no connection or answer), refused. Failed attempts are retried with back-off."),
        panel("Webhook delivery latency", [
            (f"histogram_quantile({q}, sum by (le) (rate(flowgate_webhook_delivery_latency_seconds_bucket[$__rate_interval])))", f"p{int(q*100)}")
            for q in (0.5, 0.95, 0.99)
        ], "s", description="From the workflow's close to the receiver's 2xx, retries included."),
    ]),
])

worker = dashboard("flowgate-worker", "Flowgate / Worker", "Temporal worker health: slots, polling, workflow tasks, activities, calls to Temporal, sticky cache.", [
    ("Capacity", [
        panel("Task slots available", [("sum by (worker_type) (temporal_worker_task_slots_available)", "{{worker_type}}")]),
        panel("Task slots used", [("sum by (worker_type) (temporal_worker_task_slots_used)", "{{worker_type}}")]),
        panel("Pollers", [("sum by (poller_type) (temporal_num_pollers)", "{{poller_type}}")]),
    ]),
    ("Polling and queueing", [
        panel("Workflow task schedule-to-start p95", [(
            "histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_workflow_task_schedule_to_start_latency_seconds_bucket[$__rate_interval])))", "{{task_queue}}")], "s",
            description="Time tasks wait in the queue; rising means the worker is starved."),
        panel("Activity schedule-to-start p95", [(
            "histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_activity_schedule_to_start_latency_seconds_bucket[$__rate_interval])))", "{{task_queue}}")], "s"),
        panel("Polls: with a task vs empty", [
            ("sum(rate(temporal_workflow_task_queue_poll_succeed_total[$__rate_interval]))", "workflow succeeded"),
            ("sum(rate(temporal_workflow_task_queue_poll_empty_total[$__rate_interval]))", "workflow empty"),
            ("sum(rate(temporal_activity_poll_no_task_total[$__rate_interval]))", "activity empty"),
        ], "ops"),
    ]),
    ("Workflow tasks", [
        panel("Workflow task execution latency p95", [(
            "histogram_quantile(0.95, sum by (le, workflow_type) (rate(temporal_workflow_task_execution_latency_seconds_bucket[$__rate_interval])))", "{{workflow_type}}")], "s",
            description="Time the worker spends on one workflow task: replaying history if it must, then running the workflow code."),
        panel("Workflow task replay latency p95", [(
            "histogram_quantile(0.95, sum by (le, workflow_type) (rate(temporal_workflow_task_replay_latency_seconds_bucket[$__rate_interval])))", "{{workflow_type}}")], "s",
            description="Time spent replaying a workflow's history before new work: after a sticky-cache miss or eviction, or a worker restart. No data while nothing replays."),
        panel("Workflow task failures", [(
            "sum by (workflow_type, failure_reason) (rate(temporal_workflow_task_execution_failed_total[$__rate_interval]))",
            "{{workflow_type}} {{failure_reason}}")], "ops",
            description="Workflow tasks that failed and will be retried: NonDeterminismError means the code no longer replays running workflows (alert FlowgateWorkflowTaskFailures)."),
    ]),
    ("Activities", [
        panel("Activity tasks started by type", [(
            "sum by (activity_type) (rate(temporal_activity_schedule_to_start_latency_seconds_count[$__rate_interval]))", "{{activity_type}}")], "ops",
            description="Activity attempts the worker took from the task queue (throughput)."),
        panel("Activity execution latency p95", [(
            "histogram_quantile(0.95, sum by (le, activity_type) (rate(temporal_activity_execution_latency_seconds_bucket[$__rate_interval])))", "{{activity_type}}")], "s"),
        panel("Activity failures", [("sum by (activity_type) (rate(temporal_activity_execution_failed_total[$__rate_interval]))", "{{activity_type}}")], "ops"),
    ]),
    ("Calls to Temporal", [
        panel("SDK RPC rate", [
            ("sum by (operation) (rate(temporal_request_total[$__rate_interval]))", "{{operation}}"),
            ("sum by (operation) (rate(temporal_long_request_total[$__rate_interval]))", "long poll {{operation}}"),
        ], "reqps", description="The worker's calls to Temporal by RPC; long polls (waiting for tasks) separately."),
        panel("SDK RPC latency p95", [
            ("histogram_quantile(0.95, sum by (le, operation) (rate(temporal_request_latency_seconds_bucket[$__rate_interval])))", "{{operation}}"),
            ("histogram_quantile(0.95, sum by (le, operation) (rate(temporal_long_request_latency_seconds_bucket[$__rate_interval])))", "long poll {{operation}}"),
        ], "s", description="Long polls last until a task comes or the server ends the poll (about a minute): their latency is mostly waiting."),
        panel("SDK RPC failures", [
            ("sum by (operation, status_code) (rate(temporal_request_failure_total[$__rate_interval]))", "{{operation}} {{status_code}}"),
            ("sum by (operation, status_code) (rate(temporal_long_request_failure_total[$__rate_interval]))", "long poll {{operation}} {{status_code}}"),
        ], "ops", description="The worker's calls to Temporal that failed, by RPC and gRPC status; long polls separately."),
    ]),
    ("Sticky cache", [
        panel("Sticky cache size", [("sum by (instance) (temporal_sticky_cache_size)", "{{instance}}")],
              description="Workflows kept in each worker's cache (worker.max_cached_workflows)."),
        panel("Sticky cache hits, misses and evictions", [
            ("sum(rate(temporal_sticky_cache_hit_total[$__rate_interval]))", "hits"),
            ("sum(rate(temporal_sticky_cache_miss_total[$__rate_interval]))", "misses"),
            ("sum(rate(temporal_sticky_cache_total_forced_eviction_total[$__rate_interval]))", "forced evictions"),
        ], "ops", description="A miss replays the workflow's whole history; forced evictions mean the cache is too small for the running workflows."),
        panel("Sticky cache hit ratio", [(
            "sum(rate(temporal_sticky_cache_hit_total[$__rate_interval])) / clamp_min(sum(rate(temporal_sticky_cache_hit_total[$__rate_interval])) + sum(rate(temporal_sticky_cache_miss_total[$__rate_interval])), 1e-9)",
            "hit ratio")], "percentunit"),
    ]),
])

BY_QUEUE = False
process = dashboard("flowgate-process", "Flowgate / Processes", "Resources of flowgate-api and flowgate-worker.", [
    ("Resources", [
        panel("Resident memory", [("sum by (job, instance) (process_resident_memory_bytes)", "{{job}} {{instance}}")], "bytes"),
        panel("CPU", [("sum by (job, instance) (rate(process_cpu_seconds_total[$__rate_interval]))", "{{job}} {{instance}}")], "percentunit"),
        panel("Open file descriptors", [("sum by (job, instance) (process_open_fds)", "{{job}} {{instance}}")]),
    ]),
    ("Build", [
        panel("Versions running", [("count by (service, version, git_commit) (flowgate_build_info)", "{{service}} {{version}} {{git_commit}}")], kind="table"),
        panel("Targets up", [("up", "{{job}} {{instance}}")], "bool"),
    ]),
])

for name, board in [("api", api), ("workflows", workflows), ("worker", worker), ("process", process)]:
    (OUT / f"flowgate-{name}.json").write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
