"""Box bundles: made from a box folder, opened only with the install code, installed on a
temporary root with the right files, modes, ownership and systemd unit."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.config import load_box_config
from edge.store import Store
from hallwatch.sim import catalogue_for
from provisioning import enrollment
from provisioning.bundle import (
    BundleError,
    WrongInstallCode,
    make_bundle,
    normalize_code,
    open_bundle,
)
from provisioning.cli import provision
from provisioning.install import InstallError, install_bundle, service_user
from standard import identity

REPO = Path(__file__).resolve().parents[2]
CALENDAR = {"version": 1, "years": {"2027": {"holidays": ["2027-01-01"], "workdays": []}}}


def run(*args) -> str:
    result = CliRunner().invoke(provision, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.output


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def box_dir(tmp_path) -> Path:
    """A box enrolled through the CLI with a profile, catalogue and calendar overrides."""
    run("hub-init", "--dir", tmp_path / "hub")
    (tmp_path / "catalogue.json").write_text(json.dumps(catalogue_for("440605"),
                                                        ensure_ascii=False), encoding="utf-8")
    (tmp_path / "calendar.json").write_text(json.dumps(CALENDAR), encoding="utf-8")
    run("box", "--hub-dir", tmp_path / "hub", "--district", "440605", "--name", "南海区行政服务中心",
        "--out", tmp_path / "box", "--catalogue", tmp_path / "catalogue.json",
        "--profile", REPO / "firmware_cfg" / "hall-4.toml",
        "--calendar-overrides", tmp_path / "calendar.json")
    return tmp_path / "box"


def test_provision_box_writes_a_complete_folder(box_dir):
    config = load_box_config(box_dir / "box.toml")
    assert (config.profile, config.calendar_overrides) == ("profile.toml", "calendar.json")
    assert (box_dir / "profile.toml").read_bytes() == \
        (REPO / "firmware_cfg" / "hall-4.toml").read_bytes()
    assert json.loads((box_dir / "calendar.json").read_text()) == CALENDAR
    for name in ("keys/box.identity.json", "keys/platform.token", "keys/hub.public.json",
                 "catalogue.json"):
        assert (box_dir / name).is_file(), name


def test_provision_box_refuses_a_bad_profile_before_enrolling(tmp_path, box_dir):
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\npin_factory = \"mock\"\n[[windows]]\nwindow_no = 1\n"
                   "keys = {5 = 40}\n", encoding="utf-8")
    result = CliRunner().invoke(provision, [
        "box", "--hub-dir", str(tmp_path / "hub"), "--district", "440605", "--name", "x",
        "--out", str(tmp_path / "box2"), "--profile", str(bad)])
    assert result.exit_code == 1
    assert "BCM 40 不在排针上" in result.output and "没有配置评价器" in result.output
    assert not (tmp_path / "box2").exists()
    assert len(list((tmp_path / "hub" / "boxes").glob("*.json"))) == 1  # nothing enrolled


def test_bundle_round_trip_on_a_temporary_root(tmp_path, box_dir):
    output = run("bundle", box_dir, "--out", tmp_path / "usb" / "box.hwb")
    code = re.search(r"install code, shown once\): (\S+)", output).group(1)
    assert re.fullmatch(r"([0-9A-Z]{4}-){4}[0-9A-Z]{4}", code)
    bundle_file = tmp_path / "usb" / "box.hwb"
    text = bundle_file.read_text(encoding="utf-8")
    secret_token = (box_dir / "keys" / "platform.token").read_text()
    identity_doc = json.loads((box_dir / "keys" / "box.identity.json").read_text())
    for secret in (secret_token, identity_doc["sign_private"], identity_doc["curve_secret"]):
        assert secret not in text and base64.b64encode(secret.encode()).decode() not in text
    root = tmp_path / "root"
    output = run("install", bundle_file, "--root", root, "--code", code.lower(),
                 "--hallwatch-bin", "/opt/hallwatch/.venv/bin/hallwatch")
    etc = root / "etc" / "hallwatch"
    assert sorted(str(p.relative_to(etc)) for p in etc.rglob("*")) == [
        "box.toml", "calendar.json", "catalogue.json", "keys", "keys/box.identity.json",
        "keys/hub.public.json", "keys/platform.token", "profile.toml"]
    assert mode(etc / "keys") == 0o700
    for name in ("box.identity.json", "hub.public.json", "platform.token"):
        assert mode(etc / "keys" / name) == 0o600
        assert (etc / "keys" / name).read_bytes() == (box_dir / "keys" / name).read_bytes()
    for name in ("box.toml", "profile.toml", "catalogue.json", "calendar.json"):
        assert mode(etc / name) == 0o644
    assert mode(root / "var" / "lib" / "hallwatch") == 0o700  # box.db, snapshots, logs
    assert mode(root / "var" / "lib") == 0o755
    raw = tomllib.loads((etc / "box.toml").read_text(encoding="utf-8"))
    assert raw["data_dir"] == "/var/lib/hallwatch" and raw["profile"] == "profile.toml"
    installed = load_box_config(etc / "box.toml")  # still valid; keys load (0600)
    identity.load_box_identity(installed.path(installed.relay.identity))
    unit = (root / "etc" / "systemd" / "system" / "hallwatch-box.service").read_text()
    assert mode(root / "etc" / "systemd" / "system" / "hallwatch-box.service") == 0o644
    for line in ("ExecStart=/opt/hallwatch/.venv/bin/hallwatch edge serve --config "
                 "/etc/hallwatch/box.toml", "Restart=on-failure", "WantedBy=multi-user.target",
                 "StandardOutput=journal", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/hallwatch /etc/hallwatch",
                 "ReadOnlyPaths=/etc/hallwatch/keys /etc/hallwatch/box.toml"):
        assert line in unit.splitlines(), line
    assert "$" not in unit.replace("$$", "")
    assert "systemctl daemon-reload" in output and "systemctl enable --now hallwatch-box" in output
    hub = identity.load_hub_public(box_dir / "keys" / "hub.public.json")
    assert f"Hub sign-key fingerprint: {hub.fingerprint}" in output


def test_the_install_code_is_needed_and_checked(tmp_path, box_dir):
    path, code = make_bundle(box_dir, tmp_path / "box.hwb")
    assert normalize_code(code.replace("-", " ").lower()) == code.replace("-", "")
    with pytest.raises(WrongInstallCode, match="does not open this bundle"):
        open_bundle(path, "0000-0000-0000-0000-0000")
    with pytest.raises(WrongInstallCode, match="20 letters and digits"):
        open_bundle(path, "1234")
    result = CliRunner().invoke(provision, ["install", str(path), "--root", str(tmp_path / "r"),
                                            "--code", "0000-0000-0000-0000-0000"])
    assert result.exit_code == 1 and "does not open this bundle" in result.output
    assert not (tmp_path / "r" / "etc").exists()  # nothing written
    # Asked when not given; a typo-tolerant prompt (O for 0 is fine).
    typed = code.replace("0", "O")
    result = CliRunner().invoke(provision, ["install", str(path), "--root", str(tmp_path / "r")],
                                input=typed + "\n")
    assert result.exit_code == 0, result.output


def test_a_changed_public_file_fails_the_bundle(tmp_path, box_dir):
    path, code = make_bundle(box_dir, tmp_path / "box.hwb")
    document = json.loads(path.read_text())
    toml = next(f for f in document["files"] if f["path"] == "box.toml")
    changed = base64.b64decode(toml["data"]).replace(b'port = 8080', b'port = 8081')
    toml["data"] = base64.b64encode(changed).decode()
    path.write_text(json.dumps(document))
    with pytest.raises(WrongInstallCode):  # the public part is the AEAD's associated data
        open_bundle(path, code)


def test_install_refuses_to_overwrite_and_another_boxs_data(tmp_path, box_dir):
    path, code = make_bundle(box_dir, tmp_path / "box.hwb")
    root = tmp_path / "root"
    install_bundle(path, code, root)
    with pytest.raises(InstallError, match="already installed here; use --force"):
        install_bundle(path, code, root)
    install_bundle(path, code, root, force=True)
    (root / "etc" / "hallwatch" / "keys" / "box.identity.json").unlink()
    with Store(root / "var" / "lib" / "hallwatch" / "box.db", box_id="440605-09"):
        pass
    with pytest.raises(InstallError, match="holds the records of box 440605-09"):
        install_bundle(path, code, root)


def test_bundle_refuses_an_unenrolled_box_and_an_existing_file(tmp_path):
    box = identity.new_box_identity("440605-07", "440605", "x")
    enrollment.create_box_dir(tmp_path / "box", box)
    with pytest.raises(BundleError, match="not enrolled yet"):
        make_bundle(tmp_path / "box", tmp_path / "b.hwb")
    (tmp_path / "b.hwb").write_text("x")
    result = CliRunner().invoke(provision, ["bundle", str(tmp_path / "box"), "--out",
                                            str(tmp_path / "b.hwb")])
    assert result.exit_code == 1 and "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to a user needs root")
def test_ownership_goes_to_the_hallwatch_user_of_the_target(tmp_path, box_dir):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n"
                                         "hallwatch:x:4242:4243::/var/lib/hallwatch:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nhallwatch:x:4243:\ngpio:x:997:hallwatch\n")
    assert service_user(root).groups == ["gpio"]
    path, code = make_bundle(box_dir, tmp_path / "box.hwb")
    result = install_bundle(path, code, root, hallwatch_bin=None)
    assert result.owner.name == "hallwatch"
    for path in [root / "etc" / "hallwatch", *(root / "etc" / "hallwatch").rglob("*"),
                 root / "var" / "lib" / "hallwatch"]:
        assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4243), path
    unit = result.unit_path.read_text()
    assert "User=hallwatch" in unit and "SupplementaryGroups=gpio" in unit
    assert result.unit_path.stat().st_uid == 0


def test_docs_give_the_technicians_path():
    page = (REPO / "docs" / "provisioning.md").read_text(encoding="utf-8")
    assert page.index("## 中文") < page.index("## English")
    for command in provision.commands:
        assert f"provision {command}" in page, f"docs/provisioning.md lacks provision {command}"
    for command in ("hub revoke", "hub enroll-rotation"):
        assert command in page
