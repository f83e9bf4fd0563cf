"""A department that only takes part in joint cases (联办件) is a department of the catalogue.

南海's catalogue lists 消防救援大队 (440605XFJ) only in an item's ``joint_depts``: it leads no
item. Its late share is its own card, so it needs a department user on the box and on the hub
to answer it, and a hall may give it a window. The real commands, on real folders.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hallwatch.cli import main
from tests.boxes import REPO, write_box_folder
from tests.hubkit import write_hub_folder

XFJ = {"dept_code": "440605XFJ", "dept_name": "消防救援大队", "days": 10}
JOINT = "440605-FGJ-010"


def with_participant(catalogue: Path) -> None:
    """Add 消防救援大队 to the joint item's departments (it leads no item)."""
    document = json.loads(catalogue.read_text(encoding="utf-8"))
    (joint,) = [item for item in document["items"] if item["item_code"] == JOINT]
    joint["joint_depts"] = [*joint.get("joint_depts", []), XFJ]
    assert all(item["dept_code"] != XFJ["dept_code"] for item in document["items"])
    catalogue.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def hallwatch(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hallwatch", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def test_a_participating_department_gets_a_user_on_the_box(tmp_path):
    config = write_box_folder(tmp_path)
    with_participant(tmp_path / "catalogue.json")
    added = hallwatch("edge", "user", "add", "nh-xfj", "--role", "department", "--dept",
                      "440605XFJ", "--config", config)
    assert added.returncode == 0, added.stderr
    assert re.search(r"用户 nh-xfj 的密码：\S+", added.stdout)
    assert "440605XFJ" in hallwatch("edge", "user", "list", "--config", config).stdout
    refused = hallwatch("edge", "user", "add", "nh-xyz", "--role", "department", "--dept",
                        "440605XYZ", "--config", config)
    assert refused.returncode == 1 and "部门 XYZ 不在南海区的事项目录中" in refused.stderr


def test_a_participating_department_is_a_hub_scope(tmp_path):
    config = write_hub_folder(tmp_path)
    with_participant(tmp_path / "catalogue.json")

    def add(name: str, scope: str):
        return CliRunner().invoke(main, ["hub", "user", "add", "--config", str(config),
                                         "--name", name, "--role", "department",
                                         "--scope", scope])

    for name, scope in (("nh-xfj", "440605XFJ"), ("city-xfj", "XFJ")):
        added = add(name, scope)
        assert added.exit_code == 0, added.output
    assert "部门 XFJ 不在顺德区的事项目录中" in add("sd-xfj", "440606XFJ").output


def test_a_window_of_a_participating_department_passes_the_profile_check(tmp_path):
    config = write_box_folder(tmp_path)
    with_participant(tmp_path / "catalogue.json")
    profile = (REPO / "firmware_cfg" / "halls" / "440605.toml").read_text(encoding="utf-8")
    first = re.search(r'dept_code = "(440605[A-Z]+)"', profile)
    (tmp_path / "hall.toml").write_text(
        profile[:first.start(1)] + "440605XFJ" + profile[first.end(1):], encoding="utf-8")
    checked = hallwatch("provision", "check", tmp_path / "hall.toml", "--config", config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
