"""may_need_redaction is a shortcut: when it says a record needs no walk, the walk would change nothing."""

from __future__ import annotations

import json
import random
from typing import Any

from clusterrun.config.redact import REDACTED, may_need_redaction, redact_data
from clusterrun.records.prettyjson import record_text

KEYS = [
    "step_key",
    "api_key",
    "apiKey",
    "HF_TOKEN",
    "max_tokens",
    "pad_token",
    "keypoints",
    "lr",
    "note",
    "db_password",
    "cookie_jar",
    "auth",
    "author",
    "secret",
    "secrets_dir",
    "credentials",
    "x",
    'odd"_token',
    "monkey",
    "token_count",
    "GITHUB_TOKEN",
    "passphrase",
    "key",
]
VALUES = [
    "plain",
    "my key is here",
    "token",
    "postgres://u:pw@h/db",
    "ghp_" + "a" * 36,
    "sk-" + "b" * 24,
    "see api_key",
    '"quoted": "api_key":',
    1,
    2.5,
    True,
    None,
]


def _record(rng: random.Random, depth: int = 0) -> Any:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(VALUES)
    if rng.random() < 0.25:
        return [_record(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(KEYS): _record(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_a_record_the_check_lets_through_has_nothing_to_redact() -> None:
    rng = random.Random(13)
    skipped = walked = 0
    for _ in range(3000):
        data = {"a": _record(rng)}
        for text in (record_text(data), json.dumps(data), json.dumps(data, indent=2, sort_keys=True)):
            if may_need_redaction(text):
                walked += 1
            else:
                skipped += 1
                assert redact_data(data) == data, text
    assert skipped > 100 and walked > 100  # both sides were exercised


def test_a_summary_with_only_step_key_is_not_walked_but_a_secret_key_is() -> None:
    assert not may_need_redaction(record_text({"metrics_history": {"step_key": "step"}}))
    assert may_need_redaction(record_text({"params": {"api_key": "x"}}))
    assert redact_data({"params": {"api_key": "x"}}) == {"params": {"api_key": REDACTED}}
    assert may_need_redaction("API_KEY=1 in a text that is not JSON")
