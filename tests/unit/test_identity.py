import datetime as dt
import json
import os
import stat

import pytest

from edge.config import load_box_config
from hub.config import load_hub_config
from provisioning import enrollment
from standard import boxregistry, identity
from standard.boxregistry import EnrollmentConflict, NotEnrolled
from standard.districts import UnknownDistrict
from standard.envelope import Opener, Sealer, fingerprint, key_to_text
from standard.identity import BadApproval, IdentityError, IdentityExists, InsecureKeyFile


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def hub(tmp_path):
    config, hub_identity = enrollment.init_hub(tmp_path / "hub")
    return config, hub_identity


@pytest.fixture
def hub_config(hub):
    return hub[0]


def new_box(box_id="440605-01", district="440605"):
    return identity.new_box_identity(box_id, district, "南海区行政服务中心")


def test_hub_init_writes_secret_public_and_config_files(tmp_path, hub):
    config, hub_identity = hub
    hub_dir = tmp_path / "hub"
    secret = hub_dir / "keys" / "hub.identity.json"
    assert mode(secret) == 0o600
    assert mode(hub_dir / "keys") == 0o700
    assert (hub_dir / "boxes").is_dir()

    loaded = load_hub_config(hub_dir / "hub.toml")
    assert loaded == config
    assert "base_dir" not in (hub_dir / "hub.toml").read_text(encoding="utf-8")

    public = identity.load_hub_public(hub_dir / "hub.public.json")
    assert public.curve_public == hub_identity.curve_public
    assert key_to_text(public.sign_public) == key_to_text(hub_identity.sign_public)
    assert public.endpoint == "tcp://127.0.0.1:7700"
    assert "secret" not in (hub_dir / "hub.public.json").read_text() and "private" not in (
        hub_dir / "hub.public.json"
    ).read_text()


def test_hub_init_endpoints(tmp_path):
    config, _ = enrollment.init_hub(tmp_path / "a", bind="tcp://0.0.0.0:7701")
    assert config.public_endpoint == "tcp://0.0.0.0:7701"
    config, _ = enrollment.init_hub(tmp_path / "b", bind="tcp://0.0.0.0:7701",
                                  public_endpoint="tcp://hub.example:7701")
    assert load_hub_config(tmp_path / "b" / "hub.toml").public_endpoint == "tcp://hub.example:7701"
    with pytest.raises(enrollment.ConfigError, match="bind"):
        enrollment.init_hub(tmp_path / "c", bind="http://nope")
    assert not (tmp_path / "c").exists()


def test_hub_init_refuses_to_overwrite_unless_forced(tmp_path, hub):
    old_key = key_to_text(hub[1].sign_public)
    with pytest.raises(IdentityExists, match="hub.identity.json already exists; use --force"):
        enrollment.init_hub(tmp_path / "hub")
    _, replaced = enrollment.init_hub(tmp_path / "hub", force=True)
    assert key_to_text(replaced.sign_public) != old_key
    assert mode(tmp_path / "hub" / "keys" / "hub.identity.json") == 0o600


def test_box_identity_round_trips_and_keys_are_separate(tmp_path):
    box = new_box()
    path = tmp_path / "keys" / "box.identity.json"
    identity.save_identity(box, path)
    loaded = identity.load_box_identity(path)
    assert (loaded.box_id, loaded.district_code) == ("440605-01", "440605")
    assert loaded.name == "南海区行政服务中心"
    assert loaded.curve_secret == box.curve_secret
    assert key_to_text(loaded.seal_private) == key_to_text(box.seal_private)
    assert key_to_text(loaded.sign_private) == key_to_text(box.sign_private)
    publics = {key_to_text(loaded.seal_public), key_to_text(loaded.sign_public)}
    assert len(publics | {loaded.curve_public.decode()}) == 3


def test_secret_file_is_0600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        identity.save_identity(new_box(), tmp_path / "keys" / "box.identity.json")
    finally:
        os.umask(old)
    assert mode(tmp_path / "keys" / "box.identity.json") == 0o600
    assert mode(tmp_path / "keys") == 0o700


def test_save_identity_refuses_overwrite_unless_forced(tmp_path):
    path = tmp_path / "keys" / "box.identity.json"
    identity.save_identity(new_box(), path)
    replacement = new_box()
    with pytest.raises(IdentityExists, match="box.identity.json already exists; use --force"):
        identity.save_identity(replacement, path)
    identity.save_identity(replacement, path, force=True)
    assert identity.load_box_identity(path).curve_public == replacement.curve_public
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["box.identity.json"]  # no temp file left


def test_loading_a_world_readable_secret_is_refused(tmp_path):
    path = tmp_path / "keys" / "box.identity.json"
    identity.save_identity(new_box(), path)
    os.chmod(path, 0o644)
    with pytest.raises(InsecureKeyFile, match=r"mode 0644.*chmod 600"):
        identity.load_box_identity(path)


def test_loading_a_damaged_or_wrong_kind_secret_is_refused(tmp_path, hub):
    path = tmp_path / "keys" / "box.identity.json"
    identity.save_identity(new_box(), path)
    doc = json.loads(path.read_text())
    doc["seal_public"] = key_to_text(new_box().seal_public)
    path.write_text(json.dumps(doc))
    with pytest.raises(IdentityError, match="seal_public does not match"):
        identity.load_box_identity(path)
    with pytest.raises(IdentityError, match="expected 'box-identity'"):
        identity.load_box_identity(tmp_path / "hub" / "keys" / "hub.identity.json")
    with pytest.raises(IdentityError, match="file not found"):
        identity.load_hub_identity(tmp_path / "missing.json")


def test_new_box_identity_checks_id_and_district():
    for bad in ("../etc", "440605-01\n", "", "x" * 65):
        with pytest.raises(IdentityError, match="box id"):
            new_box(box_id=bad)
    with pytest.raises(UnknownDistrict, match="440699.*440605 南海区"):
        new_box(district="440699")


def test_enroll_list_and_load(hub_config):
    box = new_box()
    at = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)
    enrolled = boxregistry.enroll_box(hub_config, identity.box_public_record(box), now=at)
    assert enrolled.enrolled_at == "2026-11-02T01:00:00+00:00" and not enrolled.revoked
    saved = json.loads((hub_config.path("boxes") / "440605-01.json").read_text())
    assert saved["revoked"] is False and saved["version"] == 1 and "seal_private" not in saved

    boxes = boxregistry.load_enrolled(hub_config)
    assert list(boxes) == ["440605-01"]
    assert boxes["440605-01"].curve_public == box.curve_public
    assert [b.box_id for b in boxregistry.list_enrolled(hub_config)] == ["440605-01"]


def test_enrolled_keys_open_what_the_box_seals(hub):
    hub_config, hub_identity = hub
    box = new_box()
    boxregistry.enroll_box(hub_config, identity.box_public_record(box))
    frames = Sealer(box.seal_private, hub_identity.seal_public, box.sign_private, box.box_id).seal(
        {"first_seq": 1}, b"records", counter=1
    )
    opener = Opener(hub_identity.seal_private)
    enrolled = boxregistry.load_enrolled(hub_config)[opener.peek_header(frames)["box_id"]]
    assert opener.open(frames, enrolled.seal_public, enrolled.sign_public)[1] == b"records"


def test_enrolling_the_same_keys_again_is_a_no_op(hub_config):
    record = identity.box_public_record(new_box())
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    first = boxregistry.enroll_box(hub_config, record, now=at)
    assert boxregistry.enroll_box(hub_config, record) == first


def test_a_duplicate_box_id_with_other_keys_is_refused_unless_forced(hub_config):
    boxregistry.enroll_box(hub_config, identity.box_public_record(new_box()))
    other = new_box()
    with pytest.raises(EnrollmentConflict, match="440605-01 is already enrolled with other keys"):
        boxregistry.enroll_box(hub_config, identity.box_public_record(other))
    boxregistry.enroll_box(hub_config, identity.box_public_record(other), force=True)
    assert boxregistry.load_enrolled(hub_config)["440605-01"].curve_public == other.curve_public


def test_enrolling_a_bad_record_is_refused(hub_config):
    record = identity.box_public_record(new_box())
    with pytest.raises(IdentityError, match="seal_public"):
        boxregistry.enroll_box(hub_config, {**record, "seal_public": "AAAA"})
    with pytest.raises(IdentityError, match="curve_public: CURVE key"):
        boxregistry.enroll_box(hub_config, {**record, "curve_public": "short"})
    with pytest.raises(IdentityError, match="box id"):
        boxregistry.enroll_box(hub_config, {**record, "box_id": "a/b"})


def test_revocation(hub_config):
    record = identity.box_public_record(new_box())
    boxregistry.enroll_box(hub_config, record)
    at = dt.datetime(2026, 11, 3, tzinfo=dt.timezone.utc)
    revoked = boxregistry.revoke_box(hub_config, "440605-01", now=at)
    assert revoked.revoked and revoked.revoked_at == "2026-11-03T00:00:00+00:00"
    assert boxregistry.load_enrolled(hub_config)["440605-01"].revoked
    with pytest.raises(EnrollmentConflict, match="revoked"):
        boxregistry.enroll_box(hub_config, record)
    with pytest.raises(NotEnrolled, match="440605-09"):
        boxregistry.revoke_box(hub_config, "440605-09")


def test_next_box_id_counts_per_district_and_skips_taken_ids(hub_config):
    assert boxregistry.next_box_id(hub_config, "440605") == "440605-01"
    boxregistry.enroll_box(hub_config, identity.box_public_record(new_box("440605-02")))
    assert boxregistry.next_box_id(hub_config, "440605") == "440605-03"
    assert boxregistry.next_box_id(hub_config, "440606") == "440606-01"


def test_provision_box_writes_a_loadable_box_folder(tmp_path, hub_config):
    catalogue = tmp_path / "items.json"
    catalogue.write_text('{"items": []}', encoding="utf-8")
    box, config = enrollment.provision_box(
        hub_config, tmp_path / "box1", "440605", "南海区行政服务中心", catalogue=catalogue
    )
    assert box.box_id == "440605-01"
    loaded = load_box_config(tmp_path / "box1" / "box.toml")
    assert loaded == config
    assert (loaded.district_code, loaded.district_name) == ("440605", "南海区")
    assert loaded.relay.hub_endpoint == hub_config.public_endpoint
    box_keys = identity.load_box_identity(loaded.path(loaded.relay.identity))
    assert box_keys.curve_public == box.curve_public
    hub_public = identity.load_hub_public(loaded.path(loaded.relay.hub_public))
    assert hub_public == identity.load_hub_public(hub_config.path("hub.public.json"))
    token_file = loaded.path(loaded.platform_token_file)
    assert mode(token_file) == 0o600 and len(token_file.read_text()) >= 40
    assert loaded.path(loaded.catalogue).read_text(encoding="utf-8") == '{"items": []}'
    assert boxregistry.load_enrolled(hub_config)["440605-01"].seal_public is not None

    second, _ = enrollment.provision_box(hub_config, tmp_path / "box2", "440605", "二号")
    assert second.box_id == "440605-02"


def test_provision_box_refuses_an_existing_folder_before_enrolling(tmp_path, hub_config):
    enrollment.provision_box(hub_config, tmp_path / "box1", "440605", "一号")
    with pytest.raises(IdentityExists, match="use --force"):
        enrollment.provision_box(hub_config, tmp_path / "box1", "440605", "一号")
    assert list(boxregistry.load_enrolled(hub_config)) == ["440605-01"]


def test_offline_request_approve_accept(tmp_path, hub):
    hub_config, hub_identity = hub
    box = new_box("440605-07")
    box_dir = tmp_path / "box"
    enrollment.create_box_dir(box_dir, box)
    assert load_box_config(box_dir / "box.toml").relay is None

    request = enrollment.make_request(box_dir)
    assert request == box_dir / "enroll-request.json"
    assert "private" not in request.read_text() and "secret" not in request.read_text()

    approval = tmp_path / "approval.json"
    enrolled, hub_fingerprint = enrollment.approve_request(hub_config, request, approval)
    assert enrolled.box_id == "440605-07"
    assert hub_fingerprint == fingerprint(hub_identity.sign_public)

    assert enrollment.check_approval(box_dir, approval).fingerprint == hub_fingerprint
    hub_public = enrollment.accept_approval(box_dir, approval, endpoint="tcp://10.0.0.5:7700")
    config = load_box_config(box_dir / "box.toml")
    assert config.relay.hub_endpoint == "tcp://10.0.0.5:7700"
    assert identity.load_hub_public(config.path(config.relay.hub_public)) == hub_public
    assert hub_public.curve_public == hub_identity.curve_public
    assert config.box_id == "440605-07"  # the rest of box.toml is kept


def test_accept_refuses_a_tampered_approval(tmp_path, hub):
    hub_config, _ = hub
    box_dir = tmp_path / "box"
    enrollment.create_box_dir(box_dir, new_box("440605-07"))
    approval = tmp_path / "approval.json"
    enrollment.approve_request(hub_config, enrollment.make_request(box_dir), approval)
    doc = json.loads(approval.read_text())
    doc["payload"]["hub"]["endpoint"] = "tcp://evil:7700"
    approval.write_text(json.dumps(doc))
    with pytest.raises(BadApproval, match="signature does not verify"):
        enrollment.accept_approval(box_dir, approval)
    assert load_box_config(box_dir / "box.toml").relay is None
    assert not (box_dir / "keys" / "hub.public.json").exists()


def test_accept_refuses_an_approval_for_another_box(tmp_path, hub):
    hub_config, _ = hub
    for name in ("box", "other"):
        enrollment.create_box_dir(tmp_path / name, new_box(f"440605-{name}"))
    approval = tmp_path / "approval.json"
    enrollment.approve_request(hub_config, enrollment.make_request(tmp_path / "other"), approval)
    with pytest.raises(BadApproval, match="not 440605-box"):
        enrollment.accept_approval(tmp_path / "box", approval)


def test_accept_refuses_to_replace_other_hub_keys_unless_forced(tmp_path, hub):
    hub_config, _ = hub
    box_dir = tmp_path / "box"
    enrollment.create_box_dir(box_dir, new_box())
    request = enrollment.make_request(box_dir)
    enrollment.approve_request(hub_config, request, tmp_path / "a1.json")
    enrollment.accept_approval(box_dir, tmp_path / "a1.json")
    enrollment.accept_approval(box_dir, tmp_path / "a1.json")  # same hub again: fine

    other_config, other_hub = enrollment.init_hub(tmp_path / "other-hub")
    enrollment.approve_request(other_config, request, tmp_path / "a2.json")
    with pytest.raises(IdentityExists, match="other hub keys"):
        enrollment.accept_approval(box_dir, tmp_path / "a2.json")
    enrollment.accept_approval(box_dir, tmp_path / "a2.json", force=True)
    installed = identity.load_hub_public(box_dir / "keys" / "hub.public.json")
    assert installed.curve_public == other_hub.curve_public
