"""Revocation refuses a box's next batch within seconds; key rotation (online and offline)
keeps every queued record, exactly once, on one continuous chain."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import hub as hub_cli
from provisioning.cli import provision
from provisioning.rotate import RotationError, enroll_rotation, rotate_box, rotation_request
from standard import boxregistry, identity, wire
from standard.envelope import Sealer, fingerprint, key_to_text
from tests.integration.relay_harness import (
    FakeBox,
    in_process_receiver,
    make_records,
    wait_all_arrived,
    wait_for,
)

# The online rotation drains 1,500 events two records a batch through real processes: 60-70 s
# at a load average of 13, past 90 s beside the other xdist worker (a stress run's timeout).
pytestmark = pytest.mark.timeout(180)


# -- an in-process hub receiver on 127.0.0.1 -------------------------------------------------
@pytest.fixture
def hub(tmp_path):
    with in_process_receiver(tmp_path) as running:
        yield running


def connect(hub, box: identity.BoxIdentity) -> FakeBox:
    return FakeBox(hub.receiver.bound_endpoint, hub.identity.curve_public, box.curve_public,
                   box.curve_secret)


def batch(hub, box: identity.BoxIdentity, rows, counter: int) -> list[bytes]:
    sealer = Sealer(box.seal_private, hub.identity.seal_public, box.sign_private, box.box_id)
    first, last = json.loads(rows[0][0])["seq"], json.loads(rows[-1][0])["seq"]
    header = {"first_seq": first, "last_seq": last, "from_seq": first, "count": len(rows),
              "backlog": 0}
    return [wire.BATCH, *sealer.seal(header, wire.batch_plaintext(rows), counter)]


def refused_at_handshake(hub, box: identity.BoxIdentity) -> bool:
    """A hello with these keys gets no answer: the hub's ZAP handler refused the CURVE key."""
    link = connect(hub, box)
    try:
        link.send(wire.encode(wire.HELLO, {"box_id": box.box_id, "last_seq": 0, "acked_seq": 0,
                                           "backlog": 0, "configs": {}}))
        return link.receive(timeout=1.5) is None
    finally:
        link.close()


def records_held(hub, box_id: str) -> int:
    return hub.store.query("select count(*) as n from records where box_id = ?",
                           (box_id,))[0]["n"]


def test_hub_revoke_refuses_the_next_batch_within_seconds(hub):
    link = connect(hub, hub.box)
    try:
        assert link.hello(hub.box.box_id)[0] == wire.PONG
        rows, last_hash = make_records(1, 3)
        link.send(batch(hub, hub.box, rows, counter=1))
        assert link.receive_kind({wire.ACK})[1]["acked_seq"] == 3
        result = CliRunner().invoke(hub_cli, ["revoke", "--config",
                                              str(Path(hub.config.base_dir) / "hub.toml"),
                                              hub.box.box_id])
        assert result.exit_code == 0, result.output
        wait_for(lambda: hub.receiver.boxes[hub.box.box_id].revoked, 10,
                 what="the receiver to reload the revoked box")
        more, _ = make_records(4, 3, last_hash)
        link.send(batch(hub, hub.box, more, counter=2))
        kind, body = link.receive_kind({wire.ACK, wire.NACK})
        assert kind == wire.NACK and "revoked" in body["reason"]
    finally:
        link.close()
    assert records_held(hub, hub.box.box_id) == 3  # what was applied stays
    assert refused_at_handshake(hub, hub.box)  # and a new connection fails the handshake
    reasons = [row["reason"] for row in hub.store.query("select reason from refusals")]
    assert any(f"box {hub.box.box_id} is revoked" in reason for reason in reasons)
    result = CliRunner().invoke(hub_cli, ["revoke", "--config",
                                          str(Path(hub.config.base_dir) / "hub.toml"), "nobody"])
    assert result.exit_code == 1 and "is not enrolled" in result.output


def test_rotation_requests_must_be_signed_by_the_enrolled_keys(hub):
    old = hub.box
    new = identity.new_box_identity(old.box_id, old.district_code, old.name)
    forged = rotation_request(new, new)  # signed by a key the hub does not know
    with pytest.raises(RotationError, match="not signed by the keys box 440605-01 is enrolled"):
        enroll_rotation(hub.config, forged)
    moved = identity.new_box_identity(old.box_id, "440604", old.name)
    with pytest.raises(RotationError, match="a rotation keeps box 440605-01 in 440605"):
        enroll_rotation(hub.config, rotation_request(old, moved))
    request = rotation_request(old, new)
    box, changed = enroll_rotation(hub.config, request)
    assert changed and key_to_text(box.sign_public) == key_to_text(new.sign_public)
    assert enroll_rotation(hub.config, request) == (box, False)  # the same request again
    newer = identity.new_box_identity(old.box_id, old.district_code, old.name)
    with pytest.raises(RotationError, match="not signed by the keys"):  # a replay of old keys
        enroll_rotation(hub.config, rotation_request(old, newer))
    audit = list((Path(hub.config.base_dir) / "rotations").glob("440605-01-*.json"))
    assert len(audit) == 1
    boxregistry.revoke_box(hub.config, old.box_id)
    with pytest.raises(boxregistry.EnrollmentConflict, match="revoked box cannot rotate"):
        enroll_rotation(hub.config, rotation_request(new, newer))


def test_offline_rotation_waits_for_the_hub_and_a_second_one_is_refused(hub):
    config_path = hub.box_dir / "box.toml"
    result = CliRunner().invoke(provision, ["rotate", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    request = hub.box_dir / "rotate-request.json"
    assert "hallwatch hub enroll-rotation --config hub.toml rotate-request.json" in result.output
    new = identity.load_box_identity(hub.box_dir / "keys" / "box.identity.json")
    assert fingerprint(new.sign_public) != fingerprint(hub.box.sign_public)
    assert not (hub.box_dir / "keys" / "box.identity.json.new").exists()
    assert refused_at_handshake(hub, new)  # not enrolled yet
    with pytest.raises(RotationError, match="is waiting for the hub"):
        rotate_box(config_path)
    result = CliRunner().invoke(hub_cli, ["enroll-rotation", "--config",
                                          str(Path(hub.config.base_dir) / "hub.toml"),
                                          str(request)])
    assert result.exit_code == 0, result.output
    assert f"sign-key fingerprint {fingerprint(new.sign_public)}" in result.output
    link = connect(hub, new)
    try:
        assert link.hello(new.box_id)[0] == wire.PONG
    finally:
        link.close()


# -- real hub and box processes ---------------------------------------------------------------

def assert_chain_ok(deployment, box, made: int) -> None:
    """``hub status``: the chain whole, every record the box had made when the wait ended
    (``made``) held and acked; the box may have made more since (a scheduled rule pass)."""
    row = deployment.hub.status()[box.box_id]
    assert row["chain"] == "ok" and row["records"] == row["acked_seq"] >= made
    assert deployment.hub.distinct_seqs(box.box_id, up_to=made) == (made, made, made)


def test_online_rotation_with_a_backlog_in_flight_loses_nothing(deployment):
    hub = deployment.hub
    box = deployment.add_box(batch_size=2, window=1)  # a slow drain: many batches in flight
    hub.start()
    box.start()
    assert box.post_events(1500) == 1500
    made = box.chain_seq()
    assert hub.acked(box.box_id) < made, "the backlog drained before the rotation"
    result = CliRunner().invoke(provision, ["rotate", "--config", str(box.config_path),
                                            "--hub-dir", str(hub.config.base_dir)])
    assert result.exit_code == 0, result.output
    assert "Enrolled at" in result.output
    box.post_events(20)  # records made after the rotation travel under the new keys
    made = wait_all_arrived(hub, box, timeout=60)
    assert_chain_ok(deployment, box, made)
    new = identity.load_box_identity(box.dir / "keys" / "box.identity.json")
    enrolled = boxregistry.load_enrolled(hub.config)[box.box_id]
    assert key_to_text(enrolled.sign_public) == key_to_text(new.sign_public)
    assert key_to_text(new.sign_public) != key_to_text(box.identity.sign_public)
    assert any("box keys rotated" in line for line in box.process.lines)


def test_offline_rotation_of_a_running_box_resumes_after_enroll_rotation(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(50)
    wait_all_arrived(hub, box, timeout=20)
    result = CliRunner().invoke(provision, ["rotate", "--config", str(box.config_path)])
    assert result.exit_code == 0, result.output
    new = identity.load_box_identity(box.dir / "keys" / "box.identity.json")
    curve = new.curve_public.decode()[:8]
    wait_for(lambda: any(curve in reason for _, reason in hub.refusals()), 15,
             what="the hub to refuse the new, not yet enrolled key", detail=hub.refusals)
    box.post_events(30)  # made while the hub refuses the box: they wait in the outbox
    result = CliRunner().invoke(hub_cli, ["enroll-rotation", "--config", str(hub.config_path),
                                          str(box.dir / "rotate-request.json")])
    assert result.exit_code == 0, result.output
    made = wait_all_arrived(hub, box, timeout=45)
    assert_chain_ok(deployment, box, made)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_rotation_keeps_the_key_file_readable_by_the_service_user(hub):
    key_file = hub.box_dir / "keys" / "box.identity.json"
    os.chown(key_file, 4242, 4243)  # an installed box: the keys belong to 'hallwatch'
    rotate_box(hub.box_dir / "box.toml", hub_dir=Path(hub.config.base_dir))
    info = key_file.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4242, 4243, 0o600)
