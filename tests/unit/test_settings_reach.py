"""No placeholder reaches a deployed function.

Every setting the code reads (the fields of ``autocall.config.Settings``, each from one env var, and
any direct ``os.environ`` read in the layer or the functions) must be in the environment that
template.yaml gives every function whose code can reach the read (Globals + the function's own). On
AWS a function sees nothing else: a missing variable is an empty setting there, whatever the local
stack or a test happens to set.

"Can reach" is found statically, per definition rather than per module, so that importing a module
for one helper does not count every other function of it:

- the entry is the handler module of the function (``Handler`` under ``CodeUri``): its top level and
  every function and method it defines (routes are registered by decorators, so all count);
- a reached function reaches what its body refers to: imported names (imports inside the function
  too: lazy imports are common here), names of its module, ``module.attr`` chains through imported
  modules, and for any other ``x.attr`` every method or property named ``attr`` in the code (the
  type of ``x`` is not known; the method names are distinctive enough to keep this precise);
  importing a name only runs its module, referring to it reaches it;
- a class reached reaches its dunder methods (construction, context managers, iteration ...);
- reaching anything in a module runs the module's top level (imports, decorators, class bodies).

A read is ``get_settings().x``, ``s.x`` where ``s = get_settings()`` (in that function or at module
level), ``get_settings().required("x")``, or ``getattr(s, <name>)`` (then every setting named by a
string in the module). Any other use of the settings object fails the test: it cannot be followed.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common"
PACKAGE = "autocall"
CONFIG_MODULE = "autocall.config"
TEMPLATE = ROOT / "template.yaml"

# Set by the Lambda runtime itself in every execution environment, never by the template.
RUNTIME_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
}

# Settings a function may reach without the template setting them, because their empty or built-in
# default is the deliberate production value. Keep this short; each entry says why it is safe.
DELIBERATE_DEFAULTS = {
    "twilio_api_base_url": "only the local stack points the Twilio client at its carrier simulator; "
    "empty means api.twilio.com, which is what a deployed function must use",
    "openai_base_url": "only the local stack and tests point the OpenAI client at a fake; empty means "
    "api.openai.com",
    "calling_window_start": "09:00, the documented default calling window (README); a campaign sets its "
    "own; no template parameter changes it, so every function agrees on it",
    "calling_window_end": "20:00, as calling_window_start",
    "llm_temperature": "0.3, tuned with the prompts in autocall.domain.brain.llm; not a deploy-time choice",
    "realtime_callback_url": "only the local stack points the @connections client at its WebSocket "
    "gateway; empty means the event's own https://{domainName}/{stage}, what a deployed function must use",
}

# Direct os.environ reads whose variable name is not a literal: module → why that is safe.
DYNAMIC_ENV_READS = {
    "autocall.config": "the Settings fields' helpers, each given its literal variable name (listed above)",
    "autocall.secrets": "a secret's local-development fallback (TWILIO_AUTH_TOKEN, OPENAI_API_KEY ...); "
    "on AWS every value comes from the secret named by SECRETS_ARN, which Globals sets",
}


# --- the settings -----------------------------------------------------------------------------------
def _setting_env_vars() -> dict[str, tuple[str, str]]:
    """Settings field → (env var, the source text of its default)."""
    tree = ast.parse((LAYER / "autocall" / "config.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    found: dict[str, tuple[str, str]] = {}
    for stmt in cls.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        calls = [
            n
            for n in ast.walk(stmt.value or ast.Constant(None))
            if isinstance(n, ast.Call)
            and n.args
            and isinstance(n.args[0], ast.Constant)
            and isinstance(n.args[0].value, str)
            and n.args[0].value.isupper()
        ]
        assert len(calls) == 1, (
            f"Settings.{stmt.target.id}: expected one read of a literal env var name in its default, "
            f"found {len(calls)}; this test needs to know which variable it comes from"
        )
        name, *rest = calls[0].args
        assert isinstance(name, ast.Constant)
        found[stmt.target.id] = (str(name.value), ast.unparse(rest[0]) if rest else "(none)")
    return found


SETTINGS = _setting_env_vars()


# --- the code -----------------------------------------------------------------------------------------
NodeId = tuple[str, str]  # (module, "" for the top level | "f" | "C" | "C.m")


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    package: str  # the package relative imports start from
    defs: dict[str, ast.AST] = field(default_factory=dict)  # qualname → FunctionDef / ClassDef
    top_bindings: dict[str, str] = field(default_factory=dict)  # name → "module" or "module:qualname"


@dataclass
class Reads:
    settings: set[str] = field(default_factory=set)
    env: set[str] = field(default_factory=set)
    dynamic_env: bool = False
    refs: set[str] = field(default_factory=set)  # targets "module" / "module:qualname" / ".attr"
    problems: list[str] = field(default_factory=list)


class Code:
    """Every module of the layer package and of one function's CodeUri, indexed by definition."""

    def __init__(self, code_dir: Path) -> None:
        self.modules: dict[str, Module] = {}
        for path in sorted((LAYER / PACKAGE).rglob("*.py")):
            parts = list(path.relative_to(LAYER).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            self._add(name, path, name if is_package else name.rpartition(".")[0])
        for path in sorted(code_dir.glob("*.py")):
            self._add(path.stem, path, "")
        self.methods: dict[str, set[NodeId]] = defaultdict(set)
        for module in self.modules.values():
            for qualname in module.defs:
                if "." in qualname:
                    self.methods[qualname.rsplit(".", 1)[1]].add((module.name, qualname))
            module.top_bindings = self._bindings(module, self._top_level(module))
        self._reads: dict[NodeId, Reads] = {}

    def _add(self, name: str, path: Path, package: str) -> None:
        module = Module(name, path, ast.parse(path.read_text(), str(path)), package)
        for stmt in module.tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                module.defs[stmt.name] = stmt
            elif isinstance(stmt, ast.ClassDef):
                module.defs[stmt.name] = stmt
                for item in stmt.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        module.defs[f"{stmt.name}.{item.name}"] = item
        self.modules[name] = module

    # --- walking one definition -------------------------------------------------------------------
    @staticmethod
    def _top_level(module: Module) -> Iterator[ast.AST]:
        """The nodes the module's top level runs: all but function bodies (their decorators,
        defaults and annotations run)."""
        yield from _walk_outside_bodies(module.tree.body)

    def _body(self, module: Module, qualname: str) -> Iterator[ast.AST]:
        if qualname == "":
            yield from self._top_level(module)
            return
        node = module.defs[qualname]
        if isinstance(node, ast.ClassDef):
            return  # its body runs at import (top level); its dunders are edges (below)
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for stmt in node.body:
            yield from ast.walk(stmt)

    def _import_target(self, module: Module, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = module.package.split(".") if module.package else []
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def _bindings(self, module: Module, nodes: Iterable[ast.AST]) -> dict[str, str]:
        """Names bound by imports among ``nodes``: name → "module" or "module:name"."""
        out: dict[str, str] = {}
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        out[alias.asname] = alias.name
                    else:
                        out[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                source = self._import_target(module, node)
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    out[alias.asname or alias.name] = sub if sub in self.modules else f"{source}:{alias.name}"
        return out

    def reads(self, node_id: NodeId) -> Reads:
        if node_id not in self._reads:
            self._reads[node_id] = self._scan(*node_id)
        return self._reads[node_id]

    def _scan(self, module_name: str, qualname: str) -> Reads:
        module = self.modules[module_name]
        nodes = list(self._body(module, qualname))
        local = self._bindings(module, nodes)
        scope = {**module.top_bindings, **local}
        reads = Reads()
        where = f"{module_name}:{qualname or '<module>'}"
        # imports run their module
        for node in nodes:
            if isinstance(node, ast.Import):
                reads.refs.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                reads.refs.add(self._import_target(module, node))
        reads.refs.update(t for t in local.values() if ":" not in t)  # submodules imported run
        # names holding the settings object: ``s = get_settings()`` here or at module level
        holders = _settings_holders(nodes, scope) | _settings_holders(
            self._top_level(module), module.top_bindings
        )
        parents = _parents(nodes)
        module_strings = {
            n.value
            for n in ast.walk(module.tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in SETTINGS
        }
        for node in nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in scope:
                    reads.refs.add(scope[node.id])
                elif node.id in module.defs:
                    reads.refs.add(f"{module_name}:{node.id}")
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                reads.refs.add(self._attribute_target(node, scope, module))
            # settings reads
            if _is_settings(node, scope, holders):
                parent = parents.get(id(node))
                if isinstance(parent, ast.Attribute) and parent.value is node:
                    if parent.attr == "required":
                        call = parents.get(id(parent))
                        args = call.args if isinstance(call, ast.Call) else []
                        if args and isinstance(args[0], ast.Constant) and args[0].value in SETTINGS:
                            reads.settings.add(str(args[0].value))
                        else:
                            reads.problems.append(f"{where}: required() without a literal setting name")
                    elif parent.attr in SETTINGS:
                        reads.settings.add(parent.attr)
                    else:
                        reads.problems.append(f"{where}: reads Settings.{parent.attr}, which is not a field")
                elif (
                    isinstance(parent, ast.Call)
                    and isinstance(parent.func, ast.Name)
                    and parent.func.id == "getattr"
                    and parent.args[0] is node
                ):
                    reads.settings.update(module_strings)
                elif isinstance(node, ast.Name) and isinstance(parent, ast.Assign):
                    pass  # ``s = get_settings()`` binds a holder, handled above
                elif isinstance(node, ast.Call) and isinstance(parent, ast.Assign):
                    pass
                else:
                    line = getattr(node, "lineno", "?")
                    reads.problems.append(
                        f"{where} line {line}: the settings object is used in a way this test cannot "
                        f"follow ({ast.unparse(parent) if parent else ast.unparse(node)}); read "
                        "attributes where it is obtained"
                    )
            # direct environment reads
            env = _env_read(node, scope)
            if env is not None:
                if env == "":
                    reads.dynamic_env = True
                else:
                    reads.env.add(env)
        return reads

    def _attribute_target(self, node: ast.Attribute, scope: dict[str, str], module: Module) -> str:
        """``a.b.c``: a module attribute when ``a`` is a module, else any method named ``c``."""
        chain: list[str] = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            chain.insert(0, base.attr)
            base = base.value
        if isinstance(base, ast.Name):
            target = scope.get(base.id) or (f"{module.name}:{base.id}" if base.id in module.defs else None)
            if target is not None:
                for attr in chain:
                    if ":" in target:
                        mod, qual = target.split(":", 1)
                        if mod in self.modules and f"{qual}.{attr}" in self.modules[mod].defs:
                            target = f"{mod}:{qual}.{attr}"
                            continue
                        break
                    if f"{target}.{attr}" in self.modules:
                        target = f"{target}.{attr}"
                    elif target in self.modules:
                        resolved = self._resolve_in(target, attr)
                        if resolved is None:
                            break
                        target = resolved
                    else:
                        break
                else:
                    return target
        return "." + node.attr

    def _resolve_in(self, module_name: str, name: str) -> str | None:
        module = self.modules[module_name]
        if name in module.defs:
            return f"{module_name}:{name}"
        return module.top_bindings.get(name)

    # --- following references ----------------------------------------------------------------------
    def targets(self, ref: str) -> set[NodeId]:
        if ref.startswith("."):
            return set(self.methods.get(ref[1:], set()))
        if ":" in ref:
            mod, qual = ref.split(":", 1)
            if mod not in self.modules:
                return set()
            if qual in self.modules[mod].defs:
                return {(mod, qual)}
            resolved = self._resolve_in(mod, qual)  # a re-export, or a module-level value
            if resolved is not None and resolved != ref:
                return self.targets(resolved)
            return {(mod, "")}
        return {(ref, "")} if ref in self.modules else set()

    def reach(self, handler_module: str) -> dict[NodeId, NodeId | None]:
        """Every definition the handler module can reach → the one it was first reached from."""
        entry = self.modules[handler_module]
        todo = deque([(handler_module, ""), *((handler_module, q) for q in entry.defs)])
        seen: dict[NodeId, NodeId | None] = dict.fromkeys(todo)
        while todo:  # breadth first: the path kept to each definition is a shortest one
            current = todo.popleft()
            mod, qual = current
            nexts: set[NodeId] = set()
            # a module's parents run first; anything in a module runs its top level
            parts = mod.split(".")
            nexts.update((".".join(parts[:i]), "") for i in range(1, len(parts) + 1))
            definition = self.modules[mod].defs.get(qual)
            if isinstance(definition, ast.ClassDef):
                nexts.update(
                    (mod, f"{qual}.{item.name}")
                    for item in definition.body
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("__")
                )
            for ref in self.reads(current).refs:
                nexts.update(self.targets(ref))
            for nxt in nexts:
                if nxt[0] in self.modules and nxt not in seen:
                    seen[nxt] = current
                    todo.append(nxt)
        return seen


def _walk_outside_bodies(stmts: Iterable[ast.stmt]) -> Iterator[ast.AST]:
    for stmt in stmts:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            for part in [*stmt.decorator_list, stmt.args, *([stmt.returns] if stmt.returns else [])]:
                yield from ast.walk(part)
        elif isinstance(stmt, ast.ClassDef):
            for part in [*stmt.decorator_list, *stmt.bases, *stmt.keywords]:
                yield from ast.walk(part)
            yield from _walk_outside_bodies(stmt.body)
        else:
            yield from ast.walk(stmt)


def _parents(nodes: Iterable[ast.AST]) -> dict[int, ast.AST]:
    out: dict[int, ast.AST] = {}
    for node in nodes:
        for child in ast.iter_child_nodes(node):
            out[id(child)] = node
    return out


def _is_get_settings_call(node: ast.AST, scope: dict[str, str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return scope.get(func.id) == f"{CONFIG_MODULE}:get_settings"
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "get_settings"
        and isinstance(func.value, ast.Name)
        and scope.get(func.value.id) == CONFIG_MODULE
    )


def _settings_holders(nodes: Iterable[ast.AST], scope: dict[str, str]) -> set[str]:
    holders: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Assign) and _is_get_settings_call(node.value, scope):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        holders.add(name.id)
    return holders


def _is_settings(node: ast.AST, scope: dict[str, str], holders: set[str]) -> bool:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return node.id in holders
    return _is_get_settings_call(node, scope)


def _env_read(node: ast.AST, scope: dict[str, str]) -> str | None:
    """The variable a direct environment read names ("" when not a literal), else None."""

    def is_environ(expr: ast.AST) -> bool:
        if isinstance(expr, ast.Attribute) and expr.attr == "environ":
            return isinstance(expr.value, ast.Name) and scope.get(expr.value.id) == "os"
        return isinstance(expr, ast.Name) and scope.get(expr.id) == "os:environ"

    key: ast.AST | None = None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        func = node.func
        if (func.attr in ("get", "pop", "setdefault") and is_environ(func.value)) or (
            func.attr == "getenv" and isinstance(func.value, ast.Name) and scope.get(func.value.id) == "os"
        ):
            key = node.args[0]
    elif isinstance(node, ast.Subscript) and is_environ(node.value):
        key = node.slice
    if key is None:
        return None
    return str(key.value) if isinstance(key, ast.Constant) and isinstance(key.value, str) else ""


# --- the template ------------------------------------------------------------------------------------
def _template() -> dict[str, Any]:
    template, errors = decode_str(TEMPLATE.read_text())
    assert template is not None and not errors, errors
    return template


@dataclass(frozen=True)
class Gap:
    function: str
    setting: str
    env: str
    module: str  # the definition reading it
    path: str  # how the handler reaches it

    def __str__(self) -> str:
        return (
            f"{self.function} lacks {self.env} (Settings.{self.setting}), read by {self.module}; "
            f"reached via {self.path}"
        )


@dataclass
class Analysis:
    gaps: list[Gap]
    allowed: dict[str, list[str]]  # deliberate-default setting → functions that rely on it
    problems: list[str]
    reached: dict[str, dict[str, set[str]]]  # function → env var → definitions reading it


def _path(seen: dict[NodeId, NodeId | None], node: NodeId) -> str:
    steps: list[str] = []
    current: NodeId | None = node
    while current is not None and len(steps) < 12:
        steps.insert(0, f"{current[0]}:{current[1] or '<module>'}")
        current = seen[current]
    return " → ".join(steps)


def analyse() -> Analysis:
    template = _template()
    globals_env = set(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    gaps: list[Gap] = []
    allowed: dict[str, list[str]] = defaultdict(list)
    problems: list[str] = []
    reached_by_fn: dict[str, dict[str, set[str]]] = {}
    env_of = {setting: env for setting, (env, _) in SETTINGS.items()}
    for logical_id, resource in sorted(template["Resources"].items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        code_dir = ROOT / str(props["CodeUri"])
        handler_module = str(props["Handler"]).rsplit(".", 1)[0]
        present = globals_env | set(props.get("Environment", {}).get("Variables", {}))
        code = Code(code_dir)
        assert handler_module in code.modules, f"{logical_id}: no module {handler_module} in {code_dir}"
        seen = code.reach(handler_module)
        reads: dict[str, set[NodeId]] = defaultdict(set)  # env var → readers
        settings_of: dict[str, str] = {}
        for node in seen:
            found = code.reads(node)
            problems.extend(p for p in found.problems if p not in problems)
            for setting in found.settings:
                reads[env_of[setting]].add(node)
                settings_of[env_of[setting]] = setting
            for env in found.env:
                if env not in RUNTIME_ENV:
                    reads[env].add(node)
            if found.dynamic_env and node[0] not in DYNAMIC_ENV_READS:
                problems.append(
                    f"{node[0]}:{node[1] or '<module>'} reads an environment variable named at run time"
                )
        reached_by_fn[logical_id] = {
            env: {f"{m}:{q or '<module>'}" for m, q in r} for env, r in reads.items()
        }
        for env, readers in sorted(reads.items()):
            if env in present:
                continue
            setting = settings_of.get(env, env)
            if setting in DELIBERATE_DEFAULTS:
                allowed[setting].append(logical_id)
                continue
            first = sorted(readers)[0]
            module = ", ".join(sorted(f"{m}:{q or '<module>'}" for m, q in readers))
            gaps.append(Gap(logical_id, setting, env, module, _path(seen, first)))
    return Analysis(gaps, dict(allowed), problems, reached_by_fn)


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    return analyse()


# --- the tests ---------------------------------------------------------------------------------------
def test_every_setting_comes_from_one_literal_env_var() -> None:
    assert SETTINGS, "no Settings fields found in autocall/config.py"
    envs = [env for env, _ in SETTINGS.values()]
    assert len(envs) == len(set(envs)), "two settings read the same env var"


def test_the_analysis_follows_every_read(analysis: Analysis) -> None:
    assert not analysis.problems, "\n".join(analysis.problems)


def test_the_analysis_sees_the_known_reads(analysis: Analysis) -> None:
    """Guards the analysis itself: reads that must be found, through lazy imports and holders."""
    reached = analysis.reached
    # through lazy imports (the conversation's brain, then the LLM brain's module)
    llm_turn = "autocall.domain.brain.llm.brain:LlmBrain._llm_turn"
    assert llm_turn in reached["VoiceWebhookFunction"]["OPENAI_MODEL"]
    # the one call-end entry, reached from the voice handler and the watchdog, and ``settings.x``
    # after a holder
    for function in ("VoiceWebhookFunction", "SchedulerFunction"):
        assert "autocall.domain.call_end:_start_post_call" in reached[function].get(
            "POST_CALL_STATE_MACHINE_ARN", set()
        )
    assert "autocall.domain.pacing:acquire_dial_slot" in reached["SchedulerFunction"]["MAX_CONCURRENT_CALLS"]
    # table names read in class bodies at import
    assert "autocall.stores.tables:<module>" in reached["TriggerFunction"]["CALLS_TABLE"]
    # the authorizer only needs the secret
    assert set(reached["AuthorizerFunction"]) == {"SECRETS_ARN"}
    # the trigger refuses the caller id as a contact's number (and calls its country by default)
    assert "autocall.domain.phones:check_dialable" in reached["TriggerFunction"]["TWILIO_CALLER_ID"]
    # precision: the trigger never dials, so never reads the dial caps, pacing or the LLM's model
    assert "MAX_DIALS_PER_NUMBER_DAY" not in reached["TriggerFunction"]
    assert "MAX_CONCURRENT_CALLS" not in reached["TriggerFunction"]
    assert "OPENAI_MODEL" not in reached["TriggerFunction"]
    # the campaign worker (functions/scheduler/campaign_worker.py beside the dialer's app.py): the
    # worker's own ARN (it carries fan-outs and sweeps on) and the fan-out's pacing, reached from
    # its handler, not from the dialer's module that shares its folder
    worker = reached["CampaignWorkerFunction"]
    assert "autocall.domain.pacing:dial_spacing" in worker["CALLS_PER_SECOND"]
    assert any(r.startswith("campaign_worker:") for r in worker["CAMPAIGN_WORKER_FUNCTION_ARN"])
    assert any(r.startswith("app:") for r in reached["TriggerFunction"]["CAMPAIGN_WORKER_FUNCTION_ARN"])
    assert not {"MAX_CONCURRENT_CALLS", "MAX_DIALS_PER_NUMBER_DAY", "OPENAI_MODEL", "SECRETS_ARN"} & set(
        worker
    )
    assert "MAX_CONCURRENT_CALLS" in reached["SchedulerFunction"]  # the dialer's app.py still is the dialer


def test_every_deliberate_default_is_a_setting_still_relied_on(analysis: Analysis) -> None:
    for setting in DELIBERATE_DEFAULTS:
        assert setting in SETTINGS, f"DELIBERATE_DEFAULTS names {setting}, which is not a setting"
        assert analysis.allowed.get(setting), (
            f"no function relies on the default of {setting} any more: drop it from DELIBERATE_DEFAULTS"
        )


def test_no_function_overrides_a_deliberate_default() -> None:
    """A default is only safe to rely on when no function is given another value: one function on
    the template's value and another on the default would disagree (pacing, windows ...)."""
    template = _template()
    envs = {SETTINGS[setting][0]: setting for setting in DELIBERATE_DEFAULTS}
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    for env in envs.keys() & set(globals_env):
        raise AssertionError(f"Globals sets {env}: drop {envs[env]} from DELIBERATE_DEFAULTS")
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        overridden = sorted(envs.keys() & set(variables))
        assert not overridden, (
            f"{logical_id} sets {overridden}: every function reaching them must then have them too; "
            "drop them from DELIBERATE_DEFAULTS"
        )


def test_missing_setting_error_names_the_variable() -> None:
    from autocall.config import MissingSetting, Settings, env_var

    assert {name: env_var(name) for name in SETTINGS} == {n: env for n, (env, _) in SETTINGS.items()}
    with pytest.raises(MissingSetting, match="SCHEDULER_FUNCTION_ARN is not set"):
        Settings(scheduler_function_arn="").required("scheduler_function_arn")
    assert Settings(caller_id="+15551230000").required("caller_id") == "+15551230000"


def test_every_function_has_every_setting_its_code_reaches(analysis: Analysis) -> None:
    assert not analysis.gaps, (
        "functions reach settings their template environment does not give them (on AWS they are "
        "empty):\n" + "\n".join(f"- {gap}" for gap in analysis.gaps)
    )


PLACEHOLDER_MARKS = ("123456789012", "example.", "localhost", "127.0.0.1", "autocall-", "AC000", "+1500555")


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_no_placeholder_default(setting: str) -> None:
    """A missing setting is empty, never a value that looks real: placeholders live in local/ only."""
    env, default = SETTINGS[setting]
    assert not any(mark in default for mark in PLACEHOLDER_MARKS), (
        f"Settings.{setting} defaults to a placeholder {default} when {env} is missing"
    )
