// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/**
 * @dev Staff and regulator role identifiers, in one place so that {Membership} and the contracts that
 * consult it agree on the values. {Membership} re-exports each as a `public constant` (`DOCTOR_ROLE`, ...).
 */
library MembershipRoles {
    bytes32 internal constant REGULATOR = keccak256("REGULATOR_ROLE");
    bytes32 internal constant DOCTOR = keccak256("DOCTOR_ROLE");
    bytes32 internal constant PHARMACIST = keccak256("PHARMACIST_ROLE");
    bytes32 internal constant CLERK = keccak256("CLERK_ROLE");
    bytes32 internal constant AUDITOR = keccak256("AUDITOR_ROLE");
}
