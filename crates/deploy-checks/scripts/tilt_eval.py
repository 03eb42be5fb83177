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
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shlex
import sys
from pathlib import Path

import starlark as sl
import yaml

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


def _marker(kind: str, **fields) -> dict:
    return {"__tilt__": kind, **fields}


def _is_marker(value, kind: str) -> bool:
    return isinstance(value, dict) and value.get("__tilt__") == kind


def _list(value):
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _str_list(value, what: str) -> list:
    values = _list(value)
    for v in values:
        if not isinstance(v, str):
            raise TiltfileError(f"{what}: expected a string or a list of strings, got {v!r}")
    return values


def _port(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise TiltfileError(f"{what}: not a port number: {value!r}")
    return value


def _port_forward_string(value, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(_port(value, what))
    if isinstance(value, str):
        match = PORT_FORWARD.match(value)
        if not match:
            raise TiltfileError(f"{what}: not a port-forward (PORT, LOCAL:CONTAINER or HOST:LOCAL:CONTAINER): {value!r}")
        for group in ("l1", "l2", "c2", "l3", "c3"):
            if match.group(group):
                _port(int(match.group(group)), what)
        return value
    if _is_marker(value, "PortForward"):
        text = str(value["local_port"])
        if value.get("container_port") is not None:
            text += f":{value['container_port']}"
        if value.get("host"):
            text = f"{value['host']}:{text}"
        return text
    raise TiltfileError(f"{what}: expected a port, a string or port_forward(), got {value!r}")


def _links(value, what: str) -> list:
    links = []
    for v in _list(value):
        if isinstance(v, str):
            links.append({"url": v, "name": None})
        elif _is_marker(v, "Link"):
            links.append({"url": v["url"], "name": v["name"]})
        else:
            raise TiltfileError(f"{what}: expected a URL or link(), got {v!r}")
    return links


def _trigger_mode(value, what: str) -> str:
    if not _is_marker(value, "TriggerMode"):
        raise TiltfileError(f"{what}: expected TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL, got {value!r}")
    return value["value"]


def _normalise(function: str, params: dict) -> dict:
    out = dict(params)
    for key in STR_OR_LIST.get(function, ()):
        if key in out and (key != "deps" or out[key] is not None):
            out[key] = _str_list(out[key], f"{function}({key}=...)")
    if function == "k8s_yaml":
        out["yaml"] = _list(out["yaml"])
    if "port_forwards" in out:
        out["port_forwards"] = [
            _port_forward_string(v, f"{function}(port_forwards=...)") for v in _list(out["port_forwards"])
        ]
    if "links" in out:
        out["links"] = _links(out["links"], f"{function}(links=...)")
    if "trigger_mode" in out:
        out["trigger_mode"] = _trigger_mode(out["trigger_mode"], f"{function}(trigger_mode=...)")
    if "resource_deps" in out:
        out["resource_deps"] = _str_list(out["resource_deps"], f"{function}(resource_deps=...)")
    return out


class Tilt:
    """Tilt's builtins as recording stubs, with their documented signatures."""

    def __init__(self, tiltfile: Path, workdir: Path, subcommand: str, context: str, argv: list[str]):
        self.tiltfile = tiltfile
        self.dir = workdir
        self.subcommand = subcommand
        self.context = context
        self.argv = argv
        self.calls: list[dict] = []
        self.settings: dict[str, tuple[str, bool]] = {}
        self.config: dict | None = None

    # ---- recording ----------------------------------------------------------------------------

    def stub(self, name: str, impl, extension: str | None = None):
        signature = inspect.signature(impl)

        def call(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as error:
                raise TiltfileError(f"{name}(): {error}") from None
            bound.apply_defaults()
            entry = {"function": name, "args": list(args), "kwargs": kwargs}
            if extension:
                entry["extension"] = extension
            entry["params"] = _normalise(name, dict(bound.arguments))
            self.calls.append(entry)
            return impl(*args, **kwargs)

        return call

    def path(self, p: str) -> Path:
        return (self.dir / p) if not os.path.isabs(p) else Path(p)

    # ---- the builtins ---------------------------------------------------------------------------

    def builtins(self) -> dict:
        tilt = self

        def docker_build(ref, context, build_args={}, dockerfile="Dockerfile", dockerfile_contents="",
                         live_update=[], match_in_env_vars=False, ignore=[], only=[], entrypoint=[],
                         target="", ssh="", network="", secret="", extra_tag="", container_args=None,
                         cache_from=[], pull=False, platform=""):
            return None

        def custom_build(ref, command, deps, tag="", disable_push=False, skips_local_docker=False,
                         live_update=[], match_in_env_vars=False, ignore=[], entrypoint=[],
                         command_bat_val="", outputs_image_ref_to="", command_bat="", image_deps=[]):
            return None

        def k8s_yaml(yaml, allow_duplicates=False):
            for item in _list(yaml):
                if not (isinstance(item, str) or _is_marker(item, "Blob")):
                    raise TiltfileError(f"k8s_yaml(): expected a path or a Blob, got {item!r}")
            return None

        def helm(paths, name="", namespace="", values=[], set=[], kube_version=""):
            if not (tilt.path(paths) / "Chart.yaml").is_file():
                raise TiltfileError(f"helm(): {paths!r} is not a chart directory (no Chart.yaml)")
            for f in _str_list(values, "helm(values=...)"):
                if not tilt.path(f).is_file():
                    raise TiltfileError(f"helm(): values file {f!r} does not exist")
            return _marker("Blob", call=len(tilt.calls) - 1)

        def kustomize(pathToDir, kustomize_bin=None, flags=[]):
            return _marker("Blob", call=len(tilt.calls) - 1)

        def blob(contents, /):
            return _marker("Blob", contents=contents)

        def k8s_resource(workload="", new_name="", port_forwards=[], extra_pod_selectors=[],
                         trigger_mode=AUTO, resource_deps=[], objects=[], auto_init=True,
                         pod_readiness="", links=[], labels=[], discovery_strategy=""):
            if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
                raise TiltfileError(f"k8s_resource(): objects must be a list of selectors, got {objects!r}")
            if not workload and not (new_name and objects):
                raise TiltfileError("k8s_resource(): needs a workload, or new_name and objects")
            if pod_readiness not in ("", "ignore", "wait"):
                raise TiltfileError(f"k8s_resource(): pod_readiness must be 'ignore' or 'wait', got {pod_readiness!r}")
            if discovery_strategy not in ("", "default", "selectors-only"):
                raise TiltfileError(f"k8s_resource(): unknown discovery_strategy {discovery_strategy!r}")
            return None

        def k8s_custom_deploy(name, apply_cmd, delete_cmd, deps, image_selector="", live_update=[],
                              apply_dir="", apply_env={}, apply_cmd_bat="", delete_dir="", delete_env={},
                              delete_cmd_bat="", container_selector="", image_deps=[]):
            return None

        def docker_compose(configPaths, env_file=None, project_name=""):
            return None

        def local_resource(name, cmd="", deps=None, trigger_mode=AUTO, resource_deps=[], ignore=[],
                           auto_init=True, serve_cmd="", cmd_bat="", serve_cmd_bat="",
                           allow_parallel=False, links=[], tags=[], env={}, serve_env={},
                           readiness_probe=None, dir="", serve_dir="", labels=[]):
            if not cmd and not serve_cmd:
                raise TiltfileError(f"local_resource({name!r}): needs cmd or serve_cmd")
            return None

        def local(command, quiet=False, command_bat="", echo_off=False, env={}, dir="", stdin=None):
            raise TiltfileError("local() runs a command while the Tiltfile loads; tilt_eval.py does not run commands")

        def port_forward(local_port, container_port=None, name=None, link_path=None, host=None):
            _port(local_port, "port_forward(local_port)")
            if container_port is not None:
                _port(container_port, "port_forward(container_port)")
            return _marker("PortForward", local_port=local_port, container_port=container_port,
                           name=name, link_path=link_path, host=host)

        def link(url, name=None):
            return _marker("Link", url=url, name=name)

        def read_file(file_path, default=None):
            p = tilt.path(file_path)
            if not p.exists() and default is not None:
                return default
            return p.read_text(encoding="utf-8")

        def read_json(path, default=None):
            p = tilt.path(path)
            if not p.exists() and default is not None:
                return default
            return json.loads(p.read_text(encoding="utf-8"))

        def read_yaml(path, default=None):
            p = tilt.path(path)
            if not p.exists() and default is not None:
                return default
            return yaml.safe_load(p.read_text(encoding="utf-8"))

        def decode_json(json_, /):
            return json.loads(json_)

        def encode_json(obj):
            return json.dumps(obj)

        def decode_yaml(yaml_, /):
            return yaml.safe_load(yaml_)

        def encode_yaml(obj):
            return yaml.safe_dump(obj)

        def watch_file(file_path):
            return None

        def listdir(directory, recursive=False):
            root = tilt.path(directory)
            if not root.is_dir():
                raise TiltfileError(f"listdir(): {directory!r} is not a directory")
            files = root.rglob("*") if recursive else root.iterdir()
            return sorted(str(p.resolve()) for p in files if p.is_file())

        def allow_k8s_contexts(contexts):
            return None

        def k8s_context():
            return tilt.context

        def k8s_namespace():
            return "default"

        def default_registry(host, host_from_cluster=None, single_name=""):
            return None

        def update_settings(max_parallel_updates=3, k8s_upsert_timeout_secs=30,
                            suppress_unused_image_warnings=None):
            return None

        def docker_prune_settings(disable=False, max_age_mins=360, num_builds=0, interval_hrs=1,
                                  keep_recent=2):
            return None

        def version_settings(check_updates=True, constraint=""):
            return None

        def analytics_settings(enable):
            return None

        def secret_settings(disable_scrub=False):
            return None

        def watch_settings(ignore):
            return None

        def trigger_mode(trigger_mode):
            return None

        def warn(msg):
            print(f"warning: {msg}", file=sys.stderr)

        def print_(*args, sep=" "):
            print(sep.join(a if isinstance(a, str) else json.dumps(a) for a in args), file=sys.stderr)

        def probe(initial_delay_secs=0, timeout_secs=1, period_secs=10, success_threshold=1,
                  failure_threshold=3, exec=None, http_get=None, tcp_socket=None):
            return _marker("Probe", exec=exec, http_get=http_get, tcp_socket=tcp_socket)

        def exec_action(command):
            return _marker("ExecAction", command=command)

        def http_get_action(port, host="localhost", scheme="http", path=""):
            return _marker("HTTPGetAction", port=port, host=host, scheme=scheme, path=path)

        def tcp_socket_action(port, host="localhost"):
            return _marker("TCPSocketAction", port=port, host=host)

        def sync(local_path, remote_path):
            return _marker("LiveUpdateStep", step="sync", local_path=local_path, remote_path=remote_path)

        def run(cmd, trigger=[]):
            return _marker("LiveUpdateStep", step="run", cmd=cmd, trigger=trigger)

        def fall_back_on(files):
            return _marker("LiveUpdateStep", step="fall_back_on", files=files)

        def restart_container():
            return _marker("LiveUpdateStep", step="restart_container")

        functions = {
            name: impl for name, impl in locals().items()
            if inspect.isfunction(impl) and name != "print_"
        }
        functions["print"] = print_
        return {name: self.stub(name, impl) for name, impl in functions.items()}

    def namespaced(self) -> dict:
        """Functions under `config.`, `os.`, `os.path.`, `shlex.`, by their prelude names."""
        tilt = self

        def define(kind):
            def define_setting(name, args=False, usage=""):
                if tilt.config is not None:
                    raise TiltfileError(f"config.define_{kind}({name!r}) after config.parse()")
                if args and any(a for _, a in tilt.settings.values()):
                    raise TiltfileError("only one config setting may take the positional args")
                tilt.settings[name] = (kind, bool(args))
            return define_setting

        def parse():
            if tilt.config is None:
                tilt.config = parse_tilt_args(tilt.settings, tilt.argv)
            return tilt.config

        def set_enabled_resources(resources):
            _str_list(resources, "config.set_enabled_resources()")

        def clear_enabled_resources():
            return None

        def getenv(key, default=None):
            return os.environ.get(key, default)

        def getcwd():
            return str(tilt.dir)

        def putenv(key, value):
            return None

        def unsetenv(key):
            return None

        def abspath(path):
            return str(tilt.path(path).resolve())

        def relpath(targpath, basepath=""):
            return os.path.relpath(tilt.path(targpath), tilt.path(basepath) if basepath else tilt.dir)

        def basename(path):
            return os.path.basename(path)

        def dirname(path):
            return os.path.dirname(path)

        def exists(path):
            return tilt.path(path).exists()

        def join(path, *paths):
            return os.path.join(path, *paths)

        def realpath(path):
            return str(tilt.path(path).resolve())

        def quote(s):
            return shlex.quote(s)

        return {
            "config.define_bool": define("bool"),
            "config.define_string": define("string"),
            "config.define_string_list": define("string_list"),
            "config.parse": parse,
            "config.set_enabled_resources": set_enabled_resources,
            "config.clear_enabled_resources": clear_enabled_resources,
            "os.getenv": getenv,
            "os.getcwd": getcwd,
            "os.putenv": putenv,
            "os.unsetenv": unsetenv,
            "os.path.abspath": abspath,
            "os.path.relpath": relpath,
            "os.path.basename": basename,
            "os.path.dirname": dirname,
            "os.path.exists": exists,
            "os.path.join": join,
            "os.path.realpath": realpath,
            "shlex.quote": quote,
        }

    def extensions(self) -> dict:
        """Stubs of the Tilt extensions this repository uses, by extension name."""
        def helm_resource(name, chart, deps=[], release_name="", namespace=None, image_deps=None,
                          image_keys=None, flags=None, image_selector="", container_selector="",
                          live_update=None, resource_deps=None, labels=None, port_forwards=[],
                          auto_init=True, pod_readiness="", update_dependencies=False, links=[]):
            if len(image_deps or []) != len(image_keys or []):
                raise TiltfileError("helm_resource(): image_deps and image_keys must have the same length")
            return None

        def helm_repo(name, url, resource_name="", username="", password="", **kwargs):
            # The extension passes **kwargs on to local_resource().
            allowed = set(LOCAL_RESOURCE_PARAMS) - {"name", "cmd", "allow_parallel"}
            unknown = sorted(set(kwargs) - allowed)
            if unknown:
                raise TiltfileError(f"helm_repo(): local_resource() has no parameter {', '.join(unknown)}")
            return None

        return {
            "helm_resource": {
                "helm_resource": self.stub("helm_resource", helm_resource, "helm_resource"),
                "helm_repo": self.stub("helm_repo", helm_repo, "helm_resource"),
            },
        }

    # ---- evaluation -----------------------------------------------------------------------------

    def module(self, path: Path) -> sl.Module:
        module = sl.Module()
        for name, fn in self.builtins().items():
            module.add_callable(name, fn)
        prelude_names = {}
        for dotted, fn in self.namespaced().items():
            private = "__tilt_eval_" + dotted.replace(".", "_")
            prelude_names[dotted] = private
            module.add_callable(private, self.stub(dotted, fn))
        extensions = self.extensions()
        ext_dict = []
        for ext, symbols in extensions.items():
            entries = []
            for symbol, fn in symbols.items():
                private = f"__tilt_eval_ext_{ext}_{symbol}"
                module.add_callable(private, fn)
                entries.append(f"{symbol!r}: {private}")
            ext_dict.append(f"'ext://{ext}': {{{', '.join(entries)}}}")
        module.add_callable("__tilt_eval_load_dynamic", self.stub("load_dynamic", self.check_load_dynamic))
        module["__file__"] = str(path)
        module["TRIGGER_MODE_AUTO"] = AUTO
        module["TRIGGER_MODE_MANUAL"] = MANUAL
        module["__tilt_eval_environ"] = dict(os.environ)
        n = prelude_names
        prelude = f"""
config = struct(
    define_bool = {n['config.define_bool']},
    define_string = {n['config.define_string']},
    define_string_list = {n['config.define_string_list']},
    parse = {n['config.parse']},
    set_enabled_resources = {n['config.set_enabled_resources']},
    clear_enabled_resources = {n['config.clear_enabled_resources']},
    tilt_subcommand = {self.subcommand!r},
    main_path = {str(self.tiltfile)!r},
    main_dir = {str(self.dir)!r},
)
os = struct(
    name = 'posix',
    environ = __tilt_eval_environ,
    getenv = {n['os.getenv']},
    getcwd = {n['os.getcwd']},
    putenv = {n['os.putenv']},
    unsetenv = {n['os.unsetenv']},
    path = struct(
        abspath = {n['os.path.abspath']},
        relpath = {n['os.path.relpath']},
        basename = {n['os.path.basename']},
        dirname = {n['os.path.dirname']},
        exists = {n['os.path.exists']},
        join = {n['os.path.join']},
        realpath = {n['os.path.realpath']},
    ),
)
shlex = struct(quote = {n['shlex.quote']})
__tilt_eval_extensions = {{{', '.join(ext_dict)}}}
def load_dynamic(path):
    __tilt_eval_load_dynamic(path)
    return __tilt_eval_extensions[path]
"""
        sl.eval(module, sl.parse("<tilt_eval prelude>", prelude, dialect()), globals_())
        return module

    def check_load_dynamic(self, path):
        if not path.startswith("ext://"):
            raise TiltfileError(f"load_dynamic({path!r}): only extensions are supported by tilt_eval.py")
        if path[len("ext://"):] not in self.extensions():
            raise TiltfileError(f"load_dynamic({path!r}): no stub for this extension in tilt_eval.py")
        return None

    def load(self, module_id: str) -> sl.FrozenModule:
        if module_id.startswith("ext://"):
            ext = module_id[len("ext://"):]
            symbols = self.extensions().get(ext)
            if symbols is None:
                raise TiltfileError(f"load({module_id!r}): no stub for this extension in tilt_eval.py")
            module = sl.Module()
            for symbol, fn in symbols.items():
                module.add_callable(symbol, fn)
            return module.freeze()
        path = self.path(module_id)
        return self.evaluate(path).freeze()

    def evaluate(self, path: Path) -> sl.Module:
        module = self.module(path)
        ast = sl.parse(str(path), path.read_text(encoding="utf-8"), dialect())
        sl.eval(module, ast, globals_(), sl.FileLoader(self.load))
        return module


LOCAL_RESOURCE_PARAMS = (
    "name", "cmd", "deps", "trigger_mode", "resource_deps", "ignore", "auto_init", "serve_cmd",
    "cmd_bat", "serve_cmd_bat", "allow_parallel", "links", "tags", "env", "serve_env",
    "readiness_probe", "dir", "serve_dir", "labels",
)


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


def dialect() -> sl.Dialect:
    # Tilt's Starlark (starlark-go with top-level if/for, lambda, nested def); no f-strings or
    # type annotations, which starlark-go does not have.
    d = sl.Dialect.standard()
    d.enable_top_level_stmt = True
    d.enable_lambda = True
    d.enable_def = True
    d.enable_load = True
    d.enable_keyword_only_arguments = True
    d.enable_f_strings = False
    d.enable_types = sl.DialectTypes.DISABLE
    return d


def globals_() -> sl.Globals:
    return sl.Globals.extended_by([sl.LibraryExtension.StructType])


def main() -> int:
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
