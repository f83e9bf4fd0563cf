"""Installing a box bundle into place: files, modes, ownership and the systemd unit.

Layout under ``root`` (``/`` on the box itself; a mounted SD card's root file system when
preparing an image)::

    etc/hallwatch/box.toml, profile.toml, catalogue.json, calendar.json     0644
    etc/hallwatch/keys/                                                      0700
    etc/hallwatch/keys/box.identity.json, platform.token, hub.public.json   0600
    var/lib/hallwatch/                                                       0700 (box.db ..., 0600)
    etc/systemd/system/hallwatch-box.service                                 0644

``box.toml``'s ``data_dir`` becomes ``/var/lib/hallwatch``: paths written into files are the
paths the box sees when it runs from ``root``. Running as root with a ``hallwatch`` user in
``root``'s ``/etc/passwd``, everything is handed to that user and the unit runs as it;
otherwise ownership is left alone and the unit runs as root (with a note on how to change it).
``systemctl`` is only ever run when ``root`` is ``/`` (``daemon-reload``); the rest is printed.

Example::

    result = install_bundle(Path("/media/usb/440605-01.hwb"), "7KQ4-M2XD-9PRT-H3VW-C8JN")
    print("\\n".join(result.next_commands))
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import string
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import tomli_w

from edge.config import BoxConfig
from provisioning.bundle import Bundle, BundleError, open_bundle
from standard import identity
from standard.files import private_dir

ETC_DIR = PurePosixPath("/etc/hallwatch")
DATA_DIR = PurePosixPath("/var/lib/hallwatch")
UNIT_DIR = PurePosixPath("/etc/systemd/system")
UNIT_NAME = "hallwatch-box.service"
SERVICE_USER = "hallwatch"
DEVICE_GROUPS = ("gpio", "video")  # the keys' GPIO chip and the cameras
UNIT_TEMPLATE = Path(__file__).resolve().parent / "systemd" / UNIT_NAME
FALLBACK_BIN = PurePosixPath("/opt/hallwatch/.venv/bin/hallwatch")


class InstallError(BundleError):
    """The bundle cannot be installed here (already installed, another box's data, ...)."""


@dataclasses.dataclass
class ServiceUser:
    name: str
    uid: int
    gid: int
    groups: list[str]  # the device groups that exist on the target


@dataclasses.dataclass
class InstallResult:
    box_id: str
    root: Path
    config_path: Path  # on disk, under root
    unit_path: Path
    owner: ServiceUser | None
    hub_fingerprint: str
    reloaded: bool  # systemctl daemon-reload was run
    next_commands: list[str]
    notes: list[str]


def _under(root: Path, path: PurePosixPath) -> Path:
    return Path(root) / path.relative_to("/")


# --- users as the target system knows them -------------------------------------------------


def _table(path: Path) -> list[list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def service_user(root: Path) -> ServiceUser | None:
    """The ``hallwatch`` user of the system at ``root`` (its own /etc/passwd), or None."""
    users = {row[0]: row for row in _table(Path(root) / "etc/passwd") if len(row) >= 4}
    row = users.get(SERVICE_USER)
    if row is None:
        return None
    groups = {row[0] for row in _table(Path(root) / "etc/group")}
    return ServiceUser(SERVICE_USER, int(row[2]), int(row[3]),
                       [group for group in DEVICE_GROUPS if group in groups])


def _hand_over(paths: list[Path], user: ServiceUser) -> None:
    for top in paths:
        os.chown(top, user.uid, user.gid)
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                os.chown(Path(folder) / name, user.uid, user.gid, follow_symlinks=False)


# --- files ---------------------------------------------------------------------------------


def _box_toml(bundle: Bundle) -> tuple[bytes, BoxConfig]:
    """box.toml with the data folder where the installed box keeps it; validated again."""
    try:
        raw = tomllib.loads(bundle.file("box.toml").data.decode("utf-8"))
        raw["data_dir"] = str(DATA_DIR)
        config = BoxConfig.model_validate({**raw, "base_dir": str(ETC_DIR)})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise InstallError(f"the bundle's box.toml is not valid: {exc}") from None
    if config.relay is None:
        raise InstallError("the bundle's box.toml has no [relay]: the box is not enrolled")
    return tomli_w.dumps(raw).encode("utf-8"), config


def _existing_box(db_path: Path) -> str | None:
    if not db_path.exists():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("select value from meta where key = 'box_id'").fetchone()
    except sqlite3.DatabaseError:
        return "(unreadable)"
    finally:
        conn.close()
    return row[0] if row else None


def _refuse_overwrite(bundle: Bundle, etc: Path, data: Path, force: bool) -> None:
    if force:
        return
    keys = etc / identity.BOX_IDENTITY_FILE
    if keys.exists():
        raise InstallError(f"{keys} exists: a box is already installed here; use --force to "
                           "replace its keys and configuration")
    other = _existing_box(data / "box.db")
    if other is not None and other != bundle.box_id:
        raise InstallError(f"{data / 'box.db'} holds the records of box {other}, not "
                           f"{bundle.box_id}; move it away first (or use --force)")


def _write_files(bundle: Bundle, etc: Path) -> None:
    for item in bundle.files:
        target = etc / item.path
        if item.secret:
            identity._write_secret(target, item.data, force=True)  # 0700 folder, 0600 file
        else:
            data = _box_toml(bundle)[0] if item.path == "box.toml" else item.data
            identity._atomic_write(target, data, 0o644)


# --- the systemd unit ----------------------------------------------------------------------


def default_hallwatch_bin() -> PurePosixPath:
    """The ``hallwatch`` command next to the running Python (the one doing the install)."""
    candidate = Path(sys.executable).parent / "hallwatch"
    return PurePosixPath(candidate) if candidate.exists() else FALLBACK_BIN


def render_unit(bundle: Bundle, hallwatch_bin: PurePosixPath, user: ServiceUser | None) -> str:
    if user is not None:
        lines = [f"User={user.name}", f"Group={user.name}"]
        if user.groups:
            lines.append(f"SupplementaryGroups={' '.join(user.groups)}")
    else:
        lines = ["# Runs as root. To run as a service user, create it and install again:",
                 f"#   useradd --system --home-dir {DATA_DIR} --shell /usr/sbin/nologin "
                 f"--groups {','.join(DEVICE_GROUPS)} {SERVICE_USER}"]
    in_home = any(str(hallwatch_bin).startswith(prefix) for prefix in ("/home/", "/root/"))
    template = string.Template(UNIT_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        box_id=bundle.box_id, name=bundle.name, user_lines="\n".join(lines),
        hallwatch=hallwatch_bin, etc_dir=ETC_DIR, data_dir=DATA_DIR,
        protect_home="read-only" if in_home else "yes")


def _systemctl(*args: str) -> bool:
    done = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=60)
    return done.returncode == 0


# --- installing ----------------------------------------------------------------------------


def install_bundle(bundle_path: Path, code: str, root: Path = Path("/"), *, force: bool = False,
                   hallwatch_bin: PurePosixPath | None = None,
                   systemctl: Callable[..., bool] = _systemctl) -> InstallResult:
    """Open the bundle with the install code and put the box in place under ``root``."""
    root = Path(root).resolve()
    bundle = open_bundle(bundle_path, code)
    etc, data = _under(root, ETC_DIR), _under(root, DATA_DIR)
    _refuse_overwrite(bundle, etc, data, force)
    config = _box_toml(bundle)[1]  # a broken box.toml fails before anything is written
    etc.mkdir(mode=0o755, parents=True, exist_ok=True)
    data.parent.mkdir(mode=0o755, parents=True, exist_ok=True)  # /var/lib: a system folder
    private_dir(data, tighten=True)  # 0700: box.db, snapshots and logs are personal data
    _write_files(bundle, etc)
    user = service_user(root) if os.geteuid() == 0 else None
    notes = []
    if user is not None:
        _hand_over([etc, data], user)
    elif os.geteuid() == 0:
        notes.append(f"no '{SERVICE_USER}' user on the target: files stay root's and the "
                     "service runs as root (see the comment in the unit to change that)")
    hallwatch_bin = hallwatch_bin or default_hallwatch_bin()
    unit_path = _under(root, UNIT_DIR) / UNIT_NAME
    unit_path.parent.mkdir(parents=True, exist_ok=True)
    identity._atomic_write(unit_path, render_unit(bundle, hallwatch_bin, user).encode(), 0o644)
    on_this_system = root == Path("/")
    reloaded = on_this_system and shutil.which("systemctl") is not None and systemctl(
        "daemon-reload")
    config_file = f"{ETC_DIR}/box.toml"
    commands = [] if reloaded else ["systemctl daemon-reload"]
    commands += [f"{hallwatch_bin} provision selftest --config {config_file}",
                 f"systemctl enable --now {UNIT_NAME}",
                 f"journalctl -u {UNIT_NAME.removesuffix('.service')} -f",
                 f"{hallwatch_bin} edge status --config {config_file}"]
    if not on_this_system:
        notes.append(f"installed under {root}: run the commands on the box once it boots "
                     "from there")
    hub = identity.load_hub_public(etc / config.relay.hub_public)
    return InstallResult(bundle.box_id, root, etc / "box.toml", unit_path, user,
                         hub.fingerprint, reloaded, commands, notes)


__all__ = ["InstallError", "InstallResult", "ServiceUser", "install_bundle",
           "render_unit", "service_user"]
