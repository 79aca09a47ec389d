"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer for Python), bounded in time.

    python fuzz/run.py --seconds 300                 # every target, the time split evenly
    python fuzz/run.py --seconds 120 --targets css,url
    python fuzz/run.py --target css fuzz/findings/css-crash-...   # run one input again

Needs ``pip install -e '.[dev]'`` (atheris); the ``url`` target also uses the
test dependency ada-url as its WHATWG oracle when installed. Targets and what
they check are in ``fuzz/targets.py``. Each target runs in a process of its own
(libFuzzer ends the process when it stops) for its share of the time, starting
from the seed inputs in ``fuzz/seeds/<target>/`` and the inputs earlier runs
found interesting (``fuzz/work/<target>/``, not kept in git), guided by the
tokens in ``fuzz/dict/<target>.dict``. An input that breaks a property is
written to ``fuzz/findings/<target>-crash-<hash>`` and the run of that target
stops; the summary at the end names each target's result, runs and seconds.
The exit status is 1 if any target found something.

Only the Python code is instrumented for coverage; the C fast paths run (and
the ``html`` target compares them with the Python reference) but do not guide
the search.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAMES = ("html", "srcset", "css", "json", "urltext", "url")
MAX_LEN = {"html": 4096, "json": 2048, "urltext": 2048}  # bytes; 512 for the others


def fuzz_one(target: str, libfuzzer_args: list[str]) -> None:
    """Run ``target`` under atheris in this process (never returns)."""
    import atheris  # only the fuzzing process needs it

    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["rewriteproxy", "fuzz"]):
        from fuzz.targets import TARGETS

    check = TARGETS[target]
    atheris.Setup([sys.argv[0], *libfuzzer_args], check)
    atheris.Fuzz()


def run_target(target: str, seconds: int, python: str) -> tuple[str, int, float]:
    """Fuzz ``target`` in a child process for ``seconds``: (result, runs, seconds)."""
    work = HERE / "work" / target
    findings = HERE / "findings"
    work.mkdir(parents=True, exist_ok=True)
    findings.mkdir(exist_ok=True)
    args = [
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN.get(target, 512)}",
        "-timeout=10",  # seconds for one input: a hang is a finding
        "-rss_limit_mb=2048",
        f"-dict={HERE / 'dict' / (target + '.dict')}",
        f"-artifact_prefix={findings / target}-",
        "-print_final_stats=1",
        str(work),
        str(HERE / "seeds" / target),
    ]
    started = time.monotonic()
    child = subprocess.run(
        [python, str(Path(__file__).resolve()), "--target", target, *args],
        capture_output=True,
        text=True,
        errors="replace",
        cwd=ROOT,
    )
    elapsed = time.monotonic() - started
    log = child.stdout + child.stderr
    (findings / f"{target}.log").write_text(log)
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    if child.returncode == 0:
        return "clean", int(runs[-1]) if runs else 0, elapsed
    crash = re.findall(r"Test unit written to (\S+)", log)
    return (
        f"FOUND {crash[-1] if crash else '(see ' + target + '.log)'}",
        int(runs[-1]) if runs else 0,
        elapsed,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="total, split over targets")
    parser.add_argument("--targets", default=",".join(NAMES), help="comma-separated")
    parser.add_argument("--target", help="run one target in this process (libFuzzer args follow)")
    args, rest = parser.parse_known_args()
    if args.target:
        fuzz_one(args.target, rest)
    targets = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(targets) - set(NAMES))
    if unknown or not targets:
        parser.error(f"unknown targets {unknown}; known: {', '.join(NAMES)}")
    share = max(1, args.seconds // len(targets))
    failed = False
    print(f"{'target':<8} {'result':<8} {'runs':>10} {'seconds':>8}")
    for target in targets:
        result, runs, elapsed = run_target(target, share, sys.executable)
        failed = failed or result != "clean"
        print(f"{target:<8} {result:<8} {runs:>10} {elapsed:>8.0f}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
