"""Supervision (电子监察) on the box: rules judge every case, alerts record what they find,
cards and numbered notices escalate what is not put right, notifiers tell the people in charge.

The rest of the box and the pages use only the names below. The modules:

- ``alerts``: alert records, their audit trail and cards, written inside store transactions;
- ``rules``: the rule pass over changed cases (``RuleEngine``) and the rule functions;
- ``passplan``: what a pass's findings change in the stored alerts;
- ``checker``: the background checker that takes the cases the platform just changed;
- ``notices``: yellow/red cards and what their notices (限期办理通知书, 整改建议书) say;
- ``noticebook``: the notices as issued: gap-free numbers, rows kept unchanged, printing;
- ``focus``: 重点监察 counts per department;
- ``schedule``: the periodic pass and the day-start pass;
- ``clockwatch``: the box clock's sanity alert;
- ``integrity``: alerts about the data itself: re-sent records that contradict the ones
  kept, a damaged box database, a hub ahead of the box's own sequence;
- ``notify/``: notifiers (log, webhook, GSM modem) and their delivery queue;
- ``lifecycle``: which step may come next (the department's 说明理由 and 整改报告, their
  review, 过错责任), from the alert and its audit trail;
- ``service``: what the pages call (list, acknowledge, explain, report, accept or return,
  liability, close, escalate);
- ``config`` and ``wiring``: the box.toml sections and building the parts from them;
- ``cli``: ``hallwatch edge check | alerts | notice``.

Example::

    parts = build_supervision(store, board, clock, rules=RulesSection(), contacts=[],
                              notify=None, box_id="440605-01", data_dir=Path("data"))
    parts.rules.check(now)
    parts.supervision.alerts(state="open")
"""

from edge.lazyexports import lazy_exports

# The public names by module; each module is imported when one of its names is used.
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "edge.supervision.alerts": ["ACTION_NAMES", "ACTIVE_STATES", "CARD_NAMES", "LEVEL_NAMES",
        "LIABILITY_OUTCOMES", "STATE_NAMES", "STATES", "SUPERVISION_SCHEMA", "SYSTEM", "Alert",
        "AlertNotFound", "Finding", "NoticeNotFound", "SupervisionError", "open_alert",
        "raise_condition", "resolve_condition", "subject_label"],
    "edge.supervision.checker": ["RuleChecker"],
    "edge.supervision.clockwatch": ["clock_watch"],
    "edge.supervision.config": ["ContactSection", "NotifySection", "RulesSection"],
    "edge.supervision.integrity": ["conflict_alert", "sequence_alert", "store_alert"],
    "edge.supervision.rules": ["RuleEngine"],
    "edge.supervision.schedule": ["Scheduler"],
    "edge.supervision.service": ["Supervision"],
    "edge.supervision.wiring": ["SupervisionParts", "build_supervision"],
})
