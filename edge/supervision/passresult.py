"""What one rule pass did: the changes it made (the first ``KEPT`` of each kind) and their counts.

``hallwatch edge check`` prints :meth:`PassResult.lines`; the schedule and the checker log it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edge.supervision.alerts import Finding
from edge.supervision.noticebook import DEADLINE_NOTICE, Notice
from standard.records import LOCAL_TZ

KEPT = 1_000  # changes a pass keeps to show (the counts go on): a first pass over a long
# history opens hundreds of thousands of alerts and notices, which must not all stay in memory


@dataclass
class PassResult:
    """What one pass did (the CLI prints ``lines()``): the first ``KEPT`` changes of each kind
    and how many there were."""

    at: dt.datetime
    checked: int = 0
    opened: list[Finding] = field(default_factory=list)
    reopened: list[Finding] = field(default_factory=list)
    cleared: list[tuple[str, str]] = field(default_factory=list)  # (subject, rule)
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (subject, rule), disproven
    notices: list[Notice] = field(default_factory=list)
    notifications: int = 0
    # Open cases this pass judged already (so the pass over open cases counts them once).
    judged_open: set[str] = field(default_factory=set, repr=False)
    counts: Counter = field(default_factory=Counter)  # opened … withdrawn, notices

    def note(self, kind: str, change: Any) -> None:
        """Count a change, and keep it while fewer than ``KEPT`` of its kind are kept."""
        self.counts[kind] += 1
        kept = getattr(self, kind)
        if len(kept) < KEPT:
            kept.append(change)

    @property
    def created(self) -> int:
        return self.counts["opened"] + self.counts["reopened"] + self.counts["notices"]

    def lines(self, limit: int | None = None) -> list[str]:
        """One line per change, then a summary; with ``limit``, at most that many change lines."""
        out = [f"opened  {f.level:<6} {f.rule:<8} {f.subject}  {f.detail}" for f in self.opened]
        out += [f"reopened {f.level:<6} {f.rule:<8} {f.subject}  {f.detail}" for f in self.reopened]
        out += [f"card    {'yellow' if n.kind == DEADLINE_NOTICE else 'red':<6} {n.number}  "
                f"case:{n.case_no}  {n.kind} due {n.due_on}" for n in self.notices]
        out += [f"cleared {rule:<8} {subject}" for subject, rule in self.cleared]
        out += [f"withdrawn {rule:<8} {subject}  (disproven by later-arriving events)"
                for subject, rule in self.withdrawn]
        changes = sum(self.counts.values())
        if limit is not None and changes > limit:
            out = out[:limit] + [f"... and {changes - limit} more (list them: hallwatch edge "
                                 "alerts)"]
        elif changes > len(out):
            out.append(f"... and {changes - len(out)} more (list them: hallwatch edge alerts)")
        counts = self.counts
        out.append(f"checked {self.checked} cases at {self.at.astimezone(LOCAL_TZ).isoformat()}: "
                   f"opened {counts['opened']}, reopened {counts['reopened']}, cards "
                   f"{counts['notices']}, cleared {counts['cleared']}, notifications queued "
                   f"{self.notifications}" + (f", withdrawn {counts['withdrawn']}"
                                              if counts["withdrawn"] else ""))
        return out
