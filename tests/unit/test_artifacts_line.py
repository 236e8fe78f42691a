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
