"""Screenshots of the hall manager's pages for docs/box.md (``python -m bench.screenshots``).

Starts a real box (``hallwatch edge serve``) on a temporary folder, feeds it three weeks of
simulated platform history plus today's cases and ratings over HTTP, signs in with the
first-login password the box prints, and saves PNGs of the main pages in docs/screenshots/.
Needs /usr/bin/chromium and CJK fonts (Debian: ``apt-get install chromium fonts-noto-cjk``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

from hallwatch.sim import Platform, catalogue_for
from standard.records import LOCAL_TZ

REPO = Path(__file__).resolve().parent.parent
DISTRICT = "440605"
TOKEN = "screenshots-platform-token-0123456789"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def write_folder(folder: Path) -> Path:
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "platform.token").write_text(TOKEN)
    (folder / "catalogue.json").write_text(
        json.dumps(catalogue_for(DISTRICT), ensure_ascii=False), encoding="utf-8")
    # Years the calendar package does not know yet: Monday to Friday (the hub's file, in a hall).
    (folder / "calendar.json").write_text(json.dumps(
        {"version": 1, "years": {"2027": {}}}), encoding="utf-8")
    # The 4-window example hall on mock pins, with simulated citizens and drawn cameras.
    (folder / "hall-4.toml").write_bytes((REPO / "firmware_cfg" / "hall-4.toml").read_bytes())
    (folder / "box.toml").write_text(
        f'version = 1\nbox_id = "{DISTRICT}-01"\ndistrict_code = "{DISTRICT}"\n'
        'district_name = "南海区"\ncatalogue = "catalogue.json"\n'
        'calendar_overrides = "calendar.json"\nprofile = "hall-4.toml"\nsimulate = true\n'
        '[web]\nport = 0\n', encoding="utf-8")
    return folder / "box.toml"


def start(config: Path) -> tuple[subprocess.Popen, str, str, str]:
    """The box process, its URL and the first administrator's name and one-time password.

    The box never prints that password into a pipe; ``edge user reset`` gives one, as it
    gives the technician one on a terminal.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "hallwatch", "edge", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    while True:
        line = lines.get(timeout=60)
        if " serving http" in line:
            break
    reset = subprocess.run([sys.executable, "-m", "hallwatch", "edge", "user", "reset", "admin",
                            "--config", str(config)], capture_output=True, text=True, cwd=REPO,
                           check=True)
    password = re.search(r"的密码：(\S+)", reset.stdout)[1]
    return process, line.strip().rsplit(" ", 1)[-1], "admin", password


def post(url: str, path: str, records: list[dict]) -> dict:
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    request = urllib.request.Request(url + path, data=body, method="POST", headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def feed(url: str) -> None:
    platform = Platform(DISTRICT)
    now = dt.datetime.now(dt.timezone.utc)
    history = list(platform.backlog(now - dt.timedelta(days=21), 21, 14))
    post(url, "/api/v1/platform/events", history)
    opening = now.astimezone(LOCAL_TZ).replace(hour=8, minute=40, second=0, microsecond=0)
    today: list[dict] = []
    for n in range(16):
        today += platform.new_case(min(opening + dt.timedelta(minutes=11 * n), now))
    post(url, "/api/v1/platform/events", today)
    cases = sorted({e["case_no"] for e in today})
    levels = [5, 5, 5, 4, 5, 4, 3, 5, 2, 5, 5, 4, 1, 5, 5, 4]
    ratings = [{"evaluation_id": f"shot-{n}", "channel": "二维码", "case_no": case_no,
                "level": level, "rated_at": now.astimezone(LOCAL_TZ).isoformat()}
               for n, (case_no, level) in enumerate(zip(cases, levels))]
    post(url, "/api/v1/evaluations", ratings)


def shoot(url: str, user: str, password: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN", viewport={"width": 1440, "height": 900})

        def save(name: str, full: bool = True) -> None:
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=full)
            saved.append(path)

        page.goto(f"{url}/login")
        save("login", full=False)
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        # A one-time password: the first sign-in sets the administrator's own.
        page.fill("input[name=current]", password)
        page.fill("input[name=new]", "screenshot-admin-password")
        page.fill("input[name=repeat]", "screenshot-admin-password")
        page.click("button[type=submit]")
        expect(page.locator("[data-window]").first).to_be_visible()
        save("board")
        page.goto(f"{url}/cases")
        save("cases", full=False)
        page.locator("tr.light-row-red a").first.click()
        expect(page.locator("ol.timeline")).to_be_visible()
        save("case")
        page.goto(f"{url}/alerts")
        save("alerts", full=False)
        page.locator("tr[data-alert] a").first.click()
        form = page.locator("form.action-acknowledge")
        if form.count():
            form.locator("textarea").fill("已转承办科室核实，请于今日内说明理由")
            form.get_by_role("button").click()
        save("alert")
        page.goto(f"{url}/evaluations?period=today")
        save("evaluations")
        page.locator("a[href*='/evaluations/reviews/']").first.click()
        expect(page.locator("h1")).to_contain_text("差评")
        save("review")
        page.goto(f"{url}/presence")
        expect(page.locator("svg.chart").first).to_be_visible()
        save("presence")
        page.goto(f"{url}/charts")
        save("charts")
        page.goto(f"{url}/health")
        save("health")
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        process, url, user, password = start(write_folder(Path(tmp)))
        try:
            feed(url)
            for path in shoot(url, user, password, args.out):
                print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
