"""The evaluator behind tilt_eval.py: a Starlark module with Tilt's builtins (from `tilt_stubs`)
that records every call, and Tilt's loading of other files and extensions.

A call is bound to the builtin's signature, its arguments checked and normalised
(`tilt_params.normalise`), recorded in `Tilt.calls` as {"function", "args", "kwargs", "params"}
(see tilt_eval.py), and only then run. `config`, `os` and `shlex` are Starlark structs built by a
prelude over private callables; `load()` of a file evaluates it with the same builtins, `load()`
and `load_dynamic()` of `ext://NAME` give the extension's stubs.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import starlark as sl

import tilt_stubs
from tilt_params import AUTO, MANUAL, TiltfileError, normalise


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
        """`impl`, recording each call as builtin `name` (of `extension`)."""
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
            entry["params"] = normalise(name, dict(bound.arguments))
            self.calls.append(entry)
            return impl(*args, **kwargs)

        return call

    def path(self, p: str) -> Path:
        """`p` resolved as Tilt resolves the Tiltfile's relative paths."""
        return (self.dir / p) if not os.path.isabs(p) else Path(p)

    # ---- the builtins ---------------------------------------------------------------------------

    def builtins(self) -> dict:
        """Tilt's global builtins, recording."""
        return {name: self.stub(name, impl) for name, impl in tilt_stubs.builtins(self).items()}

    def extensions(self) -> dict:
        """Stubs of the Tilt extensions this repository uses, by extension name, recording."""
        return {
            ext: {symbol: self.stub(symbol, fn, ext) for symbol, fn in symbols.items()}
            for ext, symbols in tilt_stubs.extensions().items()
        }

    # ---- evaluation -----------------------------------------------------------------------------

    def module(self, path: Path) -> sl.Module:
        """A module for evaluating the file at `path`: the builtins and the prelude."""
        module = sl.Module()
        for name, fn in self.builtins().items():
            module.add_callable(name, fn)
        prelude_names = {}
        for dotted, fn in tilt_stubs.namespaced(self).items():
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
        """Starlark's `load()`: an extension's stubs, or another file evaluated."""
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
        """Evaluates the Starlark file at `path`, recording its calls."""
        module = self.module(path)
        ast = sl.parse(str(path), path.read_text(encoding="utf-8"), dialect())
        sl.eval(module, ast, globals_(), sl.FileLoader(self.load))
        return module


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

