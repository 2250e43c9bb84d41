// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembershipGated} from "./IMembershipGated.sol";
import {IRecordRegistry} from "./IRecordRegistry.sol";

/**
 * @dev Patients' consents: grants and revocations a patient signs (EIP-712) with a pseudonym key and any
 * member organisation relays, so the patient needs no account balance. A grant opens a scope of the
 * patient's data to one organisation (and so its staff) or to one member, for one purpose, until it
 * expires or is revoked.
 *
 * A patient has one pseudonym per hospital, so every scope lies within one hospital and is signed by the
 * pseudonym the patient holds there: one record that hospital anchored for that pseudonym, or a category
 * of what the hospital holds for it (its records, prescriptions, claims). The chain never links pseudonyms.
 */
interface IConsentRegistry is IMembershipGated {
    /// @dev What a grant opens. `Record`'s scope is a record id; every other kind is a category, whose
    /// scope is a hospital's address (left-padded to 32 bytes).
    enum ScopeKind {
        None,
        Record,
        HospitalRecords,
        Prescriptions,
        Claims
    }

    /// @dev Why the grantee may read.
    enum Purpose {
        None,
        Treatment,
        ClaimVerification,
        Audit,
        Research
    }

    /**
     * @dev The terms a patient signs, as EIP-712 type `Grant(address patient,address grantee,uint8 scopeKind,
     * bytes32 scope,uint8 purpose,uint64 expiresAt,uint256 nonce)`. Its `hashStruct` is the grant's id.
     * `scopeKind` and `purpose` are {ScopeKind} and {Purpose} values, carried as `uint8` so that an unknown
     * value is refused with a custom error rather than by the ABI decoder.
     */
    struct Grant {
        address patient;
        address grantee;
        uint8 scopeKind;
        bytes32 scope;
        uint8 purpose;
        uint64 expiresAt;
        uint256 nonce;
    }

    /// @dev A revocation a patient signs, as EIP-712 type `Revoke(bytes32 grantId,uint256 nonce)`.
    struct Revocation {
        bytes32 grantId;
        uint256 nonce;
    }

    /// @dev Whom a patient appoints to act for them. A `Guardian` (a minor's parent, an adult's legal guardian)
    /// signs grants of any purpose and revocations in the patient's stead, and is the one a gateway asks for
    /// before it sees a young child online. A `Proxy` (a family member, a caregiver) signs grants for
    /// `Treatment` only, and any revocation. Either signs nothing that outlasts its appointment.
    enum AgentKind {
        None,
        Guardian,
        Proxy
    }

    /**
     * @dev An appointment a patient signs, as EIP-712 type `Appointment(address patient,address agent,uint8 kind,
     * uint64 expiresAt,uint256 nonce)`. Its `hashStruct` is the appointment's id; `kind` is an {AgentKind}.
     */
    struct Appointment {
        address patient;
        address agent;
        uint8 kind;
        uint64 expiresAt;
        uint256 nonce;
    }

    /// @dev An appointment's end a patient signs, as EIP-712 type `RevokeAppointment(bytes32 appointmentId,uint256 nonce)`.
    struct AppointmentRevocation {
        bytes32 appointmentId;
        uint256 nonce;
    }

    /// @dev A relayed appointment as stored; `patient` is zero for an id that was never appointed.
    struct AppointmentState {
        address patient;
        uint8 kind;
        uint64 expiresAt;
        bool revoked;
        address agent;
    }

    /// @dev The domain fields a signature was made under; only this chain and this contract are accepted.
    struct SigningDomain {
        uint256 chainId;
        address verifyingContract;
    }

    /// @dev A relayed grant as stored; `patient` is zero for an id that was never granted.
    struct GrantState {
        address patient;
        uint8 scopeKind;
        uint8 purpose;
        uint64 expiresAt;
        bool revoked;
        address grantee;
        bytes32 scope;
    }

    /// @dev `relayer` is not an active member organisation.
    error ConsentRelayerNotMember(address relayer);

    /// @dev The signature is not 65 bytes long.
    error ConsentBadSignatureLength(uint256 length);

    /// @dev The signature's `s` is in the upper half of the curve order: a malleable twin of another signature.
    error ConsentMalleableSignature(bytes32 s);

    /// @dev The signature does not recover to any account.
    error ConsentBadSignature();

    /// @dev The signature recovers to `signer`, not to `patient`, who must sign.
    error ConsentSignerNotPatient(address signer, address patient);

    /// @dev The signature was made for chain `signedFor`, not this chain `current`.
    error ConsentWrongChain(uint256 signedFor, uint256 current);

    /// @dev The signature was made for the contract `signedFor`, not this one, `current`.
    error ConsentWrongContract(address signedFor, address current);

    /// @dev The grant `grantId` is already in force; it is relayed once.
    error ConsentAlreadyGranted(bytes32 grantId);

    /// @dev The grant `grantId` was revoked; relaying it again does not revive it.
    error ConsentGrantRevoked(bytes32 grantId);

    /// @dev `patient` has already used `nonce`, in a grant or a revocation.
    error ConsentNonceUsed(address patient, uint256 nonce);

    /// @dev The grant expires at `expiresAt`, which is not later than the current block's `currentTime`.
    error ConsentExpired(uint64 expiresAt, uint64 currentTime);

    /// @dev `purpose` is not a {Purpose} other than `None`.
    error ConsentUnknownPurpose(uint8 purpose);

    /// @dev `grantee` is neither an active organisation nor active staff of one.
    error ConsentGranteeNotMember(address grantee);

    /// @dev `scopeKind` is not a {ScopeKind} other than `None`.
    error ConsentUnknownScopeKind(uint8 scopeKind);

    /// @dev `recordId` has never been anchored.
    error ConsentUnknownRecord(bytes32 recordId);

    /// @dev `recordId` was anchored for another pseudonym than `patient`.
    error ConsentNotRecordPatient(bytes32 recordId, address patient);

    /// @dev The scope of a category grant, `scope`, is not the address of an admitted hospital.
    error ConsentScopeNotHospital(bytes32 scope);

    /// @dev No grant `grantId` has been relayed.
    error ConsentUnknownGrant(bytes32 grantId);

    /// @dev The grant `grantId` is already revoked.
    error ConsentAlreadyRevoked(bytes32 grantId);

    /// @dev `signer` signed for `patient`, but no appointment of it as `patient`'s agent is in force now.
    error ConsentAgentNotInForce(address signer, address patient);

    /// @dev `agent`, a {AgentKind} `kind` agent, may not sign a grant for `purpose`.
    error ConsentAgentMayNotGrant(address agent, uint8 kind, uint8 purpose);

    /// @dev An agent's grant expires at `expiresAt`, after its appointment does, at `appointmentExpiresAt`.
    error ConsentGrantOutlastsAppointment(uint64 expiresAt, uint64 appointmentExpiresAt);

    /// @dev `kind` is not an {AgentKind} other than `None`.
    error ConsentUnknownAgentKind(uint8 kind);

    /// @dev `agent` is the zero address or the patient itself: no one to act for the patient.
    error ConsentBadAgent(address agent);

    /// @dev The appointment `appointmentId` is already in force; it is relayed once.
    error ConsentAlreadyAppointed(bytes32 appointmentId);

    /// @dev The appointment `appointmentId` was revoked; relaying it again does not revive it.
    error ConsentAppointmentRevoked(bytes32 appointmentId);

    /// @dev No appointment `appointmentId` has been relayed.
    error ConsentUnknownAppointment(bytes32 appointmentId);

    /// @dev `patient` granted `grantee` access to `scope` (of `scopeKind`) for `purpose` until `expiresAt`,
    /// using `nonce`.
    event ConsentGranted(
        bytes32 indexed grantId,
        address indexed patient,
        address indexed grantee,
        uint8 scopeKind,
        bytes32 scope,
        uint8 purpose,
        uint64 expiresAt,
        uint256 nonce
    );

    /// @dev `patient` revoked the grant `grantId`, using `nonce`.
    event ConsentRevoked(bytes32 indexed grantId, address indexed patient, uint256 nonce);

    /// @dev `agent` signed the grant `grantId` for its patient, under the appointment `appointmentId`.
    event ConsentGrantedByAgent(bytes32 indexed grantId, address indexed agent, bytes32 indexed appointmentId);

    /// @dev `agent` signed the revocation of the grant `grantId`, under the appointment `appointmentId`.
    event ConsentRevokedByAgent(bytes32 indexed grantId, address indexed agent, bytes32 indexed appointmentId);

    /// @dev `patient` appointed `agent` as its {AgentKind} `kind` agent until `expiresAt`, using `nonce`.
    event AgentAppointed(
        bytes32 indexed appointmentId,
        address indexed patient,
        address indexed agent,
        uint8 kind,
        uint64 expiresAt,
        uint256 nonce
    );

    /// @dev `patient` revoked the appointment `appointmentId`, using `nonce`; its agent's grants lapse with it.
    event AgentAppointmentRevoked(bytes32 indexed appointmentId, address indexed patient, uint256 nonce);

    /**
     * @dev Records the grant `terms`, signed by `terms.patient` or an agent of theirs under `domain`, and
     * returns its id. An agent's grant is tied to its appointment: it lapses when the appointment is revoked.
     *
     * Requirements:
     * - the caller is an active member organisation;
     * - `signature` is a 65-byte, low-s signature of `terms` under `domain` by `terms.patient`, or by an agent
     *   whose appointment for `terms.patient` is in force, whose kind may grant `terms.purpose` (see
     *   {AgentKind}), and whose appointment expires no earlier than `terms.expiresAt`;
     * - `domain` is this chain and this contract;
     * - the grant has not been relayed before, and `terms.nonce` is unused by `terms.patient`;
     * - `terms.expiresAt` is later than the current block's timestamp;
     * - `terms.purpose` is a {Purpose} and `terms.grantee` an active member (organisation or staff);
     * - for scope kind `Record`: `terms.scope` is an anchored record whose patient is `terms.patient`;
     *   for a category: `terms.scope` is the left-padded address of an admitted hospital.
     *
     * Emits a {ConsentGranted} event, and a {ConsentGrantedByAgent} event if an agent signed.
     */
    function grantConsent(Grant calldata terms, SigningDomain calldata domain, bytes calldata signature)
        external
        returns (bytes32 grantId);

    /**
     * @dev Revokes the grant `revocation.grantId`, at once, by its patient's signature under `domain`.
     *
     * Requirements:
     * - the caller is an active member organisation;
     * - the grant has been relayed;
     * - `signature` is a 65-byte, low-s signature of `revocation` under `domain` by the grant's patient, or by
     *   an agent whose appointment for that patient is in force;
     * - `domain` is this chain and this contract;
     * - the grant is not revoked, and `revocation.nonce` is unused by its patient.
     *
     * Emits a {ConsentRevoked} event, and a {ConsentRevokedByAgent} event if an agent signed.
     */
    function revokeConsent(Revocation calldata revocation, SigningDomain calldata domain, bytes calldata signature)
        external;

    /**
     * @dev Records the appointment `terms`, signed by `terms.patient` under `domain`, and returns its id.
     *
     * Requirements:
     * - the caller is an active member organisation;
     * - `signature` is a 65-byte, low-s signature of `terms` under `domain` by `terms.patient`;
     * - `domain` is this chain and this contract;
     * - the appointment has not been relayed before, and `terms.nonce` is unused by `terms.patient`;
     * - `terms.expiresAt` is later than the current block's timestamp;
     * - `terms.kind` is an {AgentKind} other than `None`, and `terms.agent` is neither zero nor the patient.
     *
     * Emits an {AgentAppointed} event.
     */
    function appointAgent(Appointment calldata terms, SigningDomain calldata domain, bytes calldata signature)
        external
        returns (bytes32 appointmentId);

    /**
     * @dev Ends the appointment `revocation.appointmentId`, at once, by its patient's signature under `domain`.
     * The grants its agent signed lapse with it.
     *
     * Requirements:
     * - the caller is an active member organisation;
     * - the appointment has been relayed;
     * - `signature` is a 65-byte, low-s signature of `revocation` under `domain` by the appointment's patient;
     * - `domain` is this chain and this contract;
     * - the appointment is not revoked, and `revocation.nonce` is unused by its patient.
     *
     * Emits an {AgentAppointmentRevoked} event.
     */
    function revokeAppointment(
        AppointmentRevocation calldata revocation,
        SigningDomain calldata domain,
        bytes calldata signature
    ) external;

    /**
     * @dev Returns the appointment `appointmentId` as stored; all fields are zero if it was never relayed.
     *
     * Requirements: none. Emits nothing.
     */
    function appointment(bytes32 appointmentId) external view returns (AppointmentState memory);

    /**
     * @dev Returns the {AgentKind} of `agent`'s appointment for `patient` in force at `time` (a guardian's
     * before a proxy's), and its id; `None` and zero if there is none. In force: unrevoked, `time` before expiry.
     *
     * Requirements: none. Emits nothing.
     */
    function agentInForce(address patient, address agent, uint64 time)
        external
        view
        returns (uint8 kind, bytes32 appointmentId);

    /**
     * @dev Returns whether a guardian's appointment for `patient` is in force at `time`, and its id.
     *
     * Requirements: none. Emits nothing.
     */
    function guardianInForce(address patient, uint64 time) external view returns (bool, bytes32 appointmentId);

    /**
     * @dev Returns the appointment under which an agent signed the grant `grantId`; zero if its patient did.
     *
     * Requirements: none. Emits nothing.
     */
    function grantAppointment(bytes32 grantId) external view returns (bytes32);

    /**
     * @dev Returns whether a grant in force opens `recordId` to `requester` for `purpose`, and the id of the
     * first such grant (zero if none). A grant is in force while unrevoked and `time` is before its expiry.
     * It covers `requester` if granted to `requester` itself or to the organisation it is active staff of
     * (an organisation account acts for itself); `requester` and that organisation must be active members.
     * It covers `recordId` if scoped to that record, or to its hospital's records for its patient.
     *
     * Requirements: none (an unknown record is opened by no grant). Emits nothing.
     */
    function isAuthorised(address requester, bytes32 recordId, uint8 purpose, uint64 time)
        external
        view
        returns (bool authorised, bytes32 grantId);

    /**
     * @dev Returns whether a grant in force opens the category `scopeKind` of what `hospital` holds for the
     * pseudonym `patient` to `requester` for `purpose`, and the first such grant's id (zero if none). In force
     * and covered as for {isAuthorised}; for contracts that hold items of a category (prescriptions, claims).
     *
     * Requirements: none (`scopeKind` `Record` or unknown is opened by no grant). Emits nothing.
     */
    function isAuthorisedForCategory(
        address requester,
        address patient,
        address hospital,
        uint8 scopeKind,
        uint8 purpose,
        uint64 time
    ) external view returns (bool authorised, bytes32 grantId);

    /**
     * @dev Returns the grant `grantId` as stored; all fields are zero if it was never relayed.
     *
     * Requirements: none. Emits nothing.
     */
    function grant(bytes32 grantId) external view returns (GrantState memory);

    /**
     * @dev Returns whether `patient` has used `nonce`, in a grant or a revocation.
     *
     * Requirements: none. Emits nothing.
     */
    function isNonceUsed(address patient, uint256 nonce) external view returns (bool);

    /**
     * @dev Returns the record registry that record-scoped grants are checked against; fixed at deployment.
     *
     * Requirements: none. Emits nothing.
     */
    function records() external view returns (IRecordRegistry);
}
