"""The hub's systemd unit, ``hallwatch-hub.service``, written into the hub folder.

``provision hub-init`` writes it next to ``hub.toml`` (``provision hub-unit`` writes it again,
e.g. after moving the folder or the virtualenv). The unit runs ``hallwatch hub serve`` as the
owner of the hub folder (the user who ran ``hub-init``; root only when root owns it), with
``UMask=0077`` and the same hardening as the box's unit. The deployer installs it with the
two commands :func:`install_commands` returns; nothing here runs ``systemctl``.

Example::

    unit = write_hub_unit(load_hub_config(Path("/srv/hub/hub.toml")))
    print("\\n".join(install_commands(unit)))
"""

from __future__ import annotations

import grp
import pwd
import string
from pathlib import Path, PurePosixPath

from hub.config import HubConfig
from provisioning.install import default_hallwatch_bin
from standard.identity import _atomic_write

UNIT_NAME = "hallwatch-hub.service"
UNIT_TEMPLATE = Path(__file__).resolve().parent / "systemd" / UNIT_NAME
SERVICE_USER = "hallwatch"


def _owner(folder: Path) -> str | None:
    """The user owning ``folder`` (None for root or an unknown uid)."""
    uid = folder.stat().st_uid
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def render_hub_unit(config: HubConfig, hallwatch_bin: PurePosixPath | None = None) -> str:
    """The unit's text for the hub of ``config`` (absolute paths)."""
    hub_dir = Path(config.base_dir).resolve()
    data_dir = config.path(config.data_dir).resolve()
    hallwatch_bin = hallwatch_bin or default_hallwatch_bin()
    owner = _owner(hub_dir)
    if owner is not None:
        lines = [f"User={owner}", f"Group={grp.getgrgid(pwd.getpwnam(owner).pw_gid).gr_name}"]
    else:
        lines = ["# Runs as root. To run as a service user, create it and hand it the folder:",
                 f"#   useradd --system --home-dir {hub_dir} --shell /usr/sbin/nologin "
                 f"{SERVICE_USER} && chown -R {SERVICE_USER}: {hub_dir}",
                 f"# then write the unit again: hallwatch provision hub-unit --dir {hub_dir}"]
    writable = [str(hub_dir)] + ([str(data_dir)] if not data_dir.is_relative_to(hub_dir) else [])
    in_home = any(str(path).startswith(("/home/", "/root/"))
                  for path in (hallwatch_bin, hub_dir, data_dir))
    template = string.Template(UNIT_TEMPLATE.read_text(encoding="utf-8"))
    text = template.substitute(hub_dir=hub_dir, hallwatch=hallwatch_bin,
                               user_lines="\n".join(lines),
                               protect_home="read-only" if in_home else "yes")
    return text.replace(f"ReadWritePaths={hub_dir}\n", f"ReadWritePaths={' '.join(writable)}\n")


def write_hub_unit(config: HubConfig, hallwatch_bin: PurePosixPath | None = None) -> Path:
    """Write ``hallwatch-hub.service`` into the hub folder (0644: a unit is not secret)."""
    path = Path(config.base_dir) / UNIT_NAME
    _atomic_write(path, render_hub_unit(config, hallwatch_bin).encode("utf-8"), 0o644)
    return path


def install_commands(unit: Path) -> list[str]:
    """What the deployer runs (as root) to install and start the unit."""
    return [f"sudo install -m 0644 {unit.resolve()} /etc/systemd/system/{UNIT_NAME}",
            f"sudo systemctl daemon-reload && sudo systemctl enable --now {UNIT_NAME}",
            f"journalctl -u {UNIT_NAME.removesuffix('.service')} -f"]
