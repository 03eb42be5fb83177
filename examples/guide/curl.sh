#!/usr/bin/env bash
# The "Usage Examples > cURL" section of the HTTP API guide, verbatim.
# Added: this header, `set -euo pipefail`, `echo` between answers (the answers carry no
# trailing newline), and capturing the asynchronous answer into $answer so that the guide's
# `{workflow_id}` placeholder can be filled with the id it returned (extracted with sed, so
# only bash + curl are needed). The four curl commands are the guide's.
set -euo pipefail

# Synchronous
curl -X POST http://localhost:8000/workflows/shopping \
  -H "Content-Type: application/json" \
  -d '{"items":[{"fruit":"APPLE","amount":5}]}'
echo

# Asynchronous
answer=$(
curl -X POST http://localhost:8000/workflows/shopping/async \
  -H "Content-Type: application/json" \
  -d '{"items":[{"fruit":"BANANA","amount":3}]}'
)
echo "$answer"
workflow_id=$(printf '%s' "$answer" | sed -n 's/.*"workflow_id":"\([^"]*\)".*/\1/p')
if [ -z "$workflow_id" ]; then
  echo "no workflow_id in the asynchronous answer" >&2
  exit 1
fi

# Check status
curl http://localhost:8000/workflows/${workflow_id}/status
echo

# Get result
curl http://localhost:8000/workflows/${workflow_id}/result
echo
