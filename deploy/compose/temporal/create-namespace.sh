#!/bin/sh
# One-shot job of the postgres profile (temporalio/admin-tools): creates the namespace Flowgate
# uses once the server answers. Idempotent. TEMPORAL_ADDRESS comes from the environment.
set -eu

namespace=${DEFAULT_NAMESPACE:-default}

attempt=0
until temporal operator cluster health; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "Temporal at $TEMPORAL_ADDRESS did not become healthy" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  temporal operator namespace create --namespace "$namespace"
  echo "namespace $namespace created"
fi
