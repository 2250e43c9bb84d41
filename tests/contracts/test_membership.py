"""Membership: the regulator admits, suspends and reinstates organisations; admins manage staff."""

from __future__ import annotations

import pytest
from contract_helpers import (
    AUDITOR_ROLE,
    CLERK,
    CLERK_ROLE,
    DEPLOYER,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    LICENCE,
    OTHER_ADMIN,
    OTHER_HOSPITAL,
    OUTSIDER,
    PHARMACIST,
    PHARMACIST_ROLE,
    REGULATOR,
    REGULATOR_ROLE,
    Act,
    admit,
    emitted,
    joined,
    refusal,
    refused,
    register,
    remove,
    suspend,
)
from web3 import Web3
from web3.contract import Contract

from ledger.chain import _artifacts
from ledger.chain.connection import RevertDecoder
from ledger.chain.deploy import deploy_contracts
from ledger.errors import DeploymentError
from ledger.types import OrgKind, OrgStatus

ZERO = "0x" + "00" * 20
DEFAULT_ADMIN_ROLE = bytes(32)


@pytest.fixture
def hospital(act: Act, membership: Contract) -> None:
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)


@pytest.fixture
def doctor(act: Act, membership: Contract, hospital: None) -> None:
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)


# Deployment


def test_deployment_grants_the_regulator_admin_and_regulator_roles(membership: Contract) -> None:
    assert membership.functions.hasRole(DEFAULT_ADMIN_ROLE, REGULATOR.address).call()
    assert membership.functions.hasRole(REGULATOR_ROLE, REGULATOR.address).call()
    assert not membership.functions.hasRole(REGULATOR_ROLE, DEPLOYER.address).call()


def test_deployment_with_zero_regulator_is_refused(w3: Web3) -> None:
    with pytest.raises(DeploymentError) as info:
        deploy_contracts(w3, DEPLOYER, ZERO)
    decoded = RevertDecoder(_artifacts.all_error_abis()).decode(info.value.__cause__.data)  # type: ignore[union-attr]
    assert refusal(decoded) == ("MembershipZeroAddress", {})


def test_role_ids_are_the_hashes_of_their_names(membership: Contract) -> None:
    for name in ("REGULATOR_ROLE", "DOCTOR_ROLE", "PHARMACIST_ROLE", "CLERK_ROLE", "AUDITOR_ROLE"):
        assert membership.functions[name]().call() == Web3.keccak(text=name)


# Admitting


def test_regulator_admits_an_organisation(act: Act, membership: Contract) -> None:
    receipt = act(REGULATOR).transact(
        membership.functions.admitOrganisation(
            HOSPITAL.address, OrgKind.HOSPITAL, HOSPITAL_ADMIN.address
        )
    )
    assert emitted(membership, receipt) == [
        (
            "OrganisationAdmitted",
            {"org": HOSPITAL.address, "kind": OrgKind.HOSPITAL, "admin": HOSPITAL_ADMIN.address},
        )
    ]
    assert membership.functions.organisation(HOSPITAL.address).call() == (
        OrgKind.HOSPITAL,
        OrgStatus.ACTIVE,
        HOSPITAL_ADMIN.address,
    )
    assert membership.functions.isActiveOrganisation(HOSPITAL.address).call()
    assert membership.functions.isActiveMember(HOSPITAL.address).call()


def test_admitted_organisation_is_active_only_as_its_kind(
    membership: Contract, hospital: None
) -> None:
    assert membership.functions.isActiveOrganisationOfKind(
        HOSPITAL.address, OrgKind.HOSPITAL
    ).call()
    assert not membership.functions.isActiveOrganisationOfKind(
        HOSPITAL.address, OrgKind.INSURER
    ).call()


def test_admitting_by_a_non_regulator_is_refused(act: Act, membership: Contract) -> None:
    fn = membership.functions.admitOrganisation(
        HOSPITAL.address, OrgKind.HOSPITAL, HOSPITAL.address
    )
    assert refused(act(OUTSIDER), fn) == (
        "AccessControlUnauthorizedAccount",
        {"account": OUTSIDER.address, "neededRole": REGULATOR_ROLE},
    )


def test_admitting_twice_is_refused(act: Act, membership: Contract, hospital: None) -> None:
    fn = membership.functions.admitOrganisation(
        HOSPITAL.address, OrgKind.INSURER, INSURER_ADMIN.address
    )
    assert refused(act(REGULATOR), fn) == (
        "MembershipOrganisationAlreadyAdmitted",
        {"org": HOSPITAL.address},
    )


def test_admitting_with_kind_none_is_refused(act: Act, membership: Contract) -> None:
    fn = membership.functions.admitOrganisation(
        HOSPITAL.address, OrgKind.NONE, HOSPITAL_ADMIN.address
    )
    assert refused(act(REGULATOR), fn) == ("MembershipInvalidKind", {})


def test_admitting_the_zero_address_is_refused(act: Act, membership: Contract) -> None:
    fn = membership.functions.admitOrganisation(ZERO, OrgKind.HOSPITAL, HOSPITAL_ADMIN.address)
    assert refused(act(REGULATOR), fn) == ("MembershipZeroAddress", {})


def test_admitting_with_a_zero_admin_is_refused(act: Act, membership: Contract) -> None:
    fn = membership.functions.admitOrganisation(HOSPITAL.address, OrgKind.HOSPITAL, ZERO)
    assert refused(act(REGULATOR), fn) == ("MembershipZeroAddress", {})


# Suspending and reinstating


def test_regulator_suspends_an_organisation(act: Act, membership: Contract, hospital: None) -> None:
    receipt = act(REGULATOR).transact(membership.functions.suspendOrganisation(HOSPITAL.address))
    assert emitted(membership, receipt) == [
        ("OrganisationSuspended", {"org": HOSPITAL.address, "by": REGULATOR.address})
    ]
    assert membership.functions.organisation(HOSPITAL.address).call()[1] == OrgStatus.SUSPENDED
    assert not membership.functions.isActiveOrganisation(HOSPITAL.address).call()
    assert not membership.functions.isActiveMember(HOSPITAL.address).call()


def test_suspending_by_a_non_regulator_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    fn = membership.functions.suspendOrganisation(HOSPITAL.address)
    assert refused(act(HOSPITAL_ADMIN), fn) == (
        "AccessControlUnauthorizedAccount",
        {"account": HOSPITAL_ADMIN.address, "neededRole": REGULATOR_ROLE},
    )


def test_suspending_an_unknown_organisation_is_refused(act: Act, membership: Contract) -> None:
    fn = membership.functions.suspendOrganisation(OUTSIDER.address)
    assert refused(act(REGULATOR), fn) == (
        "MembershipUnknownOrganisation",
        {"org": OUTSIDER.address},
    )


def test_suspending_a_suspended_organisation_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    suspend(act, membership, HOSPITAL)
    fn = membership.functions.suspendOrganisation(HOSPITAL.address)
    assert refused(act(REGULATOR), fn) == (
        "MembershipOrganisationNotActive",
        {"org": HOSPITAL.address},
    )


def test_suspension_takes_away_the_staff_roles(
    act: Act, membership: Contract, doctor: None
) -> None:
    suspend(act, membership, HOSPITAL)
    assert not membership.functions.hasStaffRole(
        HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE
    ).call()
    assert not membership.functions.isActiveMember(DOCTOR.address).call()


def test_regulator_reinstates_a_suspended_organisation_with_its_staff(
    act: Act, membership: Contract, doctor: None
) -> None:
    suspend(act, membership, HOSPITAL)
    receipt = act(REGULATOR).transact(membership.functions.reinstateOrganisation(HOSPITAL.address))
    assert emitted(membership, receipt) == [
        ("OrganisationReinstated", {"org": HOSPITAL.address, "by": REGULATOR.address})
    ]
    assert membership.functions.isActiveOrganisation(HOSPITAL.address).call()
    assert membership.functions.hasStaffRole(HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE).call()


def test_reinstating_by_a_non_regulator_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    suspend(act, membership, HOSPITAL)
    fn = membership.functions.reinstateOrganisation(HOSPITAL.address)
    assert refused(act(HOSPITAL_ADMIN), fn) == (
        "AccessControlUnauthorizedAccount",
        {"account": HOSPITAL_ADMIN.address, "neededRole": REGULATOR_ROLE},
    )


def test_reinstating_an_unknown_organisation_is_refused(act: Act, membership: Contract) -> None:
    fn = membership.functions.reinstateOrganisation(OUTSIDER.address)
    assert refused(act(REGULATOR), fn) == (
        "MembershipUnknownOrganisation",
        {"org": OUTSIDER.address},
    )


def test_reinstating_an_active_organisation_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    fn = membership.functions.reinstateOrganisation(HOSPITAL.address)
    assert refused(act(REGULATOR), fn) == (
        "MembershipOrganisationNotSuspended",
        {"org": HOSPITAL.address},
    )


# Registering staff


def test_admin_registers_a_doctor(act: Act, membership: Contract, hospital: None) -> None:
    receipt = act(HOSPITAL_ADMIN).transact(
        joined(membership, HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE)
    )
    assert emitted(membership, receipt) == [
        (
            "StaffRegistered",
            {
                "org": HOSPITAL.address,
                "account": DOCTOR.address,
                "role": DOCTOR_ROLE,
                "licenceCommitment": LICENCE,
            },
        )
    ]
    assert membership.functions.staff(DOCTOR.address).call() == (
        HOSPITAL.address,
        DOCTOR_ROLE,
        LICENCE,
        True,
    )
    assert membership.functions.hasStaffRole(HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE).call()
    assert membership.functions.isActiveMember(DOCTOR.address).call()


def test_staff_has_only_its_own_role(membership: Contract, doctor: None) -> None:
    assert not membership.functions.hasStaffRole(
        HOSPITAL.address, DOCTOR.address, CLERK_ROLE
    ).call()


def test_clerk_needs_no_licence(act: Act, membership: Contract, hospital: None) -> None:
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, CLERK, CLERK_ROLE, bytes(32))
    assert membership.functions.hasStaffRole(HOSPITAL.address, CLERK.address, CLERK_ROLE).call()


def test_registering_by_a_non_admin_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    # The organisation account itself is not its admin here, and the regulator is no admin either.
    fn = joined(membership, HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE)
    assert refused(act(HOSPITAL), fn) == (
        "MembershipNotOrganisationAdmin",
        {"caller": HOSPITAL.address, "org": HOSPITAL.address},
    )


def test_registering_by_another_organisations_admin_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    fn = joined(membership, HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE)
    assert refused(act(OTHER_ADMIN), fn) == (
        "MembershipNotOrganisationAdmin",
        {"caller": OTHER_ADMIN.address, "org": HOSPITAL.address},
    )


def test_registering_in_an_unknown_organisation_is_refused(act: Act, membership: Contract) -> None:
    fn = joined(membership, OUTSIDER.address, DOCTOR.address, DOCTOR_ROLE, LICENCE)
    assert refused(act(OUTSIDER), fn) == (
        "MembershipUnknownOrganisation",
        {"org": OUTSIDER.address},
    )


def test_registering_in_a_suspended_organisation_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    suspend(act, membership, HOSPITAL)
    fn = joined(membership, HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE)
    assert refused(act(HOSPITAL_ADMIN), fn) == (
        "MembershipOrganisationNotActive",
        {"org": HOSPITAL.address},
    )


def test_registering_the_zero_address_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    fn = joined(membership, HOSPITAL.address, ZERO, DOCTOR_ROLE, LICENCE)
    assert refused(act(HOSPITAL_ADMIN), fn) == ("MembershipZeroAddress", {})


def test_registering_with_a_non_staff_role_is_refused(
    act: Act, membership: Contract, hospital: None
) -> None:
    fn = joined(membership, HOSPITAL.address, DOCTOR.address, REGULATOR_ROLE, LICENCE)
    assert refused(act(HOSPITAL_ADMIN), fn) == (
        "MembershipUnknownRole",
        {"role": REGULATOR_ROLE},
    )


@pytest.mark.parametrize("role", [DOCTOR_ROLE, PHARMACIST_ROLE], ids=["doctor", "pharmacist"])
def test_registering_a_licensed_role_without_licence_is_refused(
    act: Act, membership: Contract, hospital: None, role: bytes
) -> None:
    fn = joined(membership, HOSPITAL.address, PHARMACIST.address, role, bytes(32))
    assert refused(act(HOSPITAL_ADMIN), fn) == ("MembershipLicenceRequired", {"role": role})


def test_registering_staff_of_another_organisation_is_refused(
    act: Act, membership: Contract, doctor: None
) -> None:
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    fn = joined(membership, OTHER_HOSPITAL.address, DOCTOR.address, AUDITOR_ROLE, LICENCE)
    assert refused(act(OTHER_ADMIN), fn) == (
        "MembershipStaffAlreadyRegistered",
        {"account": DOCTOR.address, "org": HOSPITAL.address},
    )


def test_removed_staff_can_be_registered_by_another_organisation(
    act: Act, membership: Contract, doctor: None
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    receipt = act(OTHER_ADMIN).transact(
        joined(membership, OTHER_HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE, LICENCE)
    )
    assert [name for name, _ in emitted(membership, receipt)] == ["StaffRegistered"]
    assert membership.functions.hasStaffRole(
        OTHER_HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE
    ).call()
    assert not membership.functions.hasStaffRole(
        HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE
    ).call()


# Removing staff


def test_admin_removes_staff(act: Act, membership: Contract, doctor: None) -> None:
    receipt = act(HOSPITAL_ADMIN).transact(
        membership.functions.removeStaff(HOSPITAL.address, DOCTOR.address)
    )
    assert emitted(membership, receipt) == [
        ("StaffRemoved", {"org": HOSPITAL.address, "account": DOCTOR.address})
    ]
    assert membership.functions.staff(DOCTOR.address).call() == (
        HOSPITAL.address,
        DOCTOR_ROLE,
        LICENCE,
        False,
    )
    assert not membership.functions.hasStaffRole(
        HOSPITAL.address, DOCTOR.address, DOCTOR_ROLE
    ).call()
    assert not membership.functions.isActiveMember(DOCTOR.address).call()


def test_removing_by_a_non_admin_is_refused(act: Act, membership: Contract, doctor: None) -> None:
    fn = membership.functions.removeStaff(HOSPITAL.address, DOCTOR.address)
    assert refused(act(DOCTOR), fn) == (
        "MembershipNotOrganisationAdmin",
        {"caller": DOCTOR.address, "org": HOSPITAL.address},
    )


def test_removing_another_organisations_staff_is_refused(
    act: Act, membership: Contract, doctor: None
) -> None:
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    fn = membership.functions.removeStaff(OTHER_HOSPITAL.address, DOCTOR.address)
    assert refused(act(OTHER_ADMIN), fn) == (
        "MembershipUnknownStaff",
        {"account": DOCTOR.address, "org": OTHER_HOSPITAL.address},
    )


def test_removing_removed_staff_is_refused(act: Act, membership: Contract, doctor: None) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    fn = membership.functions.removeStaff(HOSPITAL.address, DOCTOR.address)
    assert refused(act(HOSPITAL_ADMIN), fn) == (
        "MembershipUnknownStaff",
        {"account": DOCTOR.address, "org": HOSPITAL.address},
    )


def test_suspended_organisations_admin_can_still_remove_staff(
    act: Act, membership: Contract, doctor: None
) -> None:
    suspend(act, membership, HOSPITAL)
    receipt = act(HOSPITAL_ADMIN).transact(
        membership.functions.removeStaff(HOSPITAL.address, DOCTOR.address)
    )
    assert [name for name, _ in emitted(membership, receipt)] == ["StaffRemoved"]


# Who is a member


def test_an_organisations_admin_is_not_a_member_by_itself(
    membership: Contract, hospital: None
) -> None:
    assert not membership.functions.isActiveMember(HOSPITAL_ADMIN.address).call()


def test_an_unknown_account_is_not_a_member(membership: Contract) -> None:
    assert not membership.functions.isActiveMember(OUTSIDER.address).call()
    assert membership.functions.organisation(OUTSIDER.address).call() == (0, 0, ZERO)
    assert membership.functions.staff(OUTSIDER.address).call() == (
        ZERO,
        bytes(32),
        bytes(32),
        False,
    )


def test_an_insurer_is_not_a_hospital(act: Act, membership: Contract) -> None:
    admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
    assert membership.functions.isActiveOrganisationOfKind(INSURER.address, OrgKind.INSURER).call()
    assert not membership.functions.isActiveOrganisationOfKind(
        INSURER.address, OrgKind.HOSPITAL
    ).call()
