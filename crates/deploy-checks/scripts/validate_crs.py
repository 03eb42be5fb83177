#!/usr/bin/env python3
"""Validate rendered custom resources against vendored CRD schemas, offline.

`kubernetes-validate` only knows the built-in Kubernetes kinds. This script covers the custom
resources the Helm chart renders (KEDA ScaledObject/TriggerAuthentication, prometheus-operator
ServiceMonitor/PrometheusRule, Gateway API HTTPRoute) using the real upstream `openAPIV3Schema`s
vendored in `crates/deploy-checks/schemas/crds/*.json` (see the README there).

Usage:
    helm template ... | python3 validate_crs.py            # multi-document YAML on stdin
    python3 validate_crs.py rendered.yaml other.yaml        # or files ("-" is stdin)
    python3 validate_crs.py --schemas DIR ...               # another schema directory

For every object it prints one line:
    ok <kind>/<name>                       the object matches its CRD schema
    FAIL <kind>/<name>: <path>: <message>  one line per error (all errors are reported)
    skip <apiVersion> <kind>/<name>        no vendored CRD for this group/kind
and exits 1 if any object failed (0 otherwise, 2 on bad usage).

How an object is checked:
  * The object's apiVersion `group/version` and kind select the CRD and the served version; a
    kind we have a CRD for but in a version the CRD does not serve is a failure.
  * The schema is validated with JSON Schema Draft 7 (`jsonschema`). `x-kubernetes-*` keys are
    annotations; `x-kubernetes-int-or-string` and `nullable` are honoured, OpenAPI's boolean
    `exclusiveMinimum/Maximum` are translated.
  * Structural-schema strictness: every object schema that has `properties` but neither
    `additionalProperties` nor `x-kubernetes-preserve-unknown-fields: true` gets
    `additionalProperties: false`, so unknown fields are rejected (the API server would prune
    them silently, which is how typos go unnoticed).
  * At the top level, `apiVersion`, `kind` and `metadata` are always allowed; `metadata` itself is
    not validated (it is ObjectMeta, not part of the CRD schema).
  * YAML is read like the API server reads it: timestamps stay strings, mapping keys become strings.

Not checked (no offline equivalent): CEL rules (`x-kubernetes-validations`), `format`s,
list-type uniqueness (`x-kubernetes-list-type: set|map`), and defaulting.

Dependencies: Python 3.11, PyYAML and jsonschema only.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

import jsonschema
import yaml

DEFAULT_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "crds"

# Schema keywords whose value is a single sub-schema / a list of sub-schemas.
_SUBSCHEMA = ("items", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
# A global inline flag after the anchor, e.g. `^(?i)(abort|warn)?$` (Go RE2 accepts it; Python 3.11
# only accepts global flags at the very start of the pattern).
_LATE_GLOBAL_FLAGS = re.compile(r"^\^\(\?([aiLmsux]+)\)")


class _KubeLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, as the API server's YAML-to-JSON step does."""


_KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _jsonish(value: Any) -> Any:
    """Mapping keys as strings (JSON has no other kind), recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonish(v) for v in value]
    return value


def _fix_pattern(pattern: str) -> str:
    match = _LATE_GLOBAL_FLAGS.match(pattern)
    if match:
        pattern = f"(?{match.group(1)})^{pattern[match.end():]}"
    re.compile(pattern)  # fail loudly at load time rather than mid-validation
    return pattern


def strict_schema(node: Any) -> Any:
    """Translate one OpenAPI v3 (structural) schema node into strict JSON Schema, recursively."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: strict_schema(v) for k, v in out["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = strict_schema(out["additionalProperties"])
    for key in _SUBSCHEMA:
        if isinstance(out.get(key), dict):
            out[key] = strict_schema(out[key])
        elif isinstance(out.get(key), list):
            out[key] = [strict_schema(s) for s in out[key]]
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [strict_schema(s) for s in out[key]]
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _fix_pattern(out["pattern"])
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out and "type" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("x-kubernetes-embedded-resource") and isinstance(out.get("properties"), dict):
        for key in ("apiVersion", "kind"):
            out["properties"].setdefault(key, {"type": "string"})
        out["properties"].setdefault("metadata", {"type": "object"})
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool):  # OpenAPI 3.0 / Draft 4 form
            if out.pop(bound) and limit in out:
                out[bound] = out.pop(limit)
    if out.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def root_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """The strict schema for a whole object: apiVersion/kind/metadata are always allowed."""
    schema = strict_schema(copy.deepcopy(openapi))
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"type": "object"})
    if not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    return schema


class Catalog:
    """The vendored CRDs, keyed by (group, kind); validators are built on first use."""

    def __init__(self, directory: Path) -> None:
        self.crds: dict[tuple[str, str], dict[str, Any]] = {}
        self._validators: dict[tuple[str, str, str], jsonschema.Draft7Validator] = {}
        files = sorted(directory.glob("*.json"))
        if not files:
            raise FileNotFoundError(f"no CRD schema files (*.json) in {directory}")
        for path in files:
            crd = json.loads(path.read_text(encoding="utf-8"))
            self.crds[(crd["group"], crd["kind"])] = crd

    def validator(self, group: str, kind: str, version: str) -> jsonschema.Draft7Validator:
        key = (group, kind, version)
        if key not in self._validators:
            schema = root_schema(self.crds[(group, kind)]["versions"][version])
            jsonschema.Draft7Validator.check_schema(schema)
            self._validators[key] = jsonschema.Draft7Validator(schema)
        return self._validators[key]


def _path(error: jsonschema.ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _label(obj: Any) -> str:
    kind = obj.get("kind") if isinstance(obj, dict) else None
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"{kind or '<no kind>'}/{name or '<no name>'}"


def check(catalog: Catalog, obj: Any) -> tuple[str, list[str]]:
    """Returns (status, lines) with status one of "ok", "FAIL", "skip"."""
    label = _label(obj)
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return "FAIL", [f"FAIL {label}: (root): not a Kubernetes object (apiVersion and kind are required strings)"]
    group, _, version = api_version.rpartition("/")
    crd = catalog.crds.get((group, kind))
    if crd is None:
        return "skip", [f"skip {api_version} {label}"]
    if version not in crd["versions"]:
        served = ", ".join(sorted(crd["versions"]))
        return "FAIL", [f"FAIL {label}: apiVersion: version {version!r} is not served by the vendored {group} CRD (served: {served})"]
    errors = sorted(
        catalog.validator(group, kind, version).iter_errors(obj),
        key=lambda e: (list(map(str, e.absolute_path)), e.message),
    )
    if not errors:
        return "ok", [f"ok {label}"]
    return "FAIL", [f"FAIL {label}: {_path(e)}: {e.message}" for e in errors]


def documents(sources: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """(source, object) for every non-empty YAML document; `v1/List` items are expanded."""
    for source in sources:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        for doc in yaml.load_all(text, Loader=_KubeLoader):
            if doc is None:
                continue
            doc = _jsonish(doc)
            if isinstance(doc, dict) and doc.get("apiVersion") == "v1" and doc.get("kind") == "List":
                for item in doc.get("items") or []:
                    yield source, item
            else:
                yield source, doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=["-"], help="YAML files (default: stdin)")
    parser.add_argument("--schemas", type=Path, default=DEFAULT_SCHEMAS, help="directory of vendored CRD *.json")
    args = parser.parse_args(argv)
    try:
        catalog = Catalog(args.schemas)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: cannot load CRD schemas from {args.schemas}: {err}", file=sys.stderr)
        return 2
    failed = False
    try:
        for _source, obj in documents(args.files):
            status, lines = check(catalog, obj)
            failed |= status == "FAIL"
            print("\n".join(lines))
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except yaml.YAMLError as err:
        print("FAIL <input>: yaml: " + " ".join(str(err).split()))
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
