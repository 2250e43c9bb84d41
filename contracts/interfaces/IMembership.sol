// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/**
 * @dev Who belongs to the consortium: organisations admitted by the regulator, and the staff each
 * organisation's admin registers under it.
 */
interface IMembership {
    enum OrgKind {
        None,
        Hospital,
        Insurer,
        Pharmacy,
        Regulator
    }

    enum OrgStatus {
        None,
        Active,
        Suspended
    }

    struct Organisation {
        OrgKind kind;
        OrgStatus status;
        address admin;
    }

    struct Staff {
        address org;
        bytes32 role;
        bytes32 licenceCommitment;
        bool active;
    }

    /// @dev `org` has already been admitted; an organisation is admitted once, then suspended or reinstated.
    error MembershipOrganisationAlreadyAdmitted(address org);

    /// @dev `org` has never been admitted.
    error MembershipUnknownOrganisation(address org);

    /// @dev `org` is admitted but not active (it is suspended).
    error MembershipOrganisationNotActive(address org);

    /// @dev `org` is admitted but not suspended, so it cannot be reinstated.
    error MembershipOrganisationNotSuspended(address org);

    /// @dev The organisation kind given is `None`.
    error MembershipInvalidKind();

    /// @dev An address argument that must name an account is zero.
    error MembershipZeroAddress();

    /// @dev `caller` is not the admin account of `org`.
    error MembershipNotOrganisationAdmin(address caller, address org);

    /// @dev `role` is not one of the staff roles (doctor, pharmacist, clerk, auditor).
    error MembershipUnknownRole(bytes32 role);

    /// @dev `role` (doctor or pharmacist) needs a nonzero licence commitment.
    error MembershipLicenceRequired(bytes32 role);

    /// @dev `account` is already active staff of `org`; an account serves one organisation at a time.
    error MembershipStaffAlreadyRegistered(address account, address org);

    /// @dev `account` is not active staff of `org`.
    error MembershipUnknownStaff(address account, address org);

    /// @dev The signature given is not `account`'s consent to join this organisation in this role, under its
    /// current nonce.
    error MembershipJoinNotSigned(address account);

    /// @dev The account's consent to join was valid until `deadline`, before the block's time.
    error MembershipJoinExpired(uint64 deadline);

    /// @dev `org` was admitted as `kind`, administered by `admin`.
    event OrganisationAdmitted(address indexed org, OrgKind kind, address indexed admin);

    /// @dev `org` was suspended by the regulator account `by`.
    event OrganisationSuspended(address indexed org, address indexed by);

    /// @dev `org` was reinstated by the regulator account `by`.
    event OrganisationReinstated(address indexed org, address indexed by);

    /// @dev `account` was registered as staff of `org` with `role` and a salted commitment to its licence.
    event StaffRegistered(address indexed org, address indexed account, bytes32 indexed role, bytes32 licenceCommitment);

    /// @dev `account` was removed from the staff of `org`.
    event StaffRemoved(address indexed org, address indexed account);

    /**
     * @dev Admits `org` as an active organisation of `kind`, administered by `admin`.
     *
     * Requirements:
     * - the caller has `REGULATOR_ROLE`;
     * - `org` and `admin` are nonzero, `kind` is not `None`;
     * - `org` has not been admitted before.
     *
     * Emits an {OrganisationAdmitted} event.
     */
    function admitOrganisation(address org, OrgKind kind, address admin) external;

    /**
     * @dev Suspends `org`: it and its staff stop being members until reinstated.
     *
     * Requirements:
     * - the caller has `REGULATOR_ROLE`;
     * - `org` is admitted and active.
     *
     * Emits an {OrganisationSuspended} event.
     */
    function suspendOrganisation(address org) external;

    /**
     * @dev Reinstates a suspended `org`, together with the staff it had.
     *
     * Requirements:
     * - the caller has `REGULATOR_ROLE`;
     * - `org` is admitted and suspended.
     *
     * Emits an {OrganisationReinstated} event.
     */
    function reinstateOrganisation(address org) external;

    /**
     * @dev Registers `account` as staff of `org` with `role`, on `account`'s own consent: `signature` is its
     * EIP-712 `JoinOrganisation(address org,address account,bytes32 role,bytes32 licenceCommitment,uint256
     * nonce,uint64 deadline)` under the domain `{name: "MedLedger Membership", version: "1", chainId,
     * verifyingContract: this}`, with `nonce` = {nonces}`(account)`, which this call uses up.
     *
     * Requirements:
     * - `org` is admitted and the caller is its admin;
     * - `org` is active;
     * - `account` is nonzero and `role` is a staff role;
     * - `licenceCommitment` is nonzero for a doctor or a pharmacist;
     * - `account` is not active staff of any organisation;
     * - `deadline` has not passed, and `signature` is `account`'s consent to exactly this.
     *
     * Emits a {StaffRegistered} event.
     */
    function registerStaff(
        address org,
        address account,
        bytes32 role,
        bytes32 licenceCommitment,
        uint64 deadline,
        bytes calldata signature
    ) external;

    /**
     * @dev Returns the nonce `account`'s next consent to join an organisation must carry.
     *
     * Requirements: none. Emits nothing.
     */
    function nonces(address account) external view returns (uint256);

    /**
     * @dev Removes `account` from the staff of `org`; it may later be registered again, by any organisation.
     *
     * Requirements:
     * - `org` is admitted and the caller is its admin (a suspended organisation may still remove staff);
     * - `account` is active staff of `org`.
     *
     * Emits a {StaffRemoved} event.
     */
    function removeStaff(address org, address account) external;

    /**
     * @dev Returns the organisation recorded for `org`; all fields are zero if it was never admitted.
     *
     * Requirements: none. Emits nothing.
     */
    function organisation(address org) external view returns (Organisation memory);

    /**
     * @dev Returns the staff entry of `account`: its current or last organisation; zero if never registered.
     *
     * Requirements: none. Emits nothing.
     */
    function staff(address account) external view returns (Staff memory);

    /**
     * @dev Returns whether `org` is admitted and active.
     *
     * Requirements: none. Emits nothing.
     */
    function isActiveOrganisation(address org) external view returns (bool);

    /**
     * @dev Returns whether `org` is admitted as `kind` and active.
     *
     * Requirements: none. Emits nothing.
     */
    function isActiveOrganisationOfKind(address org, OrgKind kind) external view returns (bool);

    /**
     * @dev Returns whether `account` is active staff of `org` with `role`, and `org` is active.
     *
     * Requirements: none. Emits nothing.
     */
    function hasStaffRole(address org, address account, bytes32 role) external view returns (bool);

    /**
     * @dev Returns whether `account` is an active organisation, or active staff of an active organisation.
     *
     * Requirements: none. Emits nothing.
     */
    function isActiveMember(address account) external view returns (bool);
}
