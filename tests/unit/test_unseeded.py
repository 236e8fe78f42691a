"""Random numbers drawn without a seed, read from the code the command runs (never run)."""

from __future__ import annotations

from pathlib import Path

from clusterrun.inputs.unseeded import find


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_generator_made_without_a_seed_is_found_where_it_is(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "train.py": "import numpy as np\nfrom lib import data\n\nrng = np.random.default_rng(7)\n",
            "lib/data.py": "import random\nfrom numpy.random import default_rng\n\nr = random.Random()\n"
            "g = default_rng()\nh = default_rng(seed=None)\n",
        },
    )
    found = [str(u) for u in find(root, ["python", "train.py", "--seed", "1"])]
    assert found == [
        "lib/data.py line 4: random.Random() makes a generator with no seed",
        "lib/data.py line 5: default_rng() makes a generator with no seed",
        "lib/data.py line 6: default_rng() makes a generator with no seed",
    ]


def test_seeded_code_says_nothing(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/train.py": "import argparse\nimport random\nimport numpy as np\nimport torch\n"
            "from .util import seed_all\n\nseed_all(1)\nx = np.random.rand(3)\nrandom.shuffle([1])\n"
            "rng = np.random.default_rng(args.seed)\nstate = np.random.RandomState(0)\n",
            "pkg/util.py": "import random\nimport numpy as np\nimport torch\n\ndef seed_all(s):\n"
            "    random.seed(s)\n    np.random.seed(s)\n    torch.manual_seed(s)\n",
        },
    )
    assert find(root, ["python", "-m", "pkg.train"]) == []


def test_global_generators_used_and_never_seeded_are_found_once_each(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "train.py": "import random\nimport numpy as np\n\nimport torch\nfrom model import Net\n"
            "x = np.random.rand(3)\ny = np.random.normal(size=2)\nrandom.shuffle([1, 2])\n",
            "model.py": "import torch.nn as nn\n",
        },
    )
    found = [str(u) for u in find(root, ["python", "train.py"])]
    assert found == [
        "train.py line 4: torch is used and torch.manual_seed is never called",
        "train.py line 6: np.random.rand draws from numpy's global generator, never seeded",
        "train.py line 8: random.shuffle draws from Python's global generator, never seeded",
    ]
    # a project's own helper, named for a seed, from a module not read: taken to seed every library
    (root / "train.py").write_text(
        (root / "train.py").read_text() + "from utils.seeding import set_all_seeds\nset_all_seeds(3)\n"
    )
    assert find(root, ["python", "train.py"]) == []
    (root / "train.py").write_text((root / "train.py").read_text().replace("set_all_seeds(3)\n", ""))
    # one seeding call of a library anywhere in the files read: that library is seeded
    (root / "model.py").write_text("import numpy\nimport torch.nn as nn\nnumpy.random.seed(3)\n")
    assert [u.what.split()[0] for u in find(root, ["python", "train.py"])] == ["torch", "random.shuffle"]


def test_code_outside_the_snapshot_unreadable_or_absent_is_not_read(tmp_path: Path) -> None:
    root = _tree(tmp_path / "repo", {"bad.py": "def (:\n", "ok.py": "import os\n"})
    (tmp_path / "outside.py").write_text("import numpy as np\nnp.random.default_rng()\n")
    assert find(root, ["python", "bad.py"]) == []
    assert find(root, ["python", "../outside.py"]) == []
    assert find(root, ["python", "missing.py", "bash", "-c", "true"]) == []
    assert find(root, ["python", "ok.py"]) == []
    (root / "deep.py").write_text("import random\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    assert find(root, ["python", "deep.py"]) == []  # too deep for Python's parser: not read, no crash


def test_lightning_cli_seeds_every_generator_with_a_number_only(tmp_path: Path) -> None:
    """LightningCLI seeds Python, numpy and torch: with `seed_everything_default=1234`, or with
    `--seed_everything N` on the command line (what `init` writes); its default (True) is a random seed.
    A user trial's LightningCLI script was warned about as 'torch.manual_seed is never called'."""
    cli = "import torch\nfrom lightning.pytorch.cli import LightningCLI\nx = torch.randn(3)\n"
    seeded = cli + "LightningCLI(M, D, seed_everything_default=7)\n"
    root = _tree(tmp_path, {"a.py": cli + "LightningCLI(M, D)\n", "b.py": seeded})
    assert [u.what for u in find(root, ["python", "a.py", "fit"])] == [
        "torch is used and torch.manual_seed is never called"
    ]
    assert find(root, ["python", "b.py", "fit"]) == []
    assert find(root, ["python", "a.py", "fit", "--seed_everything", "42"]) == []
    assert find(root, ["python", "a.py", "fit", "--seed_everything=42"]) == []
    assert find(root, ["python", "a.py", "fit", "--seed_everything", "true"]) != []  # a random seed
