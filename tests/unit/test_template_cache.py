"""execution/templates.py: compiled templates are kept in the user's private cache directory, never
trusted when damaged or when the directory is not private, and render the same text either way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterrun.execution import templates

CONTEXT = {"setup": ["module load cuda/12.1", "source 'venv dir/bin/activate'"], "argv": ["a b", "c"]}
TEMPLATE = """#!/usr/bin/env bash
{% for line in setup %}
{{ line }}
{% endfor %}
exec {{ argv | qjoin }}  # {{ argv[0] | q }}
"""
EXPECTED = (
    "#!/usr/bin/env bash\nmodule load cuda/12.1\nsource 'venv dir/bin/activate'\nexec 'a b' c  # 'a b'\n"
)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.sh.j2").write_text(TEMPLATE)
    monkeypatch.setattr(templates, "template_dir", lambda: tmp_path / "templates")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    templates._environment.cache_clear()
    yield tmp_path / "cache" / "clusterrun" / "jinja2"
    templates._environment.cache_clear()  # the next user gets the ordinary environment back


def _render() -> str:
    templates._environment.cache_clear()  # a new process, as far as the cache is concerned
    return templates.render_template("t.sh.j2", **CONTEXT)


def test_a_second_process_loads_the_compiled_template(cache_home: Path) -> None:
    first = _render()
    entries = list(cache_home.iterdir())
    assert len(entries) == 1 and oct(cache_home.stat().st_mode & 0o777) == "0o700"
    stamp = entries[0].stat().st_mtime_ns
    assert _render() == first == EXPECTED
    assert entries[0].stat().st_mtime_ns == stamp  # read, not compiled and written again


def test_a_damaged_entry_is_compiled_again(cache_home: Path) -> None:
    first = _render()
    (entry,) = cache_home.iterdir()
    for damage in (b"", b"j2garbage", entry.read_bytes()[:40]):
        entry.write_bytes(damage)
        assert _render() == first
        assert entry.read_bytes() != damage  # rewritten whole


def test_a_directory_others_may_write_is_not_used(cache_home: Path) -> None:
    cache_home.mkdir(parents=True)
    cache_home.chmod(0o777)
    assert _render() == EXPECTED
    assert list(cache_home.iterdir()) == []


def test_no_cache_directory_still_renders(cache_home: Path, tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("a file where the directory should be")
    assert _render() == EXPECTED


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_cache_still_renders(cache_home: Path) -> None:
    cache_home.mkdir(parents=True, mode=0o700)
    cache_home.chmod(0o500)
    try:
        assert _render() == EXPECTED
    finally:
        cache_home.chmod(0o700)
