"""Creating hub and box folders: identities, public records, configs, the offline enrollment.

The technicians' side of :mod:`standard.identity` (which the running box and hub use to load
their keys). Nothing at run time imports this module.

Example (writes files, so not a doctest)::

    hub_config, hub = init_hub(Path("/srv/hub"))
    box, box_config = provision_box(hub_config, Path("/srv/box1"), "440605", "南海大厅")
    box.box_id  # '440605-01'
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
from pydantic import BaseModel, ValidationError

from edge.config import BoxConfig, RelaySection, load_box_config
from edge.profile import check_departments, load_profile
from hub.api_token import new_token, token_path
from hub.config import HubConfig
from standard import envelope
from standard.boxregistry import EnrolledBox, boxes_dir, enroll_box, next_box_id
from standard.calendar import load_overrides
from standard.catalogue import departments, load_catalogue
from standard.configfile import ConfigError, describe_errors
from standard.districts import district_name
from standard.identity import (
    APPROVAL_KIND,
    BOX_HUB_PUBLIC_FILE,
    BOX_IDENTITY_FILE,
    CALENDAR_FILE,
    HUB_PUBLIC_FILE,
    PLATFORM_TOKEN_FILE,
    PROFILE_FILE,
    REQUEST_FILE,
    BadApproval,
    BoxIdentity,
    HubIdentity,
    HubPublic,
    IdentityExists,
    _atomic_write,
    _hub_public_from,
    _refuse_existing,
    _write_secret,
    box_public_record,
    hub_public_record,
    load_box_identity,
    load_hub_identity,
    load_hub_public,
    new_box_identity,
    new_hub_identity,
    read_json_file,
    save_identity,
    write_public_file,
)

M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], **values: Any) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "\n  ".join(describe_errors(exc))
        raise ConfigError(f"invalid configuration:\n  {problems}") from None


def _write_config(config: BaseModel, path: Path) -> None:
    # base_dir is injected when the file is loaded, never stored.
    values = config.model_dump(mode="json", exclude={"base_dir"}, exclude_none=True)
    _atomic_write(path, tomli_w.dumps(values).encode("utf-8"), 0o644)


# --- creating hub and box folders --------------------------------------------------------


def init_hub(hub_dir: Path, *, bind: str | None = None, public_endpoint: str | None = None,
             force: bool = False) -> tuple[HubConfig, HubIdentity]:
    """Create the hub's identity, ``hub.public.json``, ``boxes/`` and ``hub.toml``.

    ``bind`` and ``public_endpoint`` default to HubConfig's; the endpoint defaults to ``bind``.
    """
    hub_dir = Path(hub_dir).resolve()
    values: dict[str, Any] = {"version": 1, "base_dir": str(hub_dir)}
    if bind:
        values["bind"] = bind
    if public_endpoint or bind:
        values["public_endpoint"] = public_endpoint or bind
    config = _validated(HubConfig, **values)
    if not force:
        paths = [config.path(config.identity), hub_dir / HUB_PUBLIC_FILE, hub_dir / "hub.toml"]
        _refuse_existing(paths)
    identity = new_hub_identity()
    save_identity(identity, config.path(config.identity), force=force)
    write_public_file(hub_dir / HUB_PUBLIC_FILE, hub_public_record(identity, config.public_endpoint))
    boxes_dir(config).mkdir(parents=True, exist_ok=True)
    _write_config(config, hub_dir / "hub.toml")
    new_token(token_path(config))  # the 12345 hotline system's API token (hub/api_token.py)
    return config, identity


def _box_files(box_dir: Path, catalogue: Path | None, with_hub: bool,
               profile: Path | None = None, calendar: Path | None = None) -> list[Path]:
    names = [BOX_IDENTITY_FILE, PLATFORM_TOKEN_FILE, "box.toml"]
    if catalogue is not None:
        names.append("catalogue.json")
    if profile is not None:
        names.append(PROFILE_FILE)
    if calendar is not None:
        names.append(CALENDAR_FILE)
    if with_hub:
        names.append(BOX_HUB_PUBLIC_FILE)
    return [box_dir / name for name in names]


def _check_box_inputs(profile: Path | None, calendar_overrides: Path | None,
                      catalogue: Path | None = None, district_code: str = "") -> None:
    """Validate the hardware profile (its windows' departments against the catalogue, when
    both are given) and calendar overrides before anything is written."""
    if profile is not None:
        loaded = load_profile(profile)  # ProfileError lists every problem
        if catalogue is not None:
            check_departments(loaded, departments(load_catalogue(catalogue)), district_code,
                              str(profile))
    if calendar_overrides is not None:
        load_overrides(calendar_overrides)


def create_box_dir(box_dir: Path, identity: BoxIdentity, *, catalogue: Path | None = None,
                   relay: RelaySection | None = None, hub_public_file: Path | None = None,
                   force: bool = False, profile: Path | None = None,
                   calendar_overrides: Path | None = None) -> BoxConfig:
    """Write a box folder: identity, platform token, box.toml, catalogue and hub keys, and the
    hardware profile (``profile.toml``) and calendar overrides (``calendar.json``) if given."""
    box_dir = Path(box_dir).resolve()
    _check_box_inputs(profile, calendar_overrides, catalogue, identity.district_code)
    config = _validated(
        BoxConfig, version=1, base_dir=str(box_dir), box_id=identity.box_id,
        district_code=identity.district_code, district_name=district_name(identity.district_code),
        catalogue="catalogue.json", platform_token_file=PLATFORM_TOKEN_FILE, relay=relay,
        profile=PROFILE_FILE if profile is not None else None,
        calendar_overrides=CALENDAR_FILE if calendar_overrides is not None else None,
    )
    if not force:
        _refuse_existing(_box_files(box_dir, catalogue, hub_public_file is not None, profile,
                                    calendar_overrides))
    save_identity(identity, box_dir / BOX_IDENTITY_FILE, force=force)
    _write_secret(box_dir / PLATFORM_TOKEN_FILE, secrets.token_urlsafe(32).encode("ascii"), force)
    if hub_public_file is not None:
        shutil.copyfile(hub_public_file, box_dir / BOX_HUB_PUBLIC_FILE)
    if catalogue is not None:
        shutil.copyfile(catalogue, config.path(config.catalogue))
    if profile is not None:
        shutil.copyfile(profile, box_dir / PROFILE_FILE)
    if calendar_overrides is not None:
        shutil.copyfile(calendar_overrides, box_dir / CALENDAR_FILE)
    _write_config(config, box_dir / "box.toml")
    return config


def provision_box(hub_config: HubConfig, box_dir: Path, district_code: str, name: str, *,
                  box_id: str | None = None, catalogue: Path | None = None,
                  force: bool = False, profile: Path | None = None,
                  calendar_overrides: Path | None = None) -> tuple[BoxIdentity, BoxConfig]:
    """Online path: create a box folder next to the hub and enroll the box at once."""
    hub_public_file = Path(hub_config.base_dir) / HUB_PUBLIC_FILE
    load_hub_public(hub_public_file)  # a missing or damaged hub file fails before any writing
    # a bad profile enrolls nothing
    _check_box_inputs(profile, calendar_overrides, catalogue, district_code)
    box_id = box_id or next_box_id(hub_config, district_code)
    identity = new_box_identity(box_id, district_code, name)
    if not force:
        _refuse_existing(_box_files(Path(box_dir), catalogue, True, profile, calendar_overrides))
    enroll_box(hub_config, box_public_record(identity), force=force)
    config = create_box_dir(box_dir, identity, catalogue=catalogue, force=force,
                            relay=_validated(RelaySection, hub_endpoint=hub_config.public_endpoint),
                            hub_public_file=hub_public_file, profile=profile,
                            calendar_overrides=calendar_overrides)
    return identity, config


# --- offline enrollment ------------------------------------------------------------------


def make_request(box_dir: Path) -> Path:
    """Write ``BOXDIR/enroll-request.json``: the box's public record, for the hub operator."""
    identity = load_box_identity(Path(box_dir) / BOX_IDENTITY_FILE)
    path = Path(box_dir) / REQUEST_FILE
    write_public_file(path, box_public_record(identity))
    return path


def approve_request(hub_config: HubConfig, request_file: Path, out_file: Path, *,
                    force: bool = False) -> tuple[EnrolledBox, str]:
    """Enroll a request and write an approval signed by the hub; returns the box and the
    hub's sign-key fingerprint (to be read to the technician)."""
    hub = load_hub_identity(hub_config.path(hub_config.identity))
    box = enroll_box(hub_config, read_json_file(request_file), force=force)
    payload = {
        "hub": hub_public_record(hub, hub_config.public_endpoint),
        "box": box_public_record(box),
    }
    approval = envelope.sign_document(payload, APPROVAL_KIND, 1, hub.sign_private)
    write_public_file(Path(out_file), approval)
    return box, envelope.fingerprint(hub.sign_public)


def _verified_approval(box_dir: Path, approval_file: Path) -> tuple[HubPublic, dict]:
    doc = read_json_file(approval_file)
    payload = doc.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("hub"), dict):
        raise BadApproval(f"{approval_file}: not an enrollment approval")
    hub = _hub_public_from(payload["hub"], approval_file)
    # Self-signed: this proves the file is whole; the fingerprint check proves whose it is.
    try:
        envelope.verify_document(doc, hub.sign_public, kind=APPROVAL_KIND)
    except envelope.EnvelopeError as exc:
        raise BadApproval(f"{approval_file}: {exc}") from None
    identity = load_box_identity(Path(box_dir) / BOX_IDENTITY_FILE)
    if payload.get("box") != box_public_record(identity):
        raise BadApproval(
            f"{approval_file}: approves another box or other keys, not {identity.box_id}"
        )
    return hub, payload["hub"]


def check_approval(box_dir: Path, approval_file: Path) -> HubPublic:
    """Verify an approval and that it is for this box; writes nothing.

    The technician must compare ``HubPublic.fingerprint`` with the one hub-init printed.
    """
    return _verified_approval(box_dir, approval_file)[0]


def accept_approval(box_dir: Path, approval_file: Path, *, endpoint: str | None = None,
                    force: bool = False) -> HubPublic:
    """Install the approved hub keys in ``keys/hub.public.json`` and set box.toml's [relay]."""
    hub, hub_doc = _verified_approval(box_dir, approval_file)
    box_dir = Path(box_dir)
    config = load_box_config(box_dir / "box.toml")
    target = box_dir / BOX_HUB_PUBLIC_FILE
    if target.exists() and not force and read_json_file(target) != hub_doc:
        raise IdentityExists(f"{target} already holds other hub keys; use --force to replace them")
    relay_values = (config.relay.model_dump() if config.relay else {}) | {
        "hub_endpoint": endpoint or hub.endpoint, "hub_public": BOX_HUB_PUBLIC_FILE}
    relay = _validated(RelaySection, **relay_values)
    write_public_file(target, hub_doc)
    _write_config(config.model_copy(update={"relay": relay}), box_dir / "box.toml")
    return hub
