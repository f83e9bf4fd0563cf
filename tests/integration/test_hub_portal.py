"""The public portal apart (hallwatch hub portal): its own app and listener, the portal's pages
only, a database access that reads published data and writes only complaints; on SQLite and on
PostgreSQL with a restricted role."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request

import pytest
import tomli_w

from hub.config import load_hub_config
from hub.portal import PortalServer, grant_sql
from tests.hubkit import REPO, captcha_answer, checkpoint, copy_hub, seeded_hub, write_hub_folder
from web.hub import create_app
from web.portal.app import create_portal_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, hub_module_database):
    folder = tmp_path_factory.mktemp("seed")
    dashboard = seeded_hub(folder, database=hub_module_database)
    case_no = dashboard.data.store.query("select case_no from hub_cases order by id limit 1"
                                         )[0]["case_no"]
    checkpoint(dashboard)
    dashboard.data.store.close()
    return folder, case_no


def _portal_config(folder, role_url: str | None):
    """hub.toml as the portal's machine has it: the dashboard does not serve the portal."""
    import tomllib

    path = folder / "hub.toml"
    settings = tomllib.loads(path.read_text(encoding="utf-8"))
    settings["web"]["serve_portal"] = False
    if role_url:
        settings["database"]["portal_url"] = role_url
    path.write_text(tomli_w.dumps(settings), encoding="utf-8")
    return load_hub_config(path)


def _restricted_role(url: str) -> str:
    """A login role with the portal's grants on the database at ``url``; its URL."""
    import psycopg

    role = "portal_" + url.rsplit("/", 1)[1][-8:]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create role {role} login")
        conn.execute(grant_sql(role))
    return url.replace("//postgres@", f"//{role}@", 1)


@pytest.fixture
def portal(seeded, tmp_path):
    folder, case_no = seeded
    dashboard = copy_hub(folder, tmp_path / "hub")
    dashboard.data.store.close()
    url = load_hub_config(tmp_path / "hub" / "hub.toml").database.url
    config = _portal_config(tmp_path / "hub", _restricted_role(url) if url else None)
    server = PortalServer(config)
    server.store.open(migrate_schema=False)
    yield server, create_portal_app(server.dashboard, {"TESTING": True}), case_no
    server.store.close()


def test_the_portal_app_serves_the_portal_and_nothing_else(portal):
    server, app, case_no = portal
    client = app.test_client()
    for path in ("/portal/", "/portal/guide", "/portal/scores", "/portal/rates",
                 "/portal/complaints", "/portal/complaints/replies", "/portal/laws"):
        assert client.get(path).status_code == 200, path
    assert client.get("/").headers["Location"].endswith("/portal/")
    case = client.get(f"/portal/cases?no={case_no}")
    assert case.status_code == 200 and case_no in case.get_data(as_text=True)
    for path in ("/login", "/cases", "/users", "/halls", "/scores"):
        assert client.get(path).status_code == 404, path


def test_a_complaint_is_written_and_nothing_else_can_be(portal):
    server, app, _ = portal
    client = app.test_client()
    page = client.get("/portal/complaints/new").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    token = re.search(r'name="captcha_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf, "captcha_token": token, "kind": "建言", "district": "440605",
            "subject": "延长周六办事时间", "content": "建议周六上午开放窗口", "publish_ok": "1",
            "captcha": captcha_answer(app.secret_key, token)}
    assert client.post("/portal/complaints/new", data={**form, "csrf_token": "x"}
                       ).status_code == 400
    done = client.post("/portal/complaints/new", data=form).get_data(as_text=True)
    number = re.search(r'id="tracking-number">(TS\d{8}[A-Z0-9]{6})<', done).group(1)
    assert "待受理" in client.get(f"/portal/complaints/track?no={number}").get_data(as_text=True)
    store = server.store
    assert store.query("select publish_ok, channel from complaints where tracking_no = ?",
                       (number,)) == [{"publish_ok": 1, "channel": "portal"}]
    for statement in ("update hub_cases set light = 'green'", "delete from unit_scores",
                      "insert into boxes (box_id, district_code) values ('x', 'y')"):
        with pytest.raises(Exception, match="not authorized|permission denied"):
            with store.transaction() as conn:
                conn.execute(statement)
    # the raw records are not published, nor who handled a case (办件监察's staff search), nor
    # the 12345 records kept in quarantine (with their contacts)
    for table in ("records", "boxes", "tamper_alerts", "hub_case_staff", "complaint_quarantine"):
        with pytest.raises(Exception, match="not authorized|permission denied"):
            store.query(f"select count(*) as n from {table}")


def test_the_dashboard_serves_the_portal_only_when_configured(tmp_path):
    write_hub_folder(tmp_path / "apart", serve_portal=False)
    write_hub_folder(tmp_path / "together")
    from tests.hubkit import open_dashboard

    apart = create_app(open_dashboard(tmp_path / "apart"), {"TESTING": True},
                       announce=lambda *first: None)
    together = create_app(open_dashboard(tmp_path / "together"), {"TESTING": True},
                          announce=lambda *first: None)
    assert apart.test_client().get("/portal/").status_code == 404
    assert together.test_client().get("/portal/").status_code == 200


def test_hub_portal_runs_as_its_own_process(tmp_path):
    config = write_hub_folder(tmp_path / "hub", serve_portal=False)
    from tests.hubkit import open_dashboard

    open_dashboard(tmp_path / "hub").data.store.close()  # the database exists (hub migrate)
    config.write_text(config.read_text(encoding="utf-8") + "\n[portal]\nport = 0\n",
                      encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "hallwatch", "hub", "portal", "--config",
                                str(config)], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        assert "hallwatch hub portal serving" in line, line + process.stdout.read()
        url = line.split()[-1]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert "政务服务公众门户" in response.read().decode("utf-8")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
