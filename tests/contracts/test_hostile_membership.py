"""Staff squatting by a hostile member (issue 13, item 4), each attempt sent as the attacker would:
a raw transaction signed with its own admin key. Registering an account takes that account's own
signed consent to join that organisation in that role, under its current nonce and before a
deadline; so no organisation registers another's doctor, not even while its role is changed."""

from __future__ import annotations

import pytest
from contract_helpers import (
    CLERK_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    LICENCE,
    OTHER_ADMIN,
    OTHER_HOSPITAL,
    Act,
    OrgKind,
    admit,
    chain_client,
    emitted,
    latest_timestamp,
    register,
    remove,
)
from eth_account.signers.local import LocalAccount
from hostile_claims_helpers import raw_refused
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from ledger.network.joining import StaffJoin

FAR = 2**40
NO_LICENCE = bytes(32)


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract) -> None:
    """Two hospitals; DOCTOR a doctor at HOSPITAL, on its own consent."""
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)


def consent(
    w3: Web3,
    membership: Contract,
    org: LocalAccount,
    role: bytes,
    licence: bytes,
    *,
    signer: LocalAccount = DOCTOR,
    deadline: int = FAR,
) -> bytes:
    """``signer``'s signature of DOCTOR joining ``org`` as ``role``, under DOCTOR's nonce now."""
    nonce = membership.functions.nonces(DOCTOR.address).call()
    join = StaffJoin(org.address, DOCTOR.address, role, licence, nonce, deadline)
    return join.sign(signer, w3.eth.chain_id, membership.address)


def test_another_hospital_cannot_register_a_doctor_while_its_role_is_changed(
    w3: Web3, act: Act, membership: Contract
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    own = consent(w3, membership, OTHER_HOSPITAL, CLERK_ROLE, NO_LICENCE, signer=OTHER_ADMIN)
    args = (OTHER_HOSPITAL.address, DOCTOR.address, CLERK_ROLE, NO_LICENCE, FAR, own)
    assert raw_refused(w3, OTHER_ADMIN, membership, "registerStaff", *args) == (
        "MembershipJoinNotSigned",
        {"account": DOCTOR.address},
    )
    assert not membership.functions.hasStaffRole(
        OTHER_HOSPITAL.address, DOCTOR.address, CLERK_ROLE
    ).call()
    # The first hospital finishes the change on the doctor's consent: it is not locked out.
    signed = consent(w3, membership, HOSPITAL, CLERK_ROLE, NO_LICENCE)
    args = (HOSPITAL.address, DOCTOR.address, CLERK_ROLE, NO_LICENCE, FAR, signed)
    receipt = send_raw(w3, HOSPITAL_ADMIN, membership, "registerStaff", *args)
    assert [name for name, _ in emitted(membership, receipt)] == ["StaffRegistered"]
    assert membership.functions.hasStaffRole(HOSPITAL.address, DOCTOR.address, CLERK_ROLE).call()


def test_a_consent_to_join_one_hospital_cannot_register_at_another(
    w3: Web3, act: Act, membership: Contract
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    for_hospital = consent(w3, membership, HOSPITAL, DOCTOR_ROLE, LICENCE)
    args = (OTHER_HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE, FAR, for_hospital)
    assert raw_refused(w3, OTHER_ADMIN, membership, "registerStaff", *args) == (
        "MembershipJoinNotSigned",
        {"account": DOCTOR.address},
    )


def test_a_consent_for_one_role_cannot_register_another(
    w3: Web3, act: Act, membership: Contract
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    as_clerk = consent(w3, membership, HOSPITAL, CLERK_ROLE, NO_LICENCE)
    args = (HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE, FAR, as_clerk)
    assert raw_refused(w3, HOSPITAL_ADMIN, membership, "registerStaff", *args) == (
        "MembershipJoinNotSigned",
        {"account": DOCTOR.address},
    )


def test_a_used_consent_cannot_register_the_account_again_after_its_removal(
    w3: Web3, act: Act, membership: Contract
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    signed = consent(w3, membership, OTHER_HOSPITAL, CLERK_ROLE, NO_LICENCE)
    args = (OTHER_HOSPITAL.address, DOCTOR.address, CLERK_ROLE, NO_LICENCE, FAR, signed)
    assert send_raw(w3, OTHER_ADMIN, membership, "registerStaff", *args)["status"] == 1
    remove(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, DOCTOR)
    assert raw_refused(w3, OTHER_ADMIN, membership, "registerStaff", *args) == (
        "MembershipJoinNotSigned",
        {"account": DOCTOR.address},
    )


def test_an_expired_consent_is_refused(w3: Web3, act: Act, membership: Contract) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    deadline = latest_timestamp(w3) - 1
    late = consent(w3, membership, HOSPITAL, DOCTOR_ROLE, LICENCE, deadline=deadline)
    args = (HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE, deadline, late)
    assert raw_refused(w3, HOSPITAL_ADMIN, membership, "registerStaff", *args) == (
        "MembershipJoinExpired",
        {"deadline": deadline},
    )
