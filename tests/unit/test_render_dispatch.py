"""cli/render.py finds a result's renderer by its class's name, so that rendering a status imports no
other command's services: every name it knows is a real class, and a subclass finds its base's."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from clusterrun.cli import render as rendering
from clusterrun.errors import ExitStatus


@pytest.mark.parametrize("name", sorted(rendering._RENDERERS))
def test_every_renderer_names_a_class_that_exists(name: str) -> None:
    module, _, qualname = name.rpartition(".")
    assert isinstance(getattr(importlib.import_module(module), qualname), type), name


def test_a_subclass_is_rendered_as_its_base_and_an_unknown_result_is_a_bug() -> None:
    from clusterrun.services.disk import DiskReport

    class Narrower(DiskReport):
        pass

    assert rendering.render(Narrower([], {}, 0), "ids") == ExitStatus.OK
    with pytest.raises(TypeError, match="no renderer for object"):
        rendering.render(object(), "text")


def test_a_status_imports_no_doctor_submit_preparation_submitit_git_or_jinja2() -> None:
    code = (
        "import sys; import clusterrun.cli.render, clusterrun.services.listing; "
        "names = ('clusterrun.services.doctor', 'clusterrun.services.prepare', 'submitit', 'git', 'jinja2'); "
        "print(sorted(m for m in names if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out  # a status of settled runs needs none of them
