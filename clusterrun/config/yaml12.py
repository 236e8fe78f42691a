"""Read YAML files the way configs mean them: YAML 1.2 scalars, friendly errors, a mapping at the top.

What a config file may not do, each refused with a one-line error naming the place:
  - be larger than MAX_CONFIG_BYTES (1 MiB), or nest deeper than MAX_DEPTH levels;
  - expand through aliases (`*name`) to more than MAX_ALIAS_NODES repeated nodes (a "billion laughs"
    file is refused while it is read, before anything is expanded), or refer to itself;
  - repeat a key in one mapping (both line numbers are named; YAML would silently keep the last);
  - use tags other than YAML 1.2's core ones (`!!python/...`, `!!timestamp`, `!!binary`, `!!set`...).
Scalars are YAML 1.2's core schema: `010` is 10 (not octal 8), `0o17` is 15, `10:00` and `2026-01-01`
stay strings, and only true/false are booleans (not yes/no/on/off).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from clusterrun.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024  # a config (or cluster profile) file
MAX_ALIAS_NODES = 100_000  # nodes that aliases may add by repeating what they refer to
MAX_DEPTH = 100  # nested mappings and lists

_TAG = "tag:yaml.org,2002:"
_KEPT_RESOLVERS = {_TAG + "null", _TAG + "merge"}  # no timestamp, value ('='), yaml ('!', '&', '*')


class YamlLimitError(yaml.YAMLError):
    """A file that YAML would read, refused: a repeated key, an alias bomb, too deep. `line`: 1-based."""

    def __init__(self, problem: str, hint: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.hint, self.line = problem, hint, line


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars and the limits above (counted while composing, so nothing
    is ever expanded to find out)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> its size once expanded (nodes, itself included)
        self._fresh = 0  # nodes written out in the text (not repeated through an alias)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        alias = self.check_event(yaml.AliasEvent)
        mark = self.get_mark()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(
                f"nested more than {MAX_DEPTH} levels deep",
                "flatten the structure: configs are a few levels of mappings and lists",
                mark.line + 1,
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return node
        if alias:
            if id(node) not in self._sizes:  # an alias to a node still being read: itself
                raise YamlLimitError(
                    "an alias refers to the mapping or list that contains it",
                    "write the value out instead of the alias",
                    mark.line + 1,
                )
            return node
        self._fresh += 1
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._sizes[id(child)] for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._sizes[id(key)] + self._sizes[id(value)] for key, value in node.value)
        self._sizes[id(node)] = size
        if size - self._fresh > MAX_ALIAS_NODES:
            raise YamlLimitError(
                f"aliases expand to more than {MAX_ALIAS_NODES} repeated values",
                "write the values out, or refer to them with fewer nested aliases (*name)",
                mark.line + 1,
            )
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key, _value in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _TAG + "merge":
                continue
            line = key.start_mark.line + 1
            first = seen.get((key.tag, key.value))
            if first is not None:
                raise YamlLimitError(
                    f"duplicate key {key.value!r} (lines {first} and {line})",
                    "keep one of them: YAML would silently use the last",
                    line,
                )
            seen[(key.tag, key.value)] = line
        return node


def _reject(node: Node, what: str) -> ConstructorError:
    text = str(node.value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    return ConstructorError(None, None, f"{shown!r} is not {what}", node.start_mark)


def _int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).strip()
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
    base = {"0o": 8, "0x": 16}.get(digits[:2].lower(), 10)
    try:  # YAML 1.2: decimal unless 0o/0x; `010` is ten
        return sign * int(digits[2:] if base != 10 else digits, base)
    except ValueError:
        raise _reject(node, "an integer") from None


_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}


def _float(loader: yaml.SafeLoader, node: ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).strip()
    if text.lower() in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text.lower()]
    if not re.fullmatch(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", text):
        raise _reject(node, "a number")
    return float(text)


def _bool(loader: yaml.SafeLoader, node: ScalarNode) -> bool:
    text = str(loader.construct_scalar(node)).strip().lower()
    if text not in ("true", "false"):
        raise _reject(node, "true or false")
    return text == "true"


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag in _KEPT_RESOLVERS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    _TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    _TAG + "int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Yaml12Loader.add_implicit_resolver(
    _TAG + "float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
# the core schema only: any other tag (timestamps, binary, sets, python objects) is refused
_Yaml12Loader.yaml_constructors = {
    _TAG + "null": yaml.SafeLoader.construct_yaml_null,
    _TAG + "str": yaml.SafeLoader.construct_yaml_str,
    _TAG + "seq": yaml.SafeLoader.construct_yaml_seq,
    _TAG + "map": yaml.SafeLoader.construct_yaml_map,
    _TAG + "bool": _bool,
    _TAG + "int": _int,
    _TAG + "float": _float,
    None: yaml.SafeLoader.construct_undefined,
}
_Yaml12Loader.yaml_multi_constructors = {}


def yaml_load(text: str) -> Any:
    """YAML text -> data; any problem is a yaml.YAMLError (a YamlLimitError for the limits above)."""
    return yaml.load(text, Loader=_Yaml12Loader)


def load_value(text: str) -> Any:
    """One YAML value written inline and nothing else: a plain or quoted scalar, or a [...] / {...}
    collection, spanning the whole text. Anything else (a trailing `# comment`, a block scalar `|`, a
    document marker `---`, a block list `- a`) raises yaml.YAMLError: the caller keeps the text."""
    loader = _Yaml12Loader(text)
    try:
        node = loader.get_single_node()
        inline = node is not None and node.start_mark.index == 0 and node.end_mark.index == len(text)
        if isinstance(node, ScalarNode):
            inline = inline and node.style not in ("|", ">")
        elif isinstance(node, SequenceNode | MappingNode):
            inline = inline and bool(node.flow_style)
        if node is None or not inline:
            raise YamlLimitError("not one inline YAML value", "")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_location(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _read(path: Path) -> str:
    try:
        if not path.is_file():
            raise ConfigError(
                f"config file {path} does not exist",
                hint="pass a YAML file, e.g. configs/examples/quickstart.yaml",
            )
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:  # a name too long, a directory in the way, no permission
        raise ConfigError(
            f"cannot read config file {str(path)[:120]}: {exc.strerror or exc}",
            hint="pass the path of a readable YAML file (each name at most 255 characters)",
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        size = path.stat().st_size
        raise ConfigError(
            f"{path}: the file is {size / 1024 / 1024:.1f} MB; a config may be at most "
            f"{MAX_CONFIG_BYTES // 1024 // 1024} MB",
            hint="keep data out of the config: point to it with a path (data: {...}) instead",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file", hint="save the config as UTF-8 YAML") from None


def load_yaml(path: Path) -> dict[str, Any]:
    text = _read(path)
    batch = re.search(r"^#SBATCH\s", text, re.MULTILINE) is not None
    if text.startswith("#!") or batch:  # a script, which may even read as YAML
        kind = "a batch script (#SBATCH lines)" if batch else "a script"
        raise ConfigError(
            f"{path} is {kind}, not a clusterrun config (YAML)",
            hint="clusterrun init writes a config from the project's scripts (an sbatch script's resources, "
            "setup and command included); or submit a command as it is: clusterrun submit -- python train.py",
        )
    try:
        data = yaml_load(text)
    except YamlLimitError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise ConfigError(f"{path}{where}: {exc.problem}", hint=exc.hint) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = "check indentation and quoting near that line"
        if "'\\t'" in problem:  # an editor's tab: YAML indents with spaces only
            problem = "a tab character, which YAML does not allow for indentation"
            hint = "indent with spaces instead of tabs (e.g. two spaces per level)"
        raise ConfigError(f"{path}: malformed YAML{_yaml_location(exc)}: {problem}", hint=hint) from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty", hint="see configs/examples/quickstart.yaml")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping (key: value), not {type(data).__name__}",
            hint="see configs/examples/quickstart.yaml",
        )
    return data
