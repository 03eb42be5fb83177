"""The Helm chart through the real Helm v4 engine (PyPI `helm-python-sdk`), for the Rust tests.

    helm.py render CHART [-f VALUES]... [--set-json JSON] [--name N] [--namespace NS]
        Prints {"manifests": {"<template path>": "<rendered text>"}} (like `helm template`).
    helm.py lint CHART [-f VALUES]... [--set-json JSON] [--kube-version V]
        Prints Helm's lint report (strict: warnings count): {"messages": [...], "errors": [...]}.
    helm.py validate [--kube-version V]...  < manifests.yaml
        Validates every object of a YAML stream against the Kubernetes schemas of each version
        (PyPI `kubernetes-validate`, strict: unknown fields fail). Prints one line per object and
        version; exits 1 if any failed. Kinds it has no schema for (custom resources) are listed
        as `unknown`.
    helm.py versions
        Prints the Helm SDK version and the Kubernetes versions kubernetes-validate knows.

Failures of Helm itself (a template error, a schema violation) exit 1 with Helm's message on
stderr. Values files are merged in order, then --set-json (a JSON object) over them.
"""

from __future__ import annotations

import argparse
import json
import sys


def _values(args: argparse.Namespace) -> dict:
    import yaml

    merged: dict = {}
    for path in args.values or []:
        with open(path, encoding="utf-8") as f:
            _merge(merged, yaml.safe_load(f) or {})
    if args.set_json:
        _merge(merged, json.loads(args.set_json))
    return merged


def _merge(into: dict, over: dict) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def render(args: argparse.Namespace) -> int:
    import helm_python as helm

    chart = helm.Chart.load(args.chart)
    values = _values(args)
    try:
        manifests = chart.render(
            values,
            name=args.name,
            namespace=args.namespace,
            is_install=True,
        )
    except helm.HelmError as error:
        print(str(error), file=sys.stderr)
        return 1
    json.dump({"manifests": manifests}, sys.stdout)
    return 0


def lint(args: argparse.Namespace) -> int:
    import helm_python as helm

    report = helm.lint(
        args.chart,
        _values(args),
        strict=True,
        namespace=args.namespace,
        kube_version=args.kube_version,
    )
    json.dump(report, sys.stdout)
    return 0


def validate(args: argparse.Namespace) -> int:
    import kubernetes_validate
    import kubernetes_validate.utils
    import yaml

    objects = [o for o in yaml.safe_load_all(sys.stdin) if o]
    failed = False
    for version in args.kube_version:
        for obj in objects:
            name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(obj, version, strict=True)
                print(f"ok {version} {name}")
            except kubernetes_validate.SchemaNotFoundError:
                print(f"unknown {version} {obj.get('apiVersion')} {name}")
            except kubernetes_validate.ValidationError as error:
                failed = True
                path = "/".join(str(p) for p in error.caught.absolute_path)
                print(f"FAIL {version} {name}: {path}: {error.caught.message}")
            except kubernetes_validate.InvalidSchemaError as error:
                failed = True
                print(f"FAIL {version} {name}: {error}")
    return 1 if failed else 0


def versions(_: argparse.Namespace) -> int:
    import helm_python as helm
    import kubernetes_validate
    import kubernetes_validate.utils

    json.dump(
        {
            "helm": helm.helm_sdk_version(),
            "kubernetes": kubernetes_validate.utils.all_versions(),
        },
        sys.stdout,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("render", render), ("lint", lint)):
        p = sub.add_parser(name)
        p.add_argument("chart")
        p.add_argument("-f", "--values", action="append")
        p.add_argument("--set-json")
        p.add_argument("--name", default="flowgate")
        p.add_argument("--namespace", default="flowgate")
        p.add_argument("--kube-version")
        p.set_defaults(func=func)
    p = sub.add_parser("validate")
    p.add_argument("--kube-version", action="append", required=True)
    p.set_defaults(func=validate)
    p = sub.add_parser("versions")
    p.set_defaults(func=versions)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
