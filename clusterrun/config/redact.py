"""The one list of what counts as a secret: names (HF_TOKEN, db_password, WANDB_API_KEY) and values
(a password in a URL, token formats of well-known services).

Used by the config's check (a secret in params, data, env, the command or setup is refused before
anything is written), by the environment capture (env.json), and by the records' writer, which redacts
whatever still looks secret in every record it writes (manifest.json, summary.json, sweep.json, events).
A leaf: it imports nothing from clusterrun, so config, execution and records can all use it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

REDACTED = "<redacted>"

#: A name is secret when its last word is one of these (HF_TOKEN, db_password, client_secret)...
SECRET_LAST_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "credential",
        "credentials",
        "apikey",
        "cookie",
    }
)
#: ...or it holds one of these words anywhere (MLFLOW_TRACKING_PASSWORD_FILE is a path, but SLURM_AUTH_X
#: and DB_PASSWORD_PLAIN are not names to gamble on)...
SECRET_ANY_WORDS = frozenset({"password", "passwd", "passphrase", "auth", "credential", "credentials"})
#: ...or it ends with one of these pairs of words (WANDB_API_KEY, AWS_SECRET_ACCESS_KEY, ssh_private_key).
SECRET_LAST_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("client", "secret"),
        ("session", "token"),
    }
)
#: The tokens of a tokenizer are not credentials: pad_token, eos_token, mask_token...
NOT_SECRET_BEFORE_TOKEN = frozenset(
    {"pad", "bos", "eos", "unk", "sep", "cls", "mask", "start", "end", "sos", "special", "image"}
    | {"max", "min"}
)

_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")

#: Well-known token formats (GitHub, Hugging Face, AWS access key ids, OpenAI-style keys, Slack, JWTs,
#: PEM private keys).
_TOKEN_RE = re.compile(
    r"\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}|\bhf_[A-Za-z0-9]{30,}|\bAKIA[0-9A-Z]{16}\b"
    r"|\bsk-[A-Za-z0-9]{20,}|\bsk-(?:proj|ant|live|test)-[A-Za-z0-9_-]{20,}|\bxox[abpr]-[A-Za-z0-9-]{10,}"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*)?|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
#: What every secret value above contains: strings without it are left alone at once.
_MAYBE_RE = re.compile(r"://|gh[pousr]_|github_pat_|hf_|AKIA|sk-|xox|eyJ|-----BEGIN")
#: A password in a URL: scheme://user:PASSWORD@host (the user name is kept).
_URL_PASSWORD_RE = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)(?P<password>[^/\s@]+)@")


def words(name: str) -> list[str]:
    """HF_TOKEN -> [hf, token]; apiKey -> [api, key]; db-password -> [db, password]."""
    return [w.lower() for w in _WORD_RE.findall(name)]


@functools.lru_cache(maxsize=4096)  # records repeat their keys: every write asks again
def is_secret_name(name: str) -> bool:
    """A variable, param or record key whose value would be a credential.

    Whole words only, so TOKENIZERS_PARALLELISM, max_tokens, keypoints, pad_token and HF_HOME are not."""
    parts = words(name)
    if not parts:
        return False
    last = parts[-1]
    if any(part in SECRET_ANY_WORDS for part in parts):
        return True
    if len(parts) >= 2 and (parts[-2], last) in SECRET_LAST_PAIRS:
        return True
    if last == "token" and len(parts) >= 2 and parts[-2] in NOT_SECRET_BEFORE_TOKEN:
        return False
    return last in SECRET_LAST_WORDS


def secret_in_value(value: str) -> str:
    """What in `value` looks like a credential ('a password in a URL', 'a token'), or ''."""
    if _URL_PASSWORD_RE.search(value):
        return "a password in a URL"
    if _TOKEN_RE.search(value):
        return "an access token or private key"
    return ""


def redact_text(text: str) -> str:
    """`text` with URL passwords (postgres://u:pw@h -> postgres://u:<redacted>@h) and tokens redacted."""
    if not _MAYBE_RE.search(text):
        return text
    if "://" in text:
        text = _URL_PASSWORD_RE.sub(lambda m: f"{m.group('head')}{REDACTED}@", text)
    return _TOKEN_RE.sub(REDACTED, text)


def redact_value(name: str, value: str) -> str:
    """The value of a named variable or key as a record may show it."""
    if value and is_secret_name(name):
        return REDACTED
    return redact_text(value)


#: Substrings one of which every secret value (_MAYBE_RE) and every secret name (lower-cased) holds.
_VALUE_MARKS: tuple[str, ...] = ("://", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "hf_", "AKIA")
_VALUE_MARKS += ("sk-", "xox", "eyJ", "-----BEGIN")
_NAME_MARKS = ("token", "secret", "passw", "passphrase", "credential", "apikey", "cookie", "auth", "key")


def may_need_redaction(text: str) -> bool:
    """False when `text` (a record's JSON, or any text) certainly holds no secret value and no
    secret-named key: a few substring searches, so the usual record is not walked at all."""
    if any(mark in text for mark in _VALUE_MARKS):
        return True
    lower = text.lower()
    if not any(mark in lower for mark in _NAME_MARKS):
        return False
    if not text.lstrip().startswith("{") or '\\"' in text:
        return True  # not a record's JSON, or keys with quotes in them: walked, to be sure
    # a record's JSON: only a secret-named key needs the walk (summaries all hold "step_key")
    return any(is_secret_name(name) for name in _marked_keys(text, lower))


def _marked_keys(text: str, lower: str) -> Iterator[str]:
    """The object keys of a JSON text (without escaped quotes) that hold one of _NAME_MARKS: each
    mark's quoted string, when a colon follows it."""
    for mark in _NAME_MARKS:
        at = lower.find(mark)
        while at != -1:
            opening, closing = text.rfind('"', 0, at), text.find('"', at)
            if opening != -1 and closing != -1 and text[closing + 1 : closing + 64].lstrip().startswith(":"):
                yield text[opening + 1 : closing]
            at = lower.find(mark, at + 1)


def redact_data(data: Any, key: str = "") -> Any:
    """JSON data with every string redacted: the whole value of a secret-named key, else the secret
    parts of it (URL passwords, tokens). Numbers, booleans and structure are kept."""
    kind = type(data)  # JSON data: concrete types are checked first (ABC checks cost 10x more)
    if kind is str:
        return redact_value(key, data) if key else redact_text(data)
    if kind is dict or (kind is not list and isinstance(data, Mapping)):
        return {k: redact_data(v, str(k)) for k, v in data.items()}
    if kind is list or kind is tuple:
        return [redact_data(v) for v in data]
    if isinstance(data, str):  # a str subclass
        return redact_data(str(data), key)
    return data


def refusal(where: str, name: str, value: Any, name_alone: bool = False) -> str:
    """Why `name: value` in the config may not be written into a record, or '' when it may be: a
    secret name with a non-empty string value (any value with `name_alone`), or a secret in the value."""
    text = "" if value is None else str(value)
    named = bool(name) and is_secret_name(name)
    if named and (name_alone or (isinstance(value, str) and text)):
        found = "its name says it is a secret"
    else:
        found = secret_in_value(text)
    if not found:
        return ""
    return (
        f"{where} looks like a secret ({found}) and would be written into the run's records: export it "
        "in your shell instead (the job inherits the submitting shell's environment) and read it "
        "from the environment in your program"
    )
