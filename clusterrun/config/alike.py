"""One object for equal values: what the members of a sweep have alike is held once.

A sweep of 10,000 members holds 10,000 configs and manifests in memory while it is submitted; their
git state, snapshot, resources, smoke test and estimate are equal from one member to the next, and
pydantic makes a new object of each for every member (about half of a member's memory). `share_alike`
replaces a value equal to the previous member's by that member's object. Only for values that are
replaced, never changed in place (a manifest's fields are set whole: Manifest.__setattr__, Run.update;
a config's are read), since a shared object changed in place would change every member's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def share_alike(values: dict[str, Any], others: dict[str, Any], names: Iterable[str] | None = None) -> None:
    """Each of `values` (those of `names`, else all) equal to the one of `others` of the same name
    replaced by that one."""
    for name in list(values) if names is None else names:
        value, other = values.get(name), others.get(name)
        if value is not None and other is not None and other is not value and other == value:
            values[name] = other


def share_model(model: Any, other: Any) -> None:
    """`share_alike` for two pydantic models' fields (and their extra fields, if any)."""
    if other is None or other is model:
        return
    share_alike(model.__dict__, other.__dict__)
    extra, others = getattr(model, "__pydantic_extra__", None), getattr(other, "__pydantic_extra__", None)
    if extra and others:
        share_alike(extra, others)
