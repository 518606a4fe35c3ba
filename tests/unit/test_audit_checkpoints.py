"""The audit checkpoints' pure parts: the Merkle proofs over heads, the digest chain over the
global order, the chain of checkpoints (shared/audit/checkpoints.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.audit.checkpoints import (
    CheckpointAudit,
    GlobalDigest,
    VouchedHead,
    build_checkpoint,
    checkpoint_is_genuine,
    head_evidence,
    head_evidence_holds,
    merkle_proof,
    merkle_root,
    root_from_proof,
    truncation_problem,
)
from shared.audit.events import StoreCheckpointed
from shared.signing import Signer, verify_bytes


@pytest.mark.parametrize("n", range(1, 10))
def test_every_head_proves_itself_against_the_root(n: int) -> None:
    heads = [(f"report-{i}", i + 1, f"{i:064x}") for i in range(n)]
    root = merkle_root(heads)
    for index, head in enumerate(heads):
        assert root_from_proof(head, merkle_proof(heads, index)) == root
        forged = (head[0], head[1] + 1, head[2])
        assert root_from_proof(forged, merkle_proof(heads, index)) != root


def _chain(signer: Signer, hashes: list[list[str]]) -> tuple[CheckpointAudit, list[str]]:
    """Checkpoints over consecutive ranges of event hashes; the audit fed with them."""
    audit = CheckpointAudit(verify=lambda data, sig: verify_bytes(signer.public_key_raw, data, sig))
    order: list[str] = []
    digest, start = GlobalDigest(), 0
    for number, batch in enumerate(hashes, start=1):
        for h in batch:
            digest.add(h)
        order.extend(batch)
        checkpoint = build_checkpoint(
            from_position=start,
            to_position=len(order),
            digest=digest,
            heads={f"s-{h[:4]}": (1, h) for h in batch},
            key_id=signer.key_id,
            sign=signer.sign_bytes,
        )
        assert checkpoint_is_genuine(checkpoint, audit.verify or (lambda d, s: False))
        audit.add_checkpoint(1000 + number, checkpoint)
        digest, start = GlobalDigest(checkpoint.digest), len(order)
    return audit, order


def test_the_global_order_is_checked_range_by_range(tmp_path: Path) -> None:
    signer = Signer(tmp_path)
    hashes = [[f"{i:064x}" for i in range(j * 3, j * 3 + 3)] for j in range(4)]
    audit, order = _chain(signer, hashes)
    assert audit.problems == []
    assert audit.global_order([*order, "f" * 64]) == 1  # one event after the last checkpoint
    assert audit.problems == []

    deleted = order[:4] + order[5:]
    audit.global_order(deleted)
    assert len(audit.problems) == 1
    assert "signed checkpoint at 1002" in audit.problems[0]
    assert "2 later checkpoint(s)" in audit.problems[0]


def test_a_head_that_is_gone_is_named(tmp_path: Path) -> None:
    signer = Signer(tmp_path)
    audit, _ = _chain(signer, [["a" * 64, "b" * 64]])
    checkpoint = audit.checkpoints[0][1]
    evidence = head_evidence(checkpoint, 1001, "s-aaaa")
    verify = audit.verify
    assert verify is not None and head_evidence_holds(evidence, verify)
    evidence["head"]["version"] = 2
    assert not head_evidence_holds(evidence, verify)
    vouched = VouchedHead(version=3, hash="c" * 64, checkpoint_position=1001)
    assert (
        truncation_problem("report-X", [(1, "a" * 64), (2, "b" * 64), (3, "c" * 64)], vouched)
        is None
    )
    problem = truncation_problem("report-X", [(1, "a" * 64), (2, "b" * 64)], vouched)
    assert problem and "report-X: its newest event(s) were deleted" in problem and "v2" in problem
    replaced = truncation_problem(
        "report-X", [(1, "a" * 64), (2, "b" * 64), (3, "d" * 64)], vouched
    )
    assert replaced and "not the event" in replaced


def _next_signed_by_a_stranger(tmp_path: Path, first: StoreCheckpointed) -> StoreCheckpointed:
    """The checkpoint after `first`, signed with a key that is not ours."""
    stranger = Signer(tmp_path / "other")
    digest = GlobalDigest(first.digest)
    digest.add("e" * 64)
    return build_checkpoint(
        from_position=1,
        to_position=2,
        digest=digest,
        heads={"s": (1, "e" * 64)},
        key_id=stranger.key_id,
        sign=stranger.sign_bytes,
    )


def test_checkpoints_must_follow_each_other(tmp_path: Path) -> None:
    signer = Signer(tmp_path)
    audit, _ = _chain(signer, [["a" * 64], ["b" * 64]])
    first = audit.checkpoints[0][1]
    again = CheckpointAudit(verify=audit.verify)
    again.add_checkpoint(1, first)
    again.add_checkpoint(2, first)  # the same range twice: not the next one
    assert any("does not follow" in p for p in again.problems)
    forged = _next_signed_by_a_stranger(tmp_path, first)
    again.add_checkpoint(3, forged)
    assert any("do not verify" in p for p in again.problems)


def test_lapor_audit_verify_of_a_store_that_is_not_there_says_so_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lapor audit verify` where there is no store (a wrong LAPOR_DATA_DIR) ended in a Python
    traceback ("OperationalError: unable to open database file"); it says which store it could
    not open and exits 2, neither "audit OK" nor a made-up file."""
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("LAPOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LAPOR_EVENT_STORE", raising=False)
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 2, result.output
    assert "cannot open the event store" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "data" / "events.db").exists()


def test_checkpoints_signed_with_another_key_name_the_keys_and_the_fix(tmp_path: Path) -> None:
    """A store restored on a spare machine, its sla started before the signing key was put back
    (a new key is generated then): `lapor audit verify` called every checkpoint "forged or
    altered", and the operator went looking for an intruder. It fails still (nothing vouches for
    those checkpoints), but names both keys and the file to restore."""
    original = Signer(tmp_path / "original")
    audit, _ = _chain(original, [["a" * 64], ["b" * 64]])
    fresh = Signer(tmp_path / "fresh")
    again = CheckpointAudit(
        verify=lambda data, sig: verify_bytes(fresh.public_key_raw, data, sig),
        key_id=fresh.key_id,
    )
    for position, checkpoint in audit.checkpoints:
        again.add_checkpoint(position, checkpoint)
    assert len(again.problems) == 2
    problem = again.problems[0]
    assert original.key_id in problem and fresh.key_id in problem
    assert "sla-evidence-ed25519.pem" in problem and "forged or altered" not in problem


def test_a_checkpoint_altered_under_the_same_key_is_still_called_forged(tmp_path: Path) -> None:
    signer = Signer(tmp_path)
    audit, _ = _chain(signer, [["a" * 64]])
    checkpoint = audit.checkpoints[0][1]
    altered = checkpoint.model_copy(update={"events": checkpoint.events + 1})
    again = CheckpointAudit(verify=audit.verify, key_id=signer.key_id)
    again.add_checkpoint(1, altered)
    assert len(again.problems) == 1 and "forged or altered" in again.problems[0]


def test_another_key_after_ours_has_signed_is_a_forgery(tmp_path: Path) -> None:
    signer = Signer(tmp_path)
    audit, _ = _chain(signer, [["a" * 64]])
    first = audit.checkpoints[0][1]
    forged = _next_signed_by_a_stranger(tmp_path, first)
    again = CheckpointAudit(verify=audit.verify, key_id=signer.key_id)
    again.add_checkpoint(1, first)
    again.add_checkpoint(2, forged)
    assert len(again.problems) == 1 and "forged or altered" in again.problems[0]
