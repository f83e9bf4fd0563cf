import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.config import load_box_config
from hub.config import load_hub_config
from provisioning.cli import provision
from standard import identity
from standard.envelope import fingerprint

REPO = Path(__file__).resolve().parents[2]


def run(*args, input=None):
    return CliRunner().invoke(provision, [str(arg) for arg in args], input=input)


def ok(*args, input=None):
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result.output


def printed_fingerprint(output):
    return re.search(r"Hub sign-key fingerprint: ([0-9a-f]{16})", output).group(1)


@pytest.fixture
def hub_dir(tmp_path):
    ok("hub-init", "--dir", tmp_path / "hub")
    return tmp_path / "hub"


def test_hub_init(tmp_path):
    output = ok("hub-init", "--dir", tmp_path / "hub", "--bind", "tcp://0.0.0.0:7700",
                "--public-endpoint", "tcp://hub.foshan.example:7700")
    config = load_hub_config(tmp_path / "hub" / "hub.toml")
    hub = identity.load_hub_identity(config.path(config.identity))
    assert printed_fingerprint(output) == fingerprint(hub.sign_public)
    assert config.bind == "tcp://0.0.0.0:7700"
    assert config.public_endpoint == "tcp://hub.foshan.example:7700"
    assert stat.S_IMODE(os.stat(config.path(config.identity)).st_mode) == 0o600


def test_hub_init_writes_a_systemd_unit_for_the_hub(tmp_path):
    output = ok("hub-init", "--dir", tmp_path / "hub")
    unit = tmp_path / "hub" / "hallwatch-hub.service"
    text = unit.read_text(encoding="utf-8")
    hub_dir = (tmp_path / "hub").resolve()
    assert f"hub serve --config {hub_dir}/hub.toml" in text and "UMask=0077" in text
    assert f"ReadWritePaths={hub_dir}\n" in text
    assert f"ReadOnlyPaths={hub_dir}/keys {hub_dir}/hub.toml" in text
    assert f"sudo install -m 0644 {unit} /etc/systemd/system/hallwatch-hub.service" in output
    unit.unlink()
    assert "hallwatch-hub.service" in ok("hub-unit", "--dir", tmp_path / "hub")
    assert unit.read_text(encoding="utf-8") == text
    if shutil.which("systemd-analyze"):  # the unit is one systemd accepts
        checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                                 text=True, timeout=60)
        problems = [line for line in checked.stderr.splitlines()
                    if "hallwatch-hub.service" in line and "Executable" not in line]
        assert not problems, checked.stderr


def test_hub_init_refuses_to_overwrite(hub_dir):
    result = run("hub-init", "--dir", hub_dir)
    assert result.exit_code == 1
    assert "hub.identity.json already exists; use --force" in result.output
    assert "Traceback" not in result.output
    ok("hub-init", "--dir", hub_dir, "--force")


def test_hub_init_refuses_a_bad_endpoint(tmp_path):
    result = run("hub-init", "--dir", tmp_path / "hub", "--bind", "udp://x")
    assert result.exit_code == 1 and "bind" in result.output


def test_the_city_level_is_a_unit_with_its_own_box(tmp_path, hub_dir):
    output = ok("box", "--hub-dir", hub_dir, "--district", "440600", "--name",
                "佛山市行政服务中心", "--out", tmp_path / "city")
    assert "Box 440600-01 (佛山市本级 佛山市行政服务中心) enrolled" in output
    config = load_box_config(tmp_path / "city" / "box.toml")
    assert (config.district_code, config.district_name) == ("440600", "佛山市本级")


def test_box_numbers_boxes_per_district(tmp_path, hub_dir):
    output = ok("box", "--hub-dir", hub_dir, "--district", "440605", "--name", "南海区行政服务中心",
                "--out", tmp_path / "b1")
    assert "Box 440605-01 (南海区 南海区行政服务中心) enrolled" in output
    assert str(tmp_path / "b1" / "box.toml") in output
    assert "440605-02" in ok("box", "--hub-dir", hub_dir, "--district", "440605", "--name", "二",
                             "--out", tmp_path / "b2")
    assert "440606-01" in ok("box", "--hub-dir", hub_dir, "--district", "440606", "--name", "顺德",
                             "--out", tmp_path / "b3")
    assert "440606-09" in ok("box", "--hub-dir", hub_dir, "--district", "440606", "--name", "顺德",
                             "--out", tmp_path / "b4", "--box-id", "440606-09")

    config = load_box_config(tmp_path / "b1" / "box.toml")
    assert (config.box_id, config.district_name, config.data_dir) == ("440605-01", "南海区", "data")
    assert config.relay.hub_endpoint == "tcp://127.0.0.1:7700"
    listing = ok("list", "--hub-dir", hub_dir)
    assert [line.split("\t")[0] for line in listing.splitlines()] == [
        "440605-01", "440605-02", "440606-01", "440606-09"]


def test_box_copies_the_catalogue(tmp_path, hub_dir):
    catalogue = tmp_path / "items.json"
    catalogue.write_text('{"items": []}', encoding="utf-8")
    ok("box", "--hub-dir", hub_dir, "--district", "440607", "--name", "三水",
       "--out", tmp_path / "b", "--catalogue", catalogue)
    assert (tmp_path / "b" / "catalogue.json").read_text(encoding="utf-8") == '{"items": []}'


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--district", "440699"], "unknown district code '440699'"),
        (["--district", "440605", "--box-id", "bad/id"], "box id 'bad/id'"),
    ],
)
def test_box_user_errors_are_one_line_messages(tmp_path, hub_dir, extra, message):
    result = run("box", "--hub-dir", hub_dir, "--name", "x", "--out", tmp_path / "b", *extra)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def test_box_without_a_hub_is_a_clear_error(tmp_path):
    result = run("box", "--hub-dir", tmp_path / "nohub", "--district", "440605", "--name", "x",
                 "--out", tmp_path / "b")
    assert result.exit_code == 1 and "hub.toml: file not found" in result.output


def test_box_refuses_an_existing_box_folder(tmp_path, hub_dir):
    args = ["box", "--hub-dir", hub_dir, "--district", "440605", "--name", "x",
            "--out", tmp_path / "b"]
    ok(*args)
    result = run(*args, "--box-id", "440605-01")
    assert result.exit_code == 1 and "already exists; use --force" in result.output
    ok(*args, "--box-id", "440605-01", "--force")


def test_offline_request_approve_accept(tmp_path, hub_dir):
    hub_fingerprint = printed_fingerprint(ok("hub-init", "--dir", hub_dir, "--force"))
    box_dir = tmp_path / "box"
    output = ok("request", "--out", box_dir, "--district", "440608", "--name", "高明",
                "--box-id", "440608-01")
    assert "not yet enrolled" in output and (box_dir / "enroll-request.json").exists()

    approval = tmp_path / "approval.json"
    output = ok("approve", "--hub-dir", hub_dir, box_dir / "enroll-request.json", "--out", approval)
    assert "Box 440608-01 enrolled" in output and printed_fingerprint(output) == hub_fingerprint

    output = ok("accept", "--box-dir", box_dir, approval, "--fingerprint", hub_fingerprint,
                "--endpoint", "tcp://10.1.2.3:7700")
    assert printed_fingerprint(output) == hub_fingerprint
    config = load_box_config(box_dir / "box.toml")
    assert config.relay.hub_endpoint == "tcp://10.1.2.3:7700"
    installed = identity.load_hub_public(config.path(config.relay.hub_public))
    assert installed.fingerprint == hub_fingerprint


def test_accept_asks_to_compare_the_fingerprint(tmp_path, hub_dir):
    box_dir = tmp_path / "box"
    ok("request", "--out", box_dir, "--district", "440604", "--name", "禅城",
       "--box-id", "440604-01")
    ok("approve", "--hub-dir", hub_dir, box_dir / "enroll-request.json",
       "--out", tmp_path / "a.json")

    refused = run("accept", "--box-dir", box_dir, tmp_path / "a.json", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert load_box_config(box_dir / "box.toml").relay is None

    wrong = run("accept", "--box-dir", box_dir, tmp_path / "a.json", "--fingerprint", "0" * 16)
    assert wrong.exit_code == 1 and "do not trust this approval" in wrong.output
    assert load_box_config(box_dir / "box.toml").relay is None

    ok("accept", "--box-dir", box_dir, tmp_path / "a.json", input="y\n")
    assert load_box_config(box_dir / "box.toml").relay.hub_endpoint == "tcp://127.0.0.1:7700"


def test_revoke(tmp_path, hub_dir):
    ok("box", "--hub-dir", hub_dir, "--district", "440605", "--name", "x", "--out", tmp_path / "b")
    assert "Box 440605-01 revoked" in ok("revoke", "--hub-dir", hub_dir, "440605-01")
    assert "revoked" in ok("list", "--hub-dir", hub_dir)
    missing = run("revoke", "--hub-dir", hub_dir, "440605-02")
    assert missing.exit_code == 1 and "not enrolled" in missing.output


def test_every_command_has_help_text():
    for name, command in provision.commands.items():
        assert command.help, name
        assert run(name, "--help").exit_code == 0


def test_runs_as_a_real_process(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-c", "from provisioning.cli import provision; provision()",
             *map(str, args)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )

    hub = cli("hub-init", "--dir", tmp_path / "hub")
    assert hub.returncode == 0, hub.stderr
    box = cli("box", "--hub-dir", tmp_path / "hub", "--district", "440605",
              "--name", "南海区行政服务中心", "--out", tmp_path / "box")
    assert box.returncode == 0, box.stderr
    assert "Box 440605-01" in box.stdout
    again = cli("hub-init", "--dir", tmp_path / "hub")
    assert again.returncode == 1
    assert "Error: " in again.stderr and "use --force" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_profile_of_another_district_is_refused_before_enrolling(tmp_path, hub_dir):
    from hallwatch.sim import catalogue_for

    catalogue = tmp_path / "440604.json"
    catalogue.write_text(json.dumps(catalogue_for("440604"), ensure_ascii=False), "utf-8")
    result = run("box", "--hub-dir", hub_dir, "--district", "440604", "--name", "禅城",
                 "--out", tmp_path / "cc", "--catalogue", catalogue,
                 "--profile", REPO / "firmware_cfg" / "hall-4.toml")
    assert result.exit_code == 1 and "1号窗口的部门 440605SCJ" in result.output
    assert not (tmp_path / "cc").exists() and "440604" not in ok("list", "--hub-dir", hub_dir)
    ok("box", "--hub-dir", hub_dir, "--district", "440604", "--name", "禅城", "--out",
       tmp_path / "cc", "--catalogue", catalogue,
       "--profile", REPO / "firmware_cfg" / "halls" / "440604.toml")


def test_a_box_does_not_start_with_a_profile_of_another_district(tmp_path):
    from tests.boxes import write_box_folder

    shutil.copy(REPO / "firmware_cfg" / "hall-4.toml", tmp_path / "hall.toml")
    write_box_folder(tmp_path, "440604", profile="hall.toml")
    answer = subprocess.run([sys.executable, "-m", "hallwatch", "edge", "serve", "--config",
                             str(tmp_path / "box.toml")], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert answer.returncode != 0
    said = answer.stdout + answer.stderr
    assert "4号窗口的部门 440605GAJ 不是本机所属区（440604）事项目录中的部门" in said
    assert "Traceback" not in said
