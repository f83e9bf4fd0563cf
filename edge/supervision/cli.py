"""``hallwatch edge check | alerts | notice``: supervision from a shell.

Thin commands: each parses its options, calls one library function and turns the library's
errors into ``click.ClickException``. edge/cli.py adds ``COMMANDS`` to the ``edge``
group.

Example::

    hallwatch edge check --db box.db --catalogue catalogue.json --at 2026-11-09T09:00+08:00
    hallwatch edge alerts --db box.db --state open --json
    hallwatch edge notice --db box.db 南海电监〔2026〕1号
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from edge.options import Target, parse_at, target_options
from edge.store import Store
from edge.storeidentity import StoreLost
from edge.storetx import StoreError, utc_now
from edge.supervision.alerts import STATES, SUPERVISION_SCHEMA
from edge.supervision.config import NotifySection, RulesSection
from edge.supervision.service import Supervision
from edge.supervision.wiring import build_supervision
from standard.deadlines import LightSettings


def open_store(target: Target) -> Store:
    """The target's store with the supervision tables (a bare --db file gets them too)."""
    store = Store(target.db, box_id=target.box_id, marker=target.marker)
    store.extra_schema.append(SUPERVISION_SCHEMA)
    try:
        return store.open()
    except (StoreError, StoreLost) as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@target_options
@click.option("--at", "at_text", help="Run as of this ISO date-time (default: now); "
              "a time without an offset is local (+08:00).")
@click.option("--list-limit", default=200, show_default=True, type=click.IntRange(min=0),
              help="Print at most this many opened, cleared and carded lines (a first check "
              "of a large history can find many thousands); the summary line counts them all.")
def check(target: Target, at_text: str | None, list_limit: int) -> None:
    """Run one pass of the supervision rules, exactly as the schedule does, and print what it
    opened, cleared and carded.

    It judges every case waiting to be judged (loaded by `edge ingest`, or changed while the
    box was stopped), open or finished, then every open case. A terminal sees its progress on
    stderr. Notifications are queued (for the notifiers in --config) and sent by the running box.
    """
    from edge.cases import CaseBoard

    at = parse_at(at_text)
    config = target.config
    settings = LightSettings(**config.lights.model_dump()) if config else LightSettings()
    catalogue, calendar = target.catalogue(), target.calendar()
    data_dir = config.path(config.data_dir) if config else Path(target.db).parent
    with open_store(target) as store:
        board = CaseBoard(store, catalogue, calendar, settings)
        # Without --config nothing is notified: there are no contacts or notifiers to use.
        parts = build_supervision(
            store, board, utc_now, rules=config.rules if config else RulesSection(),
            contacts=config.contacts if config else [],
            notify=config.notify if config else NotifySection(log=False),
            box_id=target.box_id, data_dir=data_dir)
        with progress_line() as progress:
            result = parts.rules.check(at, progress=progress)
    for line in result.lines(limit=list_limit):
        click.echo(line)


@contextmanager
def progress_line() -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback that redraws one line on stderr; None when stderr is no terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        click.echo(f"\r判定办件 judged {done:,} / {total:,} cases ({rate:,.0f}/s)", err=True,
                   nl=False)

    try:
        yield show
    finally:
        click.echo("", err=True)


@click.command()
@target_options
@click.option("--state", type=click.Choice(STATES), help="Only alerts in this state.")
@click.option("--level", type=click.Choice(["yellow", "red"]), help="Only this level.")
@click.option("--case", "case_no", help="Only this case's alerts.")
@click.option("--cards", is_flag=True, help="Only alerts with a yellow or red card.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
def alerts(target: Target, state: str | None, level: str | None, case_no: str | None,
           cards: bool, as_json: bool) -> None:
    """List alerts and cards (oldest first): case, rule, level, state, card and notice numbers."""
    with open_store(target) as store:
        rows = Supervision(store, utc_now).alerts(state=state, level=level, case_no=case_no,
                                                  card="any" if cards else None, limit=1_000_000)
    rows.reverse()
    if as_json:
        for alert in rows:
            data = alert.as_dict()
            data.pop("events")
            click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{'id':>5}  {'case_no':<20}{'rule':<10}{'level':<7}{'state':<13}{'card':<7}"
               f"notices / subject")
    for alert in rows:
        where = alert.case_no or alert.subject
        click.echo(f"{alert.id:>5}  {where:<20}{alert.rule:<10}{alert.level:<7}{alert.state:<13}"
                   f"{alert.card or '':<7}{' '.join(alert.notices)}")


@click.command()
@target_options
@click.argument("number")
def notice(target: Target, number: str) -> None:
    """Print one notice, as issued, e.g. 南海电监〔2026〕17号."""
    from edge.supervision.noticebook import load_notice

    with open_store(target) as store, store.read() as db:
        found = load_notice(db.conn, number.strip())
    if found is None:
        raise click.ClickException(f"没有文号为 {number} 的通知书 (no notice numbered {number}; "
                                   "list them with `hallwatch edge alerts --cards`)")
    click.echo(found.text, nl=False)


COMMANDS = (check, alerts, notice)
