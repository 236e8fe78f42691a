"""The `{name}` placeholders of command tokens and env values: which ones a template uses."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

#: Placeholders the command template may use besides the params.
BUILTIN_PLACEHOLDERS = ("seed", "run_dir", "config_file")
#: The path of the run's copy of its config_file (config/sections.py ConfigFile): only with one.
CONFIG_FILE_PLACEHOLDER = "config_file"
#: The folder of a run's directory (or its smoke test's) that holds that copy (here: the job's wrapper
#: reads it through records/memberfiles.py, and must not import the config models).
CONFIG_FILE_DIR = "config_file"


def placeholders(token: str, where: str = "command token") -> list[str]:
    """The `{name}` fields of one command token (or env value); `{{` escapes a brace."""
    fields = []
    try:
        parsed = list(string.Formatter().parse(token))
    except ValueError as exc:
        raise ValueError(f"bad braces in {where} {token!r}: {exc} (write {{{{ for a literal brace)") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not re.fullmatch(r"(data\.)?[A-Za-z_][A-Za-z0-9_]*", field) or spec or conversion:
            raise ValueError(
                f"placeholder {{{field}}} in {token!r}: use a plain name such as {{lr}} or {{data.split}}"
            )
        fields.append(field)
    return fields


def used_placeholders(command: Sequence[str], env: Mapping[str, str]) -> set[str]:
    """Every {name} the command and the env values use (the params they pass on to the job)."""
    return {field for text in [*command, *env.values()] for field in placeholders(text)}


def unused_params(params: Mapping[str, Any], command: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The params no {placeholder} of the command or of `env`'s values (the env, and config_file.set's
    texts: ExperimentSpec.passed_texts) uses."""
    used = used_placeholders(command, env)
    return [name for name in params if name not in used]
