"""cli/output.artifacts_line: which of a run's output files the results name first."""

from __future__ import annotations

from clusterrun.cli.output import artifacts_line
from clusterrun.records.models import ArtifactFile, ArtifactsInfo, Summary


def _summary(files: list[tuple[str, int]]) -> Summary:
    info = ArtifactsInfo(
        count=len(files),
        total_bytes=sum(size for _path, size in files),
        files=[ArtifactFile(path=path, size=size) for path, size in files],
    )
    return Summary(run_id="r", artifacts_info=info)


def test_the_largest_first_and_of_checkpoints_alike_the_last_epoch_first() -> None:
    """Of 126 checkpoints alike in size, the results named epoch100.pt ... epoch105.pt (path order, as
    strings), never the one a user looks for: the last."""
    files = [(f"work/outputs/epoch{n}.pt", 8192) for n in range(126)] + [("work/outputs/final.pt", 9000)]
    line = artifacts_line(_summary(files), shown=3)
    assert line.startswith("127 file(s)")
    assert line.endswith(
        ": work/outputs/final.pt (8.8 KB), work/outputs/epoch125.pt (8.0 KB), "
        "work/outputs/epoch124.pt (8.0 KB) ..."
    )


def test_checkpoints_a_few_bytes_apart_are_alike_and_named_outputs_come_first() -> None:
    """What a user read for five JSON checkpoints of 24 and 25 bytes: step40, step10, step0, step30,
    step20 (by size to the byte, then number). Sizes within 10% are alike; of alike files the named
    ones (best.pt, last.pt) come first, then the last in number."""
    steps = [(f"work/checkpoints/step{n}.json", 25 if n in (0, 10, 40) else 24) for n in (0, 10, 20, 30, 40)]
    line = artifacts_line(_summary(steps), shown=5)
    assert line.endswith(
        ": work/checkpoints/step40.json (25 B), work/checkpoints/step30.json (24 B), "
        "work/checkpoints/step20.json (24 B), work/checkpoints/step10.json (25 B), "
        "work/checkpoints/step0.json (25 B)"
    ), line
    torch = [("work/runs/exp/ckpt_0.pt", 27_950), ("work/runs/exp/best.pt", 27_950)]
    torch += [("work/runs/exp/ckpt_2.pt", 27_950), ("work/runs/exp/results.json", 50)]
    shown = artifacts_line(_summary(torch), shown=4).split(": ", 1)[1]
    assert [p.split(" ")[0] for p in shown.split(", ")] == [
        "work/runs/exp/best.pt",
        "work/runs/exp/ckpt_2.pt",
        "work/runs/exp/ckpt_0.pt",
        "work/runs/exp/results.json",  # not alike in size: after them
    ]
