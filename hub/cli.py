"""``hallwatch hub ...``: run the city hub and inspect what it holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hub.options import command_config as _config
from hub.options import open_store
from hub.store import HubStore, StorageError
from standard.configfile import ConfigError
from standard.lazycommands import LazyGroup

config_option = click.option(
    "--config", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="hub.toml")


# Users, scores, views and the catalogue (hub/users_cli.py, hub/scores_cli.py, ...): imported
# when used, so that 'hub status' does not load the web server's user store.
DASHBOARD_COMMANDS = {
    "user": "hub.users_cli:user", "score": "hub.scores_cli:score",
    "publish-scores": "hub.scores_cli:publish_scores",
    "rebuild-views": "hub.scores_cli:rebuild_views", "catalogue": "hub.catalogue_cli:catalogue",
}


@click.group(cls=LazyGroup, lazy=DASHBOARD_COMMANDS)
def hub() -> None:
    """The city hub (市电子监察中心): receives every district box's records."""


bind_option = click.option(
    "--bind", default=None, metavar="tcp://HOST:PORT",
    help="Where boxes connect, instead of hub.toml's bind (a second receiver's port).")


def _run_hub(config_path: Path, *, receive_only: bool, bind: str | None) -> None:
    from hub.app import build_hub, run
    from hub.storeguard import HubStoreLost
    from standard.catalogue import CatalogueError
    from standard.identity import IdentityError

    if bind is not None and not bind.startswith("tcp://"):
        raise click.BadParameter("must start with tcp://", param_hint="--bind")
    try:
        built = build_hub(_config(config_path), receive_only=receive_only, bind=bind)
        run(built, ready=lambda line: (click.echo(line), sys.stdout.flush()))
    except (IdentityError, CatalogueError, ConfigError, StorageError) as exc:
        raise click.ClickException(str(exc)) from None
    except HubStoreLost as exc:  # no restart loop: hallwatch-hub.service stops on 78
        error = click.ClickException(str(exc))
        error.exit_code = 78
        raise error from None


@hub.command()
@config_option
@bind_option
def serve(config_path: Path, bind: str | None) -> None:
    """Run the hub: the receiver for boxes (and the web pages), until Ctrl-C or SIGTERM."""
    _run_hub(config_path, receive_only=False, bind=bind)


@hub.command()
@config_option
@bind_option
def receive(config_path: Path, bind: str | None) -> None:
    """Run only a receiver for boxes (no pages, no background jobs but the one-off fill of
    the staff index a migration left pending), until Ctrl-C or SIGTERM.

    Several receivers, on different ports or machines, can share one PostgreSQL database
    ([database] url): each (box, seq) is applied once whichever receiver gets it, and boxes
    list every receiver in [relay] hub_endpoints to fail over between them. One 'hub serve'
    runs the pages and the background jobs for all of them.
    """
    _run_hub(config_path, receive_only=True, bind=bind)


@hub.command()
@config_option
def portal(config_path: Path) -> None:
    """Run only the public portal (公众门户), on [portal] host and port, until Ctrl-C.

    For the internet side (外网): no dashboard, no receiver, no users. It opens the database
    with the portal's access only: [database] portal_url on PostgreSQL (see 'hub portal-role'),
    a connection that may write only complaints on SQLite.
    """
    from hub.app import wait_for_signal
    from hub.portal import build_portal
    from standard.catalogue import CatalogueError

    config = _config(config_path)
    try:
        server = build_portal(config)
        server.start()
    except (CatalogueError, ConfigError, StorageError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"公众门户未启动：{config.portal.host}:{config.portal.port} "
                                   f"无法监听（{exc.strerror}）；请修改 hub.toml 的 [portal] port"
                                   f" (portal not served: {exc})") from None
    click.echo(f"hallwatch hub portal serving {server.url}/portal/")
    sys.stdout.flush()
    try:
        wait_for_signal()
    finally:
        server.stop()


@hub.command("portal-role")
@config_option
@click.option("--role", default="hallwatch_portal", show_default=True,
              help="The PostgreSQL role the portal connects as.")
def portal_role(config_path: Path, role: str) -> None:
    """Print the SQL that gives a PostgreSQL role the portal's access (and nothing more).

    Run it as the owner of the hub's tables, after 'hub migrate', e.g.
    'hallwatch hub portal-role --config hub.toml | psql hallwatch'; then set
    [database] portal_url on the portal's machine to connect as that role.
    """
    import re

    from hub.portal import grant_sql

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise click.BadParameter("a lower-case SQL name (letters, digits, _)",
                                 param_hint="--role")
    _config(config_path)
    click.echo(f"create role {role} login;  -- if it does not exist; its password in .pgpass")
    click.echo(grant_sql(role), nl=False)


@hub.command()
@config_option
@click.option("--confirm", is_flag=True,
              help="Really do it; without it, only say what would be done.")
@click.option("--reason", default="", help="Why (kept in data/reinit.log).")
def reinit(config_path: Path, confirm: bool, reason: str) -> None:
    """Let the hub make a new, empty database after its own was lost or damaged.

    The old file is kept (renamed hub.db.reinit-<time>). Stop the hub first; afterwards fetch
    what each box still holds with 'hallwatch hub resend BOX_ID --from 1'.
    """
    from hub.storeguard import HubStoreLost, reinit_hub_store

    config = _config(config_path)
    if not confirm:
        click.echo(f"{config.db_path} would be kept as {config.db_path.name}.reinit-<time> and "
                   "the hub would start with a new database. Add --confirm to do it.")
        sys.exit(1)
    try:
        kept = reinit_hub_store(config, reason=reason or "(no reason given)")
    except (HubStoreLost, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"old database kept as {kept or '(none)'}; the hub makes a new one at its next "
               "start. Then: hallwatch hub resend BOX_ID --from 1, for each box.")


@hub.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per box.")
def status(config_path: Path, as_json: bool) -> None:
    """Each box: last seen, last sequence applied, records held, backlog, chain state.

    Without --json, the latest refused handshakes and messages follow, each counted once per
    sender, reason and episode, then the 12345 records kept in quarantine (the latest five) and
    the 12345 intake's open 数据冲突 alerts.
    """
    store = open_store(_config(config_path))
    rows = store.box_states()
    if as_json:
        configs = store.config_states()
        for row in rows:
            row["configs"] = configs.get(row["box_id"], {})
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    click.echo(f"{'box_id':<14}{'district':<10}{'last_seen':<31}{'last_seq':>9}{'records':>9}"
               f"{'backlog':>9}  chain")
    for row in rows:
        click.echo(f"{row['box_id']:<14}{row['district']:<10}{row['last_seen'] or '':<31}"
                   f"{row['last_seq']:>9}{row['records']:>9}{row['backlog']:>9}  {row['chain']}")
    refused = store.recent_refusals()
    if refused:
        click.echo("\nrefused (latest first):")
    for row in refused:
        sender = row["sender"] if len(row["sender"]) <= 24 else row["sender"][:23] + "…"
        click.echo(f"  {row['last_at']:<31}{sender:<25}x{row['count']:<6}{row['reason']}")
    _quarantined_complaints(store)
    _hotline_alerts(store)
    _staff_backfill(store)


def _staff_backfill(store) -> None:
    """The staff index's fill of the cases stored before migration 15, while pending."""
    from hub.projections.staffbackfill import pending

    progress = pending(store)
    if progress is not None:
        click.echo(f"\nstaff index (hub_case_staff) backfill: {progress.percent}% (case id "
                   f"{progress.done} of {progress.target}); 'hub migrate --backfill' finishes it")


def _hotline_alerts(store) -> None:
    """The 12345 intake's open 数据冲突 alerts (hub/complaint_conflicts.py), one line each."""
    from hub import complaint_conflicts
    from hub.services import Scope

    for alert in complaint_conflicts.open_alerts(store, Scope.city()):
        tickets = ", ".join(ticket for ticket, _tracking in json.loads(alert["tickets"]))
        click.echo(f"\n12345 data conflict alert open ({alert['district_code'] or 'city'}):"
                   f" {alert['conflicts']} re-sent ticket(s) with other content since"
                   f" {alert['opened_at']}, latest {tickets}; clear it on the complaints page")


def _quarantined_complaints(store) -> None:
    """The 12345 intake's quarantine: how many records it refused, and the latest five."""
    from hub import complaint_quarantine
    from hub.services import Scope

    total = complaint_quarantine.count(store, Scope.city())
    if not total:
        return
    click.echo(f"\n12345 records in quarantine: {total} (latest first; the complaints page lists "
               "them too)")
    for row in complaint_quarantine.recent(store, Scope.city(), limit=5):
        where = "body" if row["position"] < 0 else f"#{row['position']}"
        reason = row["reason"] if len(row["reason"]) <= 90 else row["reason"][:89] + "…"
        click.echo(f"  {row['received_at']:<34}{where:<6}{row['ticket_no'] or '-':<24}{reason}")


@hub.command()
@config_option
@click.option("--backfill", is_flag=True, help="Then fill the staff index of the cases stored "
              "before migration 15 to the end, here (hub processes otherwise do it in the "
              "background), printing the progress.")
def migrate(config_path: Path, backfill: bool) -> None:
    """Bring the hub's database schema up to date (hub serve also does it at start-up).

    Creates the database's tables on first use. On PostgreSQL, run it once before starting
    several receivers, and as the role that owns the tables.
    """
    from hub.storage.migrations import LATEST, migrate as run_migrations

    from hub.storeguard import HubStoreLost, check_hub_store

    config = _config(config_path)
    store = HubStore(config.store_target)
    try:
        check_hub_store(config)
        store.open(migrate_schema=False)
        applied = run_migrations(store.engine)
        done = ", ".join(map(str, applied)) if applied else "none (already up to date)"
        click.echo(f"{store.engine.description}: schema version {LATEST}; migrations applied:"
                   f" {done}")
        if backfill:
            from hub.projections.staffbackfill import fill_all

            shown: set[int] = set()

            def report(progress) -> None:  # one line per percent
                if progress.percent not in shown:
                    shown.add(progress.percent)
                    click.echo(f"staff index backfill: {progress.percent}% (case id "
                               f"{progress.done} of {progress.target})")

            fill_all(store.engine, report=report)
            click.echo("staff index backfill: done")
    except (StorageError, HubStoreLost) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


@hub.command()
@config_option
@click.argument("box_id")
@click.option("--from", "from_seq", required=True, type=click.IntRange(min=1),
              help="The first sequence number the box should send again.")
def resend(config_path: Path, box_id: str, from_seq: int) -> None:
    """Ask a box to send its records again from --from (repair after a hub restore).

    The running hub sends the request when the box is next connected; records the hub
    already holds are not applied twice.
    """
    from standard.boxregistry import load_enrolled
    from standard.identity import IdentityError

    config = _config(config_path)
    try:
        enrolled = load_enrolled(config)
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    if box_id not in enrolled:
        raise click.ClickException(
            f"box {box_id!r} is not enrolled at {config.path(config.boxes_dir)}")
    store = open_store(config)
    try:
        number = store.add_command(box_id, "resend", {"from_seq": from_seq})
    finally:
        store.close()
    click.echo(f"resend request {number} queued: box {box_id} from seq {from_seq}")


@hub.command()
@config_option
@click.option("--kind", required=True, type=click.Choice(["catalogue", "calendar", "lights"]),
              help="What the document is: the item catalogue, calendar overrides or light "
                   "thresholds.")
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def publish(config_path: Path, kind: str, document: Path) -> None:
    """Sign DOCUMENT (JSON) with the hub's key and push it to every box as the next version."""
    from hub.publish import PublishError, publish_document

    config = _config(config_path)
    store = open_store(config)
    try:
        doc = publish_document(config, store, kind, document)
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(f"{kind} version {doc['doc_version']} published; connected boxes get it "
               "within a few seconds, the others when they reconnect")


@hub.command()
@config_option
@click.argument("box_id")
def revoke(config_path: Path, box_id: str) -> None:
    """Revoke BOX_ID: the running hub refuses its connection and batches within seconds.

    Records already applied stay. To take the box back, enroll it again (provision approve
    --force, or provision box --force).
    """
    from standard.boxregistry import revoke_box
    from standard.identity import IdentityError

    try:
        revoked = revoke_box(_config(config_path), box_id)
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Box {revoked.box_id} revoked at {revoked.revoked_at}; the running hub refuses "
               "it within a few seconds")


@hub.command("enroll-rotation")
@config_option
@click.argument("request", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def enroll_rotation(config_path: Path, request: Path) -> None:
    """Enroll a box's new keys from REQUEST (rotate-request.json, signed with its old key)."""
    from standard.envelope import fingerprint
    from standard.identity import IdentityError
    from standard.rotation import enroll_rotation as enroll

    try:
        box, changed = enroll(_config(config_path), request)
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    if not changed:
        click.echo(f"Box {box.box_id} already has these keys; nothing to do")
        return
    click.echo(f"Box {box.box_id}: new keys enrolled (sign-key fingerprint "
               f"{fingerprint(box.sign_public)}); it reconnects with them within a minute")


@hub.command()
@config_option
@click.option("--show", is_flag=True,
              help="Also print the token (for pasting into the 12345 system's settings).")
def token(config_path: Path, show: bool) -> None:
    """Write a new bearer token for the 12345 hotline system's API (POST /api/v1/complaints).

    The old token stops working at once; no restart is needed. The file is 0600.
    """
    from hub.api_token import new_token, token_path

    path = token_path(_config(config_path))
    value = new_token(path)
    click.echo(f"12345 接口令牌已写入 {path}（0600）；旧令牌即刻失效 "
               f"(new API token written to {path}; the old one no longer works)")
    if show:
        click.echo(value)
