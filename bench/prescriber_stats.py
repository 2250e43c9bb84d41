"""What a member's node can count per doctor from the prescription registry (issue #16, item 6).

The 2022 rules forbid prescription statistics for commercial purposes; a pharmacy's or an insurer's
node holds every block. This script builds a small consortium on its own anvil (two hospitals, two
pharmacies, four doctors), issues N prescriptions signed by the doctors (skewed: one doctor writes
half), has the pharmacies review and dispense some, and then plays a member's node: JSON-RPC only
(eth_getLogs, eth_getTransactionByHash), the ABI from ledger/artifacts, eth_account to recover a
signature. It prints, for each fact, whether the logs alone give it, whether logs plus calldata
give it, and whether the count matches the truth.

Usage: python bench/prescriber_stats.py [N]   (default 200; about 1 s per 25 prescriptions)
"""

from __future__ import annotations

import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain import _artifacts
from ledger.chain.connection import Chain
from ledger.chain.deploy import deploy_contracts
from ledger.chain.node import Anvil
from ledger.network.joining import join_args
from ledger.prescribing.signature import (
    PRESCRIBE_TYPES,
    PrescriptionDomain,
    SignedIssuance,
    prescriber_commitment,
)
from ledger.types import OrgKind

DOCTOR_ROLE = Web3.keccak(text="DOCTOR_ROLE")
PHARMACIST_ROLE = Web3.keccak(text="PHARMACIST_ROLE")
LICENCE = Web3.keccak(text="a salted licence commitment")
ANVIL_PORT = 13545  # engineer G3's manual port base


def _account() -> LocalAccount:
    return Account.from_key(secrets.token_bytes(32))


def build(w3: Web3, n: int) -> tuple[str, dict[str, Counter[str]]]:
    """The consortium and its prescriptions; the registry's address and the ground truth."""
    deployer, regulator = _account(), _account()
    deployment = deploy_contracts(w3, deployer, regulator.address)
    chains: dict[str, Chain] = {}

    def act(sender: LocalAccount) -> Chain:
        return chains.setdefault(sender.address, Chain(w3, deployment, sender))

    membership = act(regulator).contract("Membership")
    practice = act(regulator).contract("PracticeRegistry")
    registry = act(regulator).contract("PrescriptionRegistry")
    hospitals = [_account() for _ in range(2)]
    pharmacies = [_account() for _ in range(2)]
    doctors = {h.address: [_account(), _account()] for h in hospitals}
    pharmacists = {p.address: _account() for p in pharmacies}
    now = int(w3.eth.get_block("latest")["timestamp"])
    orgs = [(h, OrgKind.HOSPITAL) for h in hospitals] + [(p, OrgKind.PHARMACY) for p in pharmacies]
    for org, kind in orgs:
        admin = _account()
        act(regulator).transact(
            membership.functions.admitOrganisation(org.address, kind, admin.address)
        )
        staff = doctors.get(org.address, [pharmacists.get(org.address)])
        role = DOCTOR_ROLE if kind is OrgKind.HOSPITAL else PHARMACIST_ROLE
        for member in staff:
            assert member is not None
            args = join_args(membership, member, org.address, role, LICENCE)
            org_, _, role_, licence_, deadline, signature = args
            act(admin).transact(
                membership.functions.registerStaff(
                    org_, member.address, role_, licence_, deadline, signature
                )
            )
            if kind is OrgKind.HOSPITAL:
                act(regulator).transact(
                    practice.functions.recordRegistration(
                        member.address, org.address, LICENCE, now - 86_400, now + 86_400 * 365
                    )
                )
        if kind is OrgKind.HOSPITAL:
            act(admin).transact(registry.functions.setFollowUpWindow(org.address, 0))

    rng = random.Random(16)
    every_doctor = [(h, d) for h in hospitals for d in doctors[h.address]]
    weights = [5, 2, 2, 1]  # one doctor writes half
    patients = [_account().address for _ in range(30)]
    domain = PrescriptionDomain.of(deployment)
    truth: dict[str, Counter[str]] = {
        k: Counter() for k in ("doctor", "doctor_online", "doctor_patient", "doctor_pharmacy")
    }
    for _ in range(n):
        hospital, doctor = rng.choices(every_doctor, weights)[0]
        patient, online = rng.choice(patients), rng.random() < 0.7
        rx, salt = secrets.token_bytes(32), secrets.token_bytes(32)
        issuance = SignedIssuance(
            rx,
            secrets.token_bytes(32),
            b"bafkrei" + secrets.token_bytes(20),
            patient,
            prescriber_commitment(doctor.address, salt),
            online,
            None,
            hospital.address,
            2**63,
        )
        fn = registry.functions.issuePrescription(
            rx, issuance.as_args(issuance.sign(doctor, domain))
        )
        act(hospital).transact(fn)
        truth["doctor"][doctor.address] += 1
        truth["doctor_online"][f"{doctor.address} online={online}"] += 1
        truth["doctor_patient"][f"{doctor.address} {patient}"] += 1
        if rng.random() < 0.6:
            pharmacy = rng.choice(pharmacies)
            pharmacist = pharmacists[pharmacy.address].address
            act(pharmacy).transact(registry.functions.approvePrescription(rx, pharmacist))
            dispense = registry.functions.dispensePrescription(
                rx, pharmacist, secrets.token_bytes(32), b"bafkreidispense"
            )
            act(pharmacy).transact(dispense)
            truth["doctor_pharmacy"][f"{doctor.address} {pharmacy.address}"] += 1
    return registry.address, truth


def member_view(w3: Web3, address: str) -> dict[str, dict[str, Counter[str]]]:
    """What a member's node counts, from the logs alone and from the logs plus calldata."""
    abi = _artifacts.load("PrescriptionRegistry").abi
    contract = w3.eth.contract(address=address, abi=abi)
    events = {e["name"]: e for e in abi if e["type"] == "event"}
    topic = {name: Web3.keccak(text=_signature(e)) for name, e in events.items()}

    def logs(name: str) -> list[Any]:
        return list(w3.eth.get_logs({"address": address, "fromBlock": 0, "topics": [topic[name]]}))

    issued = logs("PrescriptionIssued")
    dispensed = {
        bytes(log["topics"][1]): _address(log["topics"][2]) for log in logs("PrescriptionDispensed")
    }
    approved = [_address(log["topics"][3]) for log in logs("PrescriptionApproved")]
    from_logs: dict[str, Counter[str]] = {
        "institution": Counter(_address(log["topics"][2]) for log in issued),
        "pharmacy": Counter(dispensed.values()),
        "pharmacist_approvals": Counter(approved),
        # The prescriber's place: a salted commitment, fresh per prescription.
        "prescriber_commitment": Counter("0x" + bytes(log["data"][:32]).hex() for log in issued),
    }
    chain_id = w3.eth.chain_id
    from_calldata: dict[str, Counter[str]] = {
        k: Counter() for k in ("doctor", "doctor_online", "doctor_patient", "doctor_pharmacy")
    }
    for log in issued:
        tx = w3.eth.get_transaction(log["transactionHash"])
        _, args = contract.decode_function_input(tx["input"])
        rx, issuance = bytes(args["prescriptionId"]), args["issuance"]
        fields = issuance if isinstance(issuance, tuple | list) else tuple(issuance.values())
        commitment, cid, patient, p_commitment, online, follow_up, deadline, signature = fields
        message = {
            "prescriptionId": rx,
            "commitment": commitment,
            "cid": cid,
            "patient": patient,
            "prescriberCommitment": p_commitment,
            "online": online,
            "followUpRecordId": follow_up,
            "institution": tx["from"],
            "deadline": deadline,
        }
        domain = {
            "name": "MedLedger Prescriptions",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": address,
        }
        signable = encode_typed_data(domain, PRESCRIBE_TYPES, message)
        doctor = Account.recover_message(signable, signature=signature)
        from_calldata["doctor"][doctor] += 1
        from_calldata["doctor_online"][f"{doctor} online={online}"] += 1
        from_calldata["doctor_patient"][f"{doctor} {patient}"] += 1
        if rx in dispensed:
            from_calldata["doctor_pharmacy"][f"{doctor} {dispensed[rx]}"] += 1
    return {"logs": from_logs, "calldata": from_calldata}


def _signature(event: dict[str, Any]) -> str:
    def kind(param: dict[str, Any]) -> str:
        if param["type"] == "tuple":
            return "(" + ",".join(kind(c) for c in param["components"]) + ")"
        return str(param["type"])

    return f"{event['name']}({','.join(kind(i) for i in event['inputs'])})"


def _address(topic: Any) -> str:
    return Web3.to_checksum_address(abi_decode(["address"], bytes(topic))[0])


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Anvil(state_dir=Path(tmp), port=ANVIL_PORT) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        started = time.perf_counter()
        address, truth = build(w3, n)
        built = time.perf_counter() - started
        started = time.perf_counter()
        seen = member_view(w3, address)
        counted = time.perf_counter() - started
    logs, calldata = seen["logs"], seen["calldata"]
    print(f"prescriptions={n} built_s={built:.1f} member_scan_s={counted:.2f}")
    print(f"  per institution, from logs: {dict(logs['institution'])}")
    print(f"  dispenses per pharmacy, from logs: {dict(logs['pharmacy'])}")
    print(f"  approvals per pharmacist, from logs: {dict(logs['pharmacist_approvals'])}")
    groups = len(logs["prescriber_commitment"])
    print(f"  per doctor, from logs: none (prescriber commitments: {groups} distinct of {n})")
    for fact in ("doctor", "doctor_online", "doctor_patient", "doctor_pharmacy"):
        exact = calldata[fact] == truth[fact]
        print(
            f"  per {fact.replace('_', ' x ')}, from calldata (ecrecover): "
            f"{len(calldata[fact])} groups, exact={exact}"
        )
    print(f"  prescriptions per doctor (truth): {sorted(truth['doctor'].values(), reverse=True)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
