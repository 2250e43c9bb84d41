"""PrescriptionRegistry against a hostile member organisation (issue #13, items 5 and 6): an
admitted hospital calling the contract directly with its own key, no gateway in between.

Every attack is a raw transaction signed by the attacker's key (hostile_prescription_helpers);
the consortium it attacks is set up with the ledger's own client, as an honest one would be.
"""

from __future__ import annotations

from hostile_prescription_helpers import field_names
from web3.contract import Contract

#: Every field name the registry's ABI may carry: ids, parties, times, commitments, content ids,
#: statuses and settings. A new name must be added here on purpose, after asking whether it tells a
#: member something clinical about the patient beside their pseudonym.
NON_CLINICAL_FIELDS = {
    "",
    "account",
    "approved",
    "by",
    "caller",
    "cid",
    "commitment",
    "current",
    "dispensedAt",
    "doctor",
    "expiresAt",
    "followUpRecordId",
    "hospital",
    "institution",
    "issuance",
    "issuedAt",
    "latest",
    "membership_",
    "online",
    "org",
    "patient",
    "pharmacist",
    "pharmacy",
    "practice_",
    "prescriber",
    "prescriptionId",
    "recordId",
    "records_",
    "reviewedAt",
    "set",
    "status",
    "window",
    "anchoredAt",
    "maxOnlineValidity_",
    "maxOfflineValidity_",
}


def test_the_registry_has_no_field_for_a_clinical_fact(prescriptions: Contract) -> None:
    """No pre-review outcome, no reason code, in any call, view or event a member can read."""
    assert field_names(prescriptions) - NON_CLINICAL_FIELDS == set()
