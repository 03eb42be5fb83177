"""The Tilt builtins tilt_eval.py gives a Tiltfile, as plain functions with Tilt's documented
signatures (https://docs.tilt.dev/api.html, the stubs in tilt-dev/tilt internal/tiltfile/api) and
the helm_resource extension's README. `tilt_recorder.Tilt` wraps each one so that a call is
bound to the signature (an unknown or missing keyword fails), recorded, then run.

They do what Tilt does at load time and no more: they check what Tilt would check (a chart
directory, a values file, the shape of an argument), read files, and return the values later
calls take (markers from `tilt_params`); nothing is built, applied or run. `local()` is refused.
"""

from __future__ import annotations

import inspect
import json
import os
import shlex
import sys

import yaml

from tilt_params import AUTO, TiltfileError, as_list, check_port, is_marker, marker, parse_tilt_args, str_list

LOCAL_RESOURCE_PARAMS = (
    "name", "cmd", "deps", "trigger_mode", "resource_deps", "ignore", "auto_init", "serve_cmd",
    "cmd_bat", "serve_cmd_bat", "allow_parallel", "links", "tags", "env", "serve_env",
    "readiness_probe", "dir", "serve_dir", "labels",
)


def builtins(tilt) -> dict:
    """Tilt's global builtins, by name, for the Tiltfile evaluated by `tilt` (a `Tilt`)."""

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
        for item in as_list(yaml):
            if not (isinstance(item, str) or is_marker(item, "Blob")):
                raise TiltfileError(f"k8s_yaml(): expected a path or a Blob, got {item!r}")
        return None

    def helm(paths, name="", namespace="", values=[], set=[], kube_version=""):
        if not (tilt.path(paths) / "Chart.yaml").is_file():
            raise TiltfileError(f"helm(): {paths!r} is not a chart directory (no Chart.yaml)")
        for f in str_list(values, "helm(values=...)"):
            if not tilt.path(f).is_file():
                raise TiltfileError(f"helm(): values file {f!r} does not exist")
        return marker("Blob", call=len(tilt.calls) - 1)

    def kustomize(pathToDir, kustomize_bin=None, flags=[]):
        return marker("Blob", call=len(tilt.calls) - 1)

    def blob(contents, /):
        return marker("Blob", contents=contents)

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
        check_port(local_port, "port_forward(local_port)")
        if container_port is not None:
            check_port(container_port, "port_forward(container_port)")
        return marker("PortForward", local_port=local_port, container_port=container_port,
                       name=name, link_path=link_path, host=host)

    def link(url, name=None):
        return marker("Link", url=url, name=name)

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
        return marker("Probe", exec=exec, http_get=http_get, tcp_socket=tcp_socket)

    def exec_action(command):
        return marker("ExecAction", command=command)

    def http_get_action(port, host="localhost", scheme="http", path=""):
        return marker("HTTPGetAction", port=port, host=host, scheme=scheme, path=path)

    def tcp_socket_action(port, host="localhost"):
        return marker("TCPSocketAction", port=port, host=host)

    def sync(local_path, remote_path):
        return marker("LiveUpdateStep", step="sync", local_path=local_path, remote_path=remote_path)

    def run(cmd, trigger=[]):
        return marker("LiveUpdateStep", step="run", cmd=cmd, trigger=trigger)

    def fall_back_on(files):
        return marker("LiveUpdateStep", step="fall_back_on", files=files)

    def restart_container():
        return marker("LiveUpdateStep", step="restart_container")

    functions = {
        name: impl for name, impl in locals().items()
        if inspect.isfunction(impl) and name != "print_"
    }
    functions["print"] = print_
    return functions


def namespaced(tilt) -> dict:
    """Functions under `config.`, `os.`, `os.path.`, `shlex.`, by their prelude names."""

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
        str_list(resources, "config.set_enabled_resources()")

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


def extensions() -> dict:
    """The Tilt extensions this repository uses, by extension name: their symbols, by name."""

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

    return {"helm_resource": {"helm_resource": helm_resource, "helm_repo": helm_repo}}
