"""Tilt's argument types for tilt_eval.py: the markers its builtins return, the checks and the
normalisation of the recorded `params` (string-or-list arguments as lists, port-forwards as
strings, trigger modes by name), and `config.parse()` over Tilt's own arguments.

Every mistake raises `TiltfileError`, which Starlark reports with the Tiltfile's line and column.
"""

from __future__ import annotations

import re

AUTO = {"__tilt__": "TriggerMode", "value": "TRIGGER_MODE_AUTO"}
MANUAL = {"__tilt__": "TriggerMode", "value": "TRIGGER_MODE_MANUAL"}

# Arguments Tilt accepts as a string or a list of strings, normalised to lists in `params`.
STR_OR_LIST = {
    "docker_build": ("ignore", "only", "ssh", "secret", "extra_tag", "cache_from"),
    "custom_build": ("ignore",),
    "helm": ("values", "set"),
    "k8s_resource": ("labels",),
    "local_resource": ("deps", "ignore", "labels"),
    "allow_k8s_contexts": ("contexts",),
    "watch_settings": ("ignore",),
    "fall_back_on": ("files",),
    "helm_resource": ("labels",),
}

PORT_FORWARD = re.compile(r"^(?:(?P<host>[^:]+):(?P<l3>\d+):(?P<c3>\d+)|(?P<l2>\d+):(?P<c2>\d+)|(?P<l1>\d+))$")


class TiltfileError(Exception):
    """A Tiltfile mistake that Tilt would report."""


def marker(kind: str, **fields) -> dict:
    """A value of one of Tilt's types (Blob, PortForward, Link, ...) as JSON can carry it."""
    return {"__tilt__": kind, **fields}


def is_marker(value, kind: str) -> bool:
    """Whether `value` is a `marker()` of `kind`."""
    return isinstance(value, dict) and value.get("__tilt__") == kind


def as_list(value):
    """A string-or-list argument as a list (`None` and `""` as empty)."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def str_list(value, what: str) -> list:
    """`as_list()`, refusing anything but strings."""
    values = as_list(value)
    for v in values:
        if not isinstance(v, str):
            raise TiltfileError(f"{what}: expected a string or a list of strings, got {v!r}")
    return values


def check_port(value, what: str) -> int:
    """`value` if it is a port number."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise TiltfileError(f"{what}: not a port number: {value!r}")
    return value


def _port_forward_string(value, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(check_port(value, what))
    if isinstance(value, str):
        match = PORT_FORWARD.match(value)
        if not match:
            raise TiltfileError(f"{what}: not a port-forward (PORT, LOCAL:CONTAINER or HOST:LOCAL:CONTAINER): {value!r}")
        for group in ("l1", "l2", "c2", "l3", "c3"):
            if match.group(group):
                check_port(int(match.group(group)), what)
        return value
    if is_marker(value, "PortForward"):
        text = str(value["local_port"])
        if value.get("container_port") is not None:
            text += f":{value['container_port']}"
        if value.get("host"):
            text = f"{value['host']}:{text}"
        return text
    raise TiltfileError(f"{what}: expected a port, a string or port_forward(), got {value!r}")


def _links(value, what: str) -> list:
    links = []
    for v in as_list(value):
        if isinstance(v, str):
            links.append({"url": v, "name": None})
        elif is_marker(v, "Link"):
            links.append({"url": v["url"], "name": v["name"]})
        else:
            raise TiltfileError(f"{what}: expected a URL or link(), got {v!r}")
    return links


def _trigger_mode(value, what: str) -> str:
    if not is_marker(value, "TriggerMode"):
        raise TiltfileError(f"{what}: expected TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL, got {value!r}")
    return value["value"]


def normalise(function: str, params: dict) -> dict:
    """The bound arguments of a call of `function` as recorded in `params` (checked, normalised)."""
    out = dict(params)
    for key in STR_OR_LIST.get(function, ()):
        if key in out and (key != "deps" or out[key] is not None):
            out[key] = str_list(out[key], f"{function}({key}=...)")
    if function == "k8s_yaml":
        out["yaml"] = as_list(out["yaml"])
    if "port_forwards" in out:
        out["port_forwards"] = [
            _port_forward_string(v, f"{function}(port_forwards=...)") for v in as_list(out["port_forwards"])
        ]
    if "links" in out:
        out["links"] = _links(out["links"], f"{function}(links=...)")
    if "trigger_mode" in out:
        out["trigger_mode"] = _trigger_mode(out["trigger_mode"], f"{function}(trigger_mode=...)")
    if "resource_deps" in out:
        out["resource_deps"] = str_list(out["resource_deps"], f"{function}(resource_deps=...)")
    return out


def parse_tilt_args(settings: dict, argv: list[str]) -> dict:
    """Tilt's config.parse(): Go flag syntax over the defined settings."""
    result: dict = {}
    i = 0
    positional: list[str] = []
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            positional = argv[i + 1:]
            break
        if not arg.startswith("-") or arg == "-":
            positional = argv[i:]
            break
        name = arg.lstrip("-")
        value = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name not in settings or settings[name][1]:
            raise TiltfileError(f"config.parse(): flag provided but not defined: -{name}")
        kind = settings[name][0]
        if kind == "bool":
            if value is None:
                parsed = True
            elif value in ("1", "t", "T", "TRUE", "true", "True"):
                parsed = True
            elif value in ("0", "f", "F", "FALSE", "false", "False"):
                parsed = False
            else:
                raise TiltfileError(f"config.parse(): invalid boolean value {value!r} for -{name}")
            result[name] = parsed
        else:
            if value is None:
                i += 1
                if i >= len(argv):
                    raise TiltfileError(f"config.parse(): flag needs an argument: -{name}")
                value = argv[i]
            if kind == "string":
                result[name] = value
            else:
                result.setdefault(name, []).append(value)
        i += 1
    if positional:
        targets = [n for n, (_, args) in settings.items() if args]
        if not targets:
            raise TiltfileError("config.parse(): positional args were specified, but none were expected (no setting defined with args=True)")
        kind = settings[targets[0]][0]
        if kind == "string_list":
            result[targets[0]] = positional
        elif kind == "string" and len(positional) == 1:
            result[targets[0]] = positional[0]
        else:
            raise TiltfileError(f"config.parse(): setting {targets[0]!r} takes {kind}, got {positional!r}")
    return result
