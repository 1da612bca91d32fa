"""METEOR 1.5 through the jar that pycocoevalcap ships, run with the same flags as COCO.

METEOR needs its Java implementation and paraphrase tables, so it runs only when `java` is
on the PATH and pycocoevalcap (with `meteor/meteor-1.5.jar`) is installed. Otherwise the
metric reports itself unavailable and `evaluate` lists it as skipped.

The jar's `-stdio` protocol: one `SCORE ||| ref ||| ... ||| hypothesis` line per image
returns a line of statistics; one `EVAL ||| stats ||| ...` line then returns one score per
image and a final corpus score.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from nncaption.errors import NncaptionError
from nncaption.metrics.base import (
    Metric,
    MetricScore,
    TokenizedHypotheses,
    TokenizedReferences,
    register_metric,
)

__all__ = ["MeteorMetric", "find_meteor_jar"]

log = logging.getLogger(__name__)

JAR_NAME = "meteor-1.5.jar"
# pycocoevalcap's command line: stdin/stdout protocol, English, normalised text, 2 GB heap.
JAVA_OPTIONS = ["-Xmx2G"]
METEOR_OPTIONS = ["-", "-", "-stdio", "-l", "en", "-norm"]


def find_meteor_jar() -> Path | None:
    """Return pycocoevalcap's METEOR jar, or None when pycocoevalcap or the jar is missing."""
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        jar = Path(location) / "meteor" / JAR_NAME
        if jar.is_file():
            return jar
    return None


def _score_line(hypothesis: Sequence[str], references: Sequence[Sequence[str]]) -> str:
    # "|||" separates fields; pycocoevalcap strips it from the hypothesis the same way.
    hypothesis_text = " ".join(hypothesis).replace("|||", "").replace("  ", " ")
    return " ||| ".join(["SCORE", " ||| ".join(" ".join(r) for r in references), hypothesis_text])


@register_metric
class MeteorMetric(Metric):
    """METEOR 1.5 (Denkowski and Lavie 2014) via Java, as the COCO evaluation runs it."""

    name = "meteor"
    score_names = ("METEOR",)

    def __init__(
        self, jar: Path | None = None, java: str | None = None, timeout_s: float = 1800.0
    ) -> None:
        self.jar = jar if jar is not None else find_meteor_jar()
        # None when no such program is found; unavailable_reason() then explains.
        self.java = shutil.which(java if java is not None else "java")
        self.timeout_s = timeout_s

    def unavailable_reason(self) -> str | None:
        if self.java is None:
            return "needs Java (no 'java' program found on PATH); install a Java runtime to compute METEOR"
        if self.jar is None or not self.jar.is_file():
            return f"needs pycocoevalcap's {JAR_NAME}; run 'pip install pycocoevalcap==1.2'"
        return None

    def compute_score(
        self, references: TokenizedReferences, hypotheses: TokenizedHypotheses
    ) -> dict[str, MetricScore]:
        reason = self.unavailable_reason()
        if reason is not None:
            raise NncaptionError(f"METEOR cannot run: {reason}")
        assert self.jar is not None and self.java is not None

        score_lines = [
            _score_line(hyp, references[image_id]) for image_id, hyp in hypotheses.items()
        ]
        lines = self._run(score_lines)
        per_image = tuple(float(line) for line in lines[:-1])
        return {"METEOR": MetricScore("METEOR", float(lines[-1]), per_image)}

    def _run(self, score_lines: list[str]) -> list[str]:
        """Send the SCORE lines and the EVAL line; return the per-image and corpus score lines."""
        assert self.jar is not None and self.java is not None
        command = [self.java, "-jar", *JAVA_OPTIONS, self.jar.name, *METEOR_OPTIONS]
        with tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                command,
                cwd=self.jar.parent,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
            assert process.stdin is not None and process.stdout is not None
            timed_out = threading.Event()
            timer = threading.Timer(self.timeout_s, lambda: (timed_out.set(), process.kill()))
            timer.start()
            try:
                # A writer thread keeps the pipes from filling up while we read the statistics.
                writer = threading.Thread(
                    target=_write_lines, args=(process.stdin, score_lines), daemon=True
                )
                writer.start()
                stats = [_read_line(process, stderr, timed_out) for _ in score_lines]
                writer.join()

                _write_lines(process.stdin, [" ||| ".join(["EVAL", *stats])])
                results = [
                    _read_line(process, stderr, timed_out) for _ in range(len(score_lines) + 1)
                ]
                process.stdin.close()
                return_code = process.wait()
            finally:
                timer.cancel()
                if process.poll() is None:
                    process.kill()
                    process.wait()

            if return_code != 0:
                raise NncaptionError(
                    f"METEOR jar exited with status {return_code}: {_tail(stderr)}; command: {' '.join(command)}"
                )
        log.debug("METEOR scored %d images", len(score_lines))
        return results


def _write_lines(stream, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    try:
        for line in lines:
            stream.write(f"{line}\n".encode())
        stream.flush()
    except BrokenPipeError:
        # The reader sees the end of output and reports the jar's error message.
        return


def _read_line(process: subprocess.Popen, stderr, timed_out: threading.Event) -> str:  # type: ignore[no-untyped-def]
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line:
        process.kill()
        process.wait()
        if timed_out.is_set():
            raise NncaptionError(
                "METEOR jar timed out and was stopped; score fewer images or raise timeout_s"
            )
        raise NncaptionError(
            f"METEOR jar stopped before returning all scores (exit status {process.returncode}): {_tail(stderr)}"
        )
    return line


def _tail(stderr) -> str:  # type: ignore[no-untyped-def]
    stderr.seek(0)
    text = stderr.read().decode(errors="replace").strip()
    return text[-2000:] if text else "no error output"
