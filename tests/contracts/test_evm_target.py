"""The bytecode targets paris (no PUSH0, no MCOPY): it deploys and runs on a pre-Shanghai node."""

from __future__ import annotations

from pathlib import Path

import requests
from contract_helpers import (
    DEPLOYER,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    PATIENT,
    REGULATOR,
    admit,
    chain_client,
    record_id,
    register,
)
from web3 import Web3

from ledger.chain.deploy import deploy_contracts
from ledger.chain.node import Anvil
from ledger.consent.grants import ConsentDomain, Purpose, Scope, sign_grant
from ledger.types import OrgKind


def test_contracts_deploy_anchor_and_grant_on_a_paris_node(tmp_path: Path, free_port: int) -> None:
    with (
        Anvil(state_dir=tmp_path, port=free_port, hardfork="paris") as node,
        requests.Session() as session,
    ):
        w3 = Web3(Web3.HTTPProvider(node.url, session=session))
        deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address)
        act = chain_client(w3, deployment)
        membership = act(REGULATOR).contract("Membership")
        admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
        register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
        registry = act(HOSPITAL).contract("RecordRegistry")
        record = record_id(HOSPITAL.address, "paris record")
        commitment = Web3.keccak(text="paris commitment")
        act(HOSPITAL).transact(
            registry.functions.anchorRecord(
                record, commitment, b"bafkreiparis", PATIENT.address, DOCTOR.address
            )
        )
        assert registry.functions.recordVersion(record, 1).call()[0] == commitment
        admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
        signed = sign_grant(
            PATIENT,
            ConsentDomain.of(deployment),
            grantee=INSURER.address,
            scope=Scope.record(record),
            purpose=Purpose.CLAIM_VERIFICATION,
            expires_at=2**40,
        )
        consent = act(HOSPITAL).contract("ConsentRegistry")
        act(HOSPITAL).transact(consent.functions.grantConsent(*signed.as_args()))
        check = consent.functions.isAuthorised(
            INSURER.address, record, Purpose.CLAIM_VERIFICATION, 0
        )
        assert check.call() == [True, signed.grant_id]
