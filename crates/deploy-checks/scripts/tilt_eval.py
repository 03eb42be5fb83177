"""Evaluates a Tiltfile without Tilt, for the Rust tests: starlark-rust (PyPI `starlark-pyo3`,
module `starlark`) with recording stubs of Tilt's builtins.

    tilt_eval.py TILTFILE [--dir DIR] [--subcommand up] [--k8s-context NAME] [-- TILT_ARGS...]

TILT_ARGS are what follows `--` on Tilt's command line (`tilt up -- --monitoring` is
`tilt_eval.py Tiltfile -- --monitoring`); `config.parse()` parses them as Tilt does (Go flag
syntax: `--name`, `--name=value`, `--name value`; positional arguments go to the setting defined
with `args=True`). `tilt_config.json` is not read, so the result depends on the arguments only.
Relative paths resolve against DIR (default: the Tiltfile's directory), as Tilt resolves them
against the Tiltfile's.

Prints JSON: {"tiltfile", "dir", "config", "calls": [{"function", "args", "kwargs", "params"}]}:
every call of a Tilt builtin in order, with its positional and keyword arguments as passed, and
`params`: the arguments bound to the builtin's documented signature (defaults filled in;
`port_forwards` as strings `LOCAL[:CONTAINER]` or `HOST:LOCAL:CONTAINER`; string-or-list
arguments as lists; `trigger_mode` as `TRIGGER_MODE_AUTO`/`TRIGGER_MODE_MANUAL`). Calls of
extension functions carry `"extension"`. helm() and blob() return markers
`{"__tilt__": "Blob", "call": <index of the call>}` or `{"__tilt__": "Blob", "contents": ...}`.

Strict on purpose, so the check catches what Tilt would reject: a name that is not a Tilt builtin
(e.g. `k8s_resources`) fails to resolve, an unknown keyword argument or a missing one fails the
call, an attribute that `config`/`os` do not have fails, and a few argument types are checked
(trigger modes, port-forwards, links, labels, resource_deps). Only extensions with a stub here
can be loaded (`ext://helm_resource`). `local()` is refused: it would run a command at load time.
Evaluation errors exit 1 with Starlark's message (file, line, column) on stderr.

The signatures are Tilt's documented API (https://docs.tilt.dev/api.html, the stubs in
tilt-dev/tilt internal/tiltfile/api) and the helm_resource extension's README.

The evaluator is split over modules next to this script: `tilt_recorder` (the Starlark module
that records the calls, loading), `tilt_stubs` (the builtins), `tilt_params` (argument checks,
normalisation, `config.parse()`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# The sibling modules, also when Python does not put the script's directory on the path
# (`python -P`, PYTHONSAFEPATH).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import starlark as sl  # noqa: E402

from tilt_recorder import Tilt  # noqa: E402


def main() -> int:
    """The command line above; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="Tilt's own arguments follow `--`."
    )
    parser.add_argument("tiltfile", type=Path)
    parser.add_argument("--dir", type=Path, help="where relative paths resolve (default: the Tiltfile's directory)")
    parser.add_argument("--subcommand", default="up", help="config.tilt_subcommand (default: up)")
    parser.add_argument("--k8s-context", default="kind-kind", help="what k8s_context() returns")
    argv = sys.argv[1:]
    tilt_args = []
    if "--" in argv:
        tilt_args = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args = parser.parse_args(argv)
    tiltfile = args.tiltfile.resolve()
    workdir = (args.dir or tiltfile.parent).resolve()
    tilt = Tilt(tiltfile, workdir, args.subcommand, args.k8s_context, tilt_args)
    try:
        tilt.evaluate(tiltfile)
    except sl.StarlarkError as error:
        print(f"{tiltfile}: {error}", file=sys.stderr)
        return 1
    json.dump(
        {"tiltfile": str(tiltfile), "dir": str(workdir), "config": tilt.config, "calls": tilt.calls},
        sys.stdout,
        indent=1,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
