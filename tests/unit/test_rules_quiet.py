"""The rule pass's shortcut for a case no rule can find anything in (``verdicts.quiet``).

The engine skips calling the eleven rules on a case ``quiet`` says is clean. Here every case of
the generated six-week story (stages skipped, pauses, extensions, fees, refusals, late finishes;
plus copies under an item the catalogue does not know) is judged every third day: where
``quiet`` says so, the full rules find nothing; and a box running the shortcut and a box whose
rules are not the standard objects (so it never takes it) end with the same alerts and notices.
"""

from __future__ import annotations

import datetime as dt
import json

from edge.ingest import ingest_texts
from edge.supervision.rules import RuleEngine
from edge.supervision.verdicts import (
    CASE_RULES,
    CaseRule,
    CaseView,
    RuleSettings,
    case_findings,
    quiet,
    standard_only,
)
from standard.deadlines import CaseFacts
from tests.unit.test_rules import alert_states, at, make_box
from tests.unit.test_rules_fastpath import FIRST, LAST, notices, story


def feed(box, events, day):
    texts = [(n, json.dumps(e, ensure_ascii=False)) for n, e in enumerate(events.get(day, []))]
    if texts:
        assert not ingest_texts(box.store, texts, source="t").rejected


def test_a_quiet_case_is_one_the_full_rules_find_nothing_in(tmp_path):
    box = make_box(tmp_path)
    events = story(3, cases=300)
    day = FIRST
    for sent in sorted(events):
        feed(box, events, sent)
    facts = [CaseFacts.from_json(row["facts"]) for row in box.store.query("select facts from cases")]
    facts += [CaseFacts.from_json(facts[n].to_json().replace(facts[n].item_code, "440605-XXX-999"))
              for n in range(0, len(facts), 10)]
    catalogue = box.engine.board.catalogue
    shortcuts = checked = 0
    for within in (0, 1, 3):
        settings = RuleSettings(near_deadline_working_days=within)
        day = FIRST
        while day <= LAST + dt.timedelta(days=30):
            for case in facts:
                view = CaseView(case, box.engine.board.status(case, day),
                                catalogue.get(case.item_code))
                found = case_findings(view, CASE_RULES.values(), settings)
                if quiet(view, settings):
                    shortcuts += 1
                    assert found == [], (case.case_no, day, found)
                checked += bool(found)
            day += dt.timedelta(days=3)
    assert shortcuts and checked  # both kinds of case were met
    box.store.close()


def test_the_shortcut_changes_no_alert_and_no_notice(tmp_path):
    fast, full = make_box(tmp_path / "fast"), make_box(tmp_path / "full")
    copies = tuple(CaseRule(r.name, r.level, r.description, r.check) for r in CASE_RULES.values())
    old = full.engine
    full.engine = RuleEngine(full.store, old.board, copies, settings=old.settings,
                             focus=old.focus, cards=old.cards)
    assert standard_only(fast.engine.rules) and not standard_only(full.engine.rules)
    events = story(4, cases=150)
    day = FIRST
    while day <= LAST:
        for box in (fast, full):
            feed(box, events, day)
            box.engine.check(at(day.isoformat(), "09:00"))
        assert alert_states(fast) == alert_states(full), day
        assert notices(fast) == notices(full), day
        day += dt.timedelta(days=1)
    assert alert_states(fast) and notices(fast)
    fast.store.close()
    full.store.close()
