"""The hub: six units, a department of one district as a user's scope, scopes checked against
the catalogue, and a card's department answers and 过错责任 shown in Chinese."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from hallwatch.cli import main
from hallwatch.hubsim import SimBox, feed
from standard.records import LOCAL_TZ
from tests.hubkit import add_users, checkpoint, seeded_hub, sign_in
from web.hub import create_app


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    dashboard = seeded_hub(folder)
    passwords = add_users(dashboard)
    dashboard.users.add("nh-scj", "department", "440605SCJ", password="nh-scj-password-1")
    passwords["nh-scj"] = "nh-scj-password-1"
    checkpoint(dashboard)
    app = create_app(dashboard, {"TESTING": True}, announce=lambda *first: None)
    return folder, dashboard, app, passwords


def test_hub_user_add_names_the_wrong_part_of_a_scope(hub):
    folder = hub[0]
    config = str(folder / "hub.toml")

    def add(name, *args):
        return CliRunner().invoke(main, ["hub", "user", "add", "--config", config, "--name",
                                         name, *args])

    for args, message in ((("--role", "department", "--scope", "440605XYZ"),
                           "部门 XYZ 不在南海区的事项目录中"),
                          (("--role", "department", "--scope", "440699SCJ"),
                           "区代码 440699 不存在"),
                          (("--role", "department", "--scope", "NOPE"),
                           "部门 NOPE 不在任何区的事项目录中"),
                          (("--role", "district", "--scope", "440609"), "440600 佛山市本级")):
        refused = add("wrong", *args)
        assert refused.exit_code == 1 and message in refused.output, refused.output
    assert "wrong" not in CliRunner().invoke(main, ["hub", "user", "list", "--config",
                                                    config]).output
    for name, args in (("sd-scj", ("--role", "department", "--scope", "440606SCJ")),
                       ("city-hall", ("--role", "district", "--scope", "440600")),
                       ("city-scj", ("--role", "department", "--scope", "SCJ"))):
        added = add(name, *args)
        assert added.exit_code == 0, added.output
    listing = CliRunner().invoke(main, ["hub", "user", "list", "--config", config]).output
    assert "440606SCJ" in listing and "440600" in listing


def test_a_district_department_sees_only_its_own_cases(hub):
    _, dashboard, app, passwords = hub
    web = sign_in(app, "nh-scj", passwords["nh-scj"]).client
    page = web.get("/cases?state=all").get_data(as_text=True)
    other = dashboard.data.query("select case_no from hub_cases where district_code = '440605'"
                                 " and dept_suffix = 'WJJ' limit 1")[0]["case_no"]
    own = dashboard.data.query("select case_no from hub_cases where district_code = '440605'"
                               " and dept_suffix = 'SCJ' limit 1")[0]["case_no"]
    assert "南海区" in page and "顺德区" not in page
    assert web.get(f"/cases/{other}").status_code == 404
    assert web.get(f"/cases/{own}").status_code == 200
    assert web.get("/halls").status_code in (403, 404)


def test_answers_review_and_liability_reach_the_hub_pages(hub):
    _, dashboard, app, passwords = hub
    store = dashboard.data.store
    alert = store.query("select * from hub_alerts where box_id = '440605-01' and card is not"
                        " null and dept_suffix = 'SCJ' order by alert_id limit 1")[0]
    box = SimBox.continuing(store, "440605-01", "440605")
    at = dt.datetime(2026, 11, 20, 9, 0, tzinfo=LOCAL_TZ)
    stamp = at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
    steps = [("南海区市场监管局（nh-scj）", "explain", "系统升级停机导致延误。"),
             ("王芳（wangfang）", "accept_explanation", "理由成立"),
             ("李明（liming）", "liability", "通报批评：超期办结")]
    records = []
    for n, (actor, action, note) in enumerate(steps, start=1):
        records.append(box.record("alert_event", {
            "id": 100_000 + n, "alert_id": alert["alert_id"], "at": stamp, "actor": actor,
            "action": action, "from_state": "open", "to_state": "accepted", "note": note}, at))
    row = {key: alert[key] for key in ("subject", "rule", "level", "detail", "opened_at",
                                       "case_no", "dept_code", "card", "card_due", "cleared_at")}
    records.append(box.record("alert", {**row, "id": alert["alert_id"], "state": "accepted",
                                        "updated_at": stamp, "liability": "criticism"}, at))
    feed(store, box, records)
    assert store.query("select liability from hub_alerts where box_id = ? and alert_id = ?",
                       (alert["box_id"], alert["alert_id"]))[0]["liability"] == "criticism"
    chief = sign_in(app, "chief", passwords["chief"]).client
    page = chief.get(f"/cases/{alert['case_no']}").get_data(as_text=True)
    assert "理由已采纳" in page and "通报批评" in page and "采纳说明" in page
    assert "系统升级停机导致延误。" in page and ">accepted<" not in page
    cards = chief.get("/supervision").get_data(as_text=True)
    assert "通报批评" in cards and "理由已采纳" in cards
