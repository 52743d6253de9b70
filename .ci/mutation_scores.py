"""Mutation score per module, from mutmut's results (run after `mutmut run`).

    mutmut results --all true | python .ci/mutation_scores.py

The score is mutmut's: mutants killed (including timeouts) over all mutants of the module.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from typing import DefaultDict, Iterable

_LINE = re.compile(r"^\s*(?P<module>[\w.]+)\.x\S*__mutmut_\d+: (?P<status>.+)$")
_KILLED = {"killed", "timeout"}


def tally(lines: Iterable[str]) -> DefaultDict[str, Counter[str]]:
    counts: DefaultDict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        match = _LINE.match(line)
        if match:
            counts[match["module"]][match["status"].strip()] += 1
    return counts


def main() -> int:
    counts = tally(sys.stdin)
    if not counts:
        print("no mutmut results on stdin (pipe `mutmut results --all true` in)", file=sys.stderr)
        return 1
    every: Counter[str] = Counter()
    print(f"{'module':<32} {'mutants':>8} {'killed':>8} {'score':>7}  not killed")
    for module in sorted(counts):
        every.update(counts[module])
        print(_row(module, counts[module]))
    print(_row("all", every))
    return 0


def _row(name: str, counts: Counter[str]) -> str:
    total = sum(counts.values())
    killed = sum(n for status, n in counts.items() if status in _KILLED)
    alive = sorted((status, n) for status, n in counts.items() if status not in _KILLED)
    rest = ", ".join(f"{n} {status}" for status, n in alive)
    return f"{name:<32} {total:>8} {killed:>8} {killed / total:>7.1%}  {rest}"


if __name__ == "__main__":
    sys.exit(main())
