// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {MembershipGated} from "./MembershipGated.sol";
import {TypedData} from "./utils/TypedData.sol";

/**
 * @dev The consent register: grants and revocations signed by patients' pseudonyms under the EIP-712 domain
 * `{name: "MedLedger Consent", version: "1", chainId, verifyingContract: this}`, relayed by member
 * organisations. Grants are indexed by what they open, so {isAuthorised} reads only the grants that could apply.
 * A patient may appoint agents (guardians, proxies: see {AgentKind}) who sign grants and revocations for them;
 * the chain names the agent who signed, and an agent's grants lapse with its appointment.
 */
contract ConsentRegistry is IConsentRegistry, MembershipGated {
    bytes32 private constant _NAME_HASH = keccak256("MedLedger Consent");
    bytes32 private constant _VERSION_HASH = keccak256("1");
    bytes32 private constant _GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,uint8 scopeKind,bytes32 scope,uint8 purpose,uint64 expiresAt,uint256 nonce)"
    );
    bytes32 private constant _REVOKE_TYPEHASH = keccak256("Revoke(bytes32 grantId,uint256 nonce)");
    bytes32 private constant _APPOINT_TYPEHASH =
        keccak256("Appointment(address patient,address agent,uint8 kind,uint64 expiresAt,uint256 nonce)");
    bytes32 private constant _REVOKE_APPOINTMENT_TYPEHASH =
        keccak256("RevokeAppointment(bytes32 appointmentId,uint256 nonce)");

    IRecordRegistry private immutable _records;

    mapping(bytes32 grantId => GrantState) private _grants;
    // Unordered nonces: a phone wallet signs grants offline and members relay them in any order, or never;
    // with a sequence, one grant left unrelayed would block every later signature.
    mapping(address patient => mapping(uint256 nonce => bool)) private _usedNonces;
    // Ids of every grant made for one (patient, scope kind, scope, grantee, purpose): see {_slot}.
    mapping(bytes32 slot => bytes32[]) private _grantIds;
    mapping(bytes32 appointmentId => AppointmentState) private _appointments;
    // A patient appoints a handful of agents in a lifetime: their list is scanned whole.
    mapping(address patient => bytes32[]) private _appointmentIds;
    mapping(bytes32 grantId => bytes32 appointmentId) private _grantAppointments;

    /**
     * @dev Consults `membership_` for relayers and grantees, and `records_` for record-scoped grants.
     *
     * Requirements: none. Emits nothing.
     */
    constructor(IMembership membership_, IRecordRegistry records_) MembershipGated(membership_) {
        _records = records_;
    }

    /// @inheritdoc IConsentRegistry
    function grantConsent(Grant calldata terms, SigningDomain calldata domain, bytes calldata signature)
        public
        returns (bytes32 grantId)
    {
        _checkRelayer(msg.sender);
        grantId = _hashGrant(terms);
        (address signer, bytes32 appointmentId) = _checkSignatureOrAgent(grantId, domain, signature, terms.patient);
        if (appointmentId != bytes32(0)) _checkAgentGrant(signer, appointmentId, terms);
        _grantConsent(grantId, terms);
        if (appointmentId != bytes32(0)) {
            _grantAppointments[grantId] = appointmentId;
            emit ConsentGrantedByAgent(grantId, signer, appointmentId);
        }
    }

    /// @inheritdoc IConsentRegistry
    function revokeConsent(Revocation calldata revocation, SigningDomain calldata domain, bytes calldata signature)
        public
    {
        _checkRelayer(msg.sender);
        address patient = _grants[revocation.grantId].patient;
        if (patient == address(0)) revert ConsentUnknownGrant(revocation.grantId);
        (address signer, bytes32 appointmentId) =
            _checkSignatureOrAgent(_hashRevocation(revocation), domain, signature, patient);
        _revokeConsent(revocation.grantId, patient, revocation.nonce);
        if (appointmentId != bytes32(0)) emit ConsentRevokedByAgent(revocation.grantId, signer, appointmentId);
    }

    /// @inheritdoc IConsentRegistry
    function appointAgent(Appointment calldata terms, SigningDomain calldata domain, bytes calldata signature)
        public
        returns (bytes32 appointmentId)
    {
        _checkRelayer(msg.sender);
        appointmentId = _hashAppointment(terms);
        _checkSignature(appointmentId, domain, signature, terms.patient);
        _appointAgent(appointmentId, terms);
    }

    /// @inheritdoc IConsentRegistry
    function revokeAppointment(
        AppointmentRevocation calldata revocation,
        SigningDomain calldata domain,
        bytes calldata signature
    ) public {
        _checkRelayer(msg.sender);
        address patient = _appointments[revocation.appointmentId].patient;
        if (patient == address(0)) revert ConsentUnknownAppointment(revocation.appointmentId);
        _checkSignature(_hashAppointmentRevocation(revocation), domain, signature, patient);
        _revokeAppointment(revocation.appointmentId, patient, revocation.nonce);
    }

    /// @inheritdoc IConsentRegistry
    function isAuthorised(address requester, bytes32 recordId, uint8 purpose, uint64 time)
        public
        view
        returns (bool, bytes32)
    {
        (address org, bool member) = _organisationOf(requester);
        if (!member || _records.latestVersion(recordId) == 0) return (false, bytes32(0));
        IRecordRegistry.RecordVersion memory first = _records.recordVersion(recordId, 1);
        bytes32 grantId = _findInForce(org, requester, first.patient, ScopeKind.Record, recordId, purpose, time);
        if (grantId == bytes32(0)) {
            bytes32 hospital = _hospitalScope(first.hospital);
            grantId = _findInForce(org, requester, first.patient, ScopeKind.HospitalRecords, hospital, purpose, time);
        }
        return (grantId != bytes32(0), grantId);
    }

    /// @inheritdoc IConsentRegistry
    function isAuthorisedForCategory(
        address requester,
        address patient,
        address hospital,
        uint8 scopeKind,
        uint8 purpose,
        uint64 time
    ) public view returns (bool, bytes32) {
        (address org, bool member) = _organisationOf(requester);
        if (!member || !_isCategory(scopeKind)) return (false, bytes32(0));
        bytes32 grantId =
            _findInForce(org, requester, patient, ScopeKind(scopeKind), _hospitalScope(hospital), purpose, time);
        return (grantId != bytes32(0), grantId);
    }

    /// @inheritdoc IConsentRegistry
    function grant(bytes32 grantId) public view returns (GrantState memory) {
        return _grants[grantId];
    }

    /// @inheritdoc IConsentRegistry
    function isNonceUsed(address patient, uint256 nonce) public view returns (bool) {
        return _usedNonces[patient][nonce];
    }

    /// @inheritdoc IConsentRegistry
    function records() public view returns (IRecordRegistry) {
        return _records;
    }

    /// @inheritdoc IConsentRegistry
    function appointment(bytes32 appointmentId) public view returns (AppointmentState memory) {
        return _appointments[appointmentId];
    }

    /// @inheritdoc IConsentRegistry
    function agentInForce(address patient, address agent, uint64 time)
        public
        view
        returns (uint8 kind, bytes32 appointmentId)
    {
        (appointmentId,) = _agentAppointment(patient, agent, time);
        kind = _appointments[appointmentId].kind;
    }

    /// @inheritdoc IConsentRegistry
    function guardianInForce(address patient, uint64 time) public view returns (bool, bytes32 appointmentId) {
        bytes32[] storage ids = _appointmentIds[patient];
        for (uint256 i = 0; i < ids.length; ++i) {
            // slither-disable-next-line timestamp - `time` is the caller's, and expiry a wall-clock rule of months
            if (_appointments[ids[i]].kind == uint8(AgentKind.Guardian) && _inForce(ids[i], time)) {
                return (true, ids[i]);
            }
        }
        return (false, bytes32(0));
    }

    /// @inheritdoc IConsentRegistry
    function grantAppointment(bytes32 grantId) public view returns (bytes32) {
        return _grantAppointments[grantId];
    }

    /**
     * @dev Stores the appointment `terms` under `appointmentId` and consumes its nonce. Internal function without
     * access restriction: the caller has checked the patient's signature.
     *
     * Requirements:
     * - `appointmentId` has not been appointed, and `terms.nonce` is unused by `terms.patient`;
     * - `terms.expiresAt` is later than the current block's timestamp;
     * - `terms.kind` is an {AgentKind} other than `None`; `terms.agent` is neither zero nor the patient.
     *
     * Emits an {AgentAppointed} event.
     */
    function _appointAgent(bytes32 appointmentId, Appointment calldata terms) internal {
        AppointmentState storage stored = _appointments[appointmentId];
        if (stored.revoked) revert ConsentAppointmentRevoked(appointmentId);
        if (stored.patient != address(0)) revert ConsentAlreadyAppointed(appointmentId);
        _useNonce(terms.patient, terms.nonce);
        // slither-disable-next-line timestamp - as for grants: an appointment of months moves by a validator's seconds
        if (terms.expiresAt <= block.timestamp) revert ConsentExpired(terms.expiresAt, uint64(block.timestamp));
        if (terms.kind == uint8(AgentKind.None) || terms.kind > uint8(type(AgentKind).max)) {
            revert ConsentUnknownAgentKind(terms.kind);
        }
        if (terms.agent == address(0) || terms.agent == terms.patient) revert ConsentBadAgent(terms.agent);
        _appointments[appointmentId] = AppointmentState({
            patient: terms.patient,
            kind: terms.kind,
            expiresAt: terms.expiresAt,
            revoked: false,
            agent: terms.agent
        });
        _appointmentIds[terms.patient].push(appointmentId);
        emit AgentAppointed(appointmentId, terms.patient, terms.agent, terms.kind, terms.expiresAt, terms.nonce);
    }

    /**
     * @dev Marks the appointment `appointmentId` of `patient` revoked and consumes `nonce`. Internal function
     * without access restriction: the caller has checked the patient's signature.
     *
     * Requirements:
     * - the appointment is not revoked, and `nonce` is unused by `patient`.
     *
     * Emits an {AgentAppointmentRevoked} event.
     */
    function _revokeAppointment(bytes32 appointmentId, address patient, uint256 nonce) internal {
        AppointmentState storage stored = _appointments[appointmentId];
        if (stored.revoked) revert ConsentAppointmentRevoked(appointmentId);
        _useNonce(patient, nonce);
        stored.revoked = true;
        emit AgentAppointmentRevoked(appointmentId, patient, nonce);
    }

    /**
     * @dev Reverts unless the agent `agent`, appointed under `appointmentId`, may sign the grant `terms`.
     *
     * Requirements:
     * - a proxy grants for `Treatment` only;
     * - `terms.expiresAt` is not later than the appointment's expiry.
     *
     * Emits nothing.
     */
    function _checkAgentGrant(address agent, bytes32 appointmentId, Grant calldata terms) internal view {
        AppointmentState storage a = _appointments[appointmentId];
        if (a.kind == uint8(AgentKind.Proxy) && terms.purpose != uint8(Purpose.Treatment)) {
            revert ConsentAgentMayNotGrant(agent, a.kind, terms.purpose);
        }
        if (terms.expiresAt > a.expiresAt) revert ConsentGrantOutlastsAppointment(terms.expiresAt, a.expiresAt);
    }

    /**
     * @dev Stores the grant `terms` under `grantId` and consumes its nonce. Internal function without access
     * restriction: the caller has checked the patient's signature.
     *
     * Requirements:
     * - `grantId` has not been granted, and `terms.nonce` is unused by `terms.patient`;
     * - `terms.expiresAt` is later than the current block's timestamp;
     * - `terms.purpose`, `terms.grantee` and the scope are valid (see {_checkTerms}).
     *
     * Emits a {ConsentGranted} event.
     */
    function _grantConsent(bytes32 grantId, Grant calldata terms) internal {
        GrantState storage stored = _grants[grantId];
        // A replay of a known grant says what became of it, before its nonce could say "used".
        if (stored.revoked) revert ConsentGrantRevoked(grantId);
        if (stored.patient != address(0)) revert ConsentAlreadyGranted(grantId);
        _useNonce(terms.patient, terms.nonce);
        // slither-disable-next-line timestamp - expiry is a wall-clock rule; a validator's few seconds of timestamp leeway only moves when a grant of days or months lapses
        if (terms.expiresAt <= block.timestamp) revert ConsentExpired(terms.expiresAt, uint64(block.timestamp));
        _checkTerms(terms);
        _grants[grantId] = GrantState({
            patient: terms.patient,
            scopeKind: terms.scopeKind,
            purpose: terms.purpose,
            expiresAt: terms.expiresAt,
            revoked: false,
            grantee: terms.grantee,
            scope: terms.scope
        });
        _grantIds[_slot(terms.patient, ScopeKind(terms.scopeKind), terms.scope, terms.grantee, terms.purpose)].push(
            grantId
        );
        emit ConsentGranted(
            grantId,
            terms.patient,
            terms.grantee,
            terms.scopeKind,
            terms.scope,
            terms.purpose,
            terms.expiresAt,
            terms.nonce
        );
    }

    /**
     * @dev Marks the grant `grantId` of `patient` revoked and consumes `nonce`. Internal function without
     * access restriction: the caller has checked the patient's signature.
     *
     * Requirements:
     * - the grant is not revoked, and `nonce` is unused by `patient`.
     *
     * Emits a {ConsentRevoked} event.
     */
    function _revokeConsent(bytes32 grantId, address patient, uint256 nonce) internal {
        GrantState storage stored = _grants[grantId];
        if (stored.revoked) revert ConsentAlreadyRevoked(grantId);
        _useNonce(patient, nonce);
        stored.revoked = true;
        emit ConsentRevoked(grantId, patient, nonce);
    }

    /**
     * @dev Marks `nonce` used by `patient`.
     *
     * Requirements:
     * - `patient` has not used `nonce`.
     *
     * Emits nothing.
     */
    function _useNonce(address patient, uint256 nonce) private {
        if (_usedNonces[patient][nonce]) revert ConsentNonceUsed(patient, nonce);
        _usedNonces[patient][nonce] = true;
    }

    /**
     * @dev Reverts unless `relayer` is an active member organisation: staff never send transactions.
     *
     * Requirements:
     * - `relayer` is an active organisation.
     *
     * Emits nothing.
     */
    function _checkRelayer(address relayer) internal view {
        if (!membership().isActiveOrganisation(relayer)) revert ConsentRelayerNotMember(relayer);
    }

    /**
     * @dev Reverts unless `signature` is `patient`'s signature of `structHash` under `domain`, and `domain` is
     * this chain and this contract. The signature is checked under the domain it claims, so that one made for
     * another chain or contract is told apart from one made by someone else; it is accepted under ours only.
     *
     * Requirements:
     * - `signature` is 65 bytes with a low `s`, and recovers to `patient`;
     * - `domain` names this chain and this contract.
     *
     * Emits nothing.
     */
    function _checkSignature(
        bytes32 structHash,
        SigningDomain calldata domain,
        bytes calldata signature,
        address patient
    ) internal view {
        address signer = _recover(structHash, domain, signature);
        if (signer != patient) revert ConsentSignerNotPatient(signer, patient);
        _checkDomain(domain);
    }

    /**
     * @dev As {_checkSignature}, but the signer may also be an agent whose appointment for `patient` is in force
     * now; returns the signer and that appointment's id (zero if the patient signed).
     *
     * Requirements:
     * - `signature` is 65 bytes with a low `s`, and recovers to `patient` or to an agent of theirs in force;
     * - `domain` names this chain and this contract.
     *
     * Emits nothing.
     */
    function _checkSignatureOrAgent(
        bytes32 structHash,
        SigningDomain calldata domain,
        bytes calldata signature,
        address patient
    ) internal view returns (address signer, bytes32 appointmentId) {
        signer = _recover(structHash, domain, signature);
        if (signer != patient) {
            bool appointed;
            (appointmentId, appointed) = _agentAppointment(patient, signer, uint64(block.timestamp));
            if (appointmentId == bytes32(0)) {
                if (appointed) revert ConsentAgentNotInForce(signer, patient);
                revert ConsentSignerNotPatient(signer, patient);
            }
        }
        _checkDomain(domain);
    }

    /**
     * @dev Returns who signed `structHash` under the domain `domain` claims.
     *
     * Requirements:
     * - `signature` is 65 bytes with a low `s`, and recovers to an account.
     *
     * Emits nothing.
     */
    function _recover(bytes32 structHash, SigningDomain calldata domain, bytes calldata signature)
        private
        pure
        returns (address signer)
    {
        bytes32 separator =
            TypedData.domainSeparator(_NAME_HASH, _VERSION_HASH, domain.chainId, domain.verifyingContract);
        ECDSA.RecoverError err;
        bytes32 errArg;
        (signer, err, errArg) =
            ECDSA.tryRecoverCalldata(TypedData.digest(separator, structHash), signature);
        if (err == ECDSA.RecoverError.InvalidSignatureLength) revert ConsentBadSignatureLength(uint256(errArg));
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert ConsentMalleableSignature(errArg);
        if (err != ECDSA.RecoverError.NoError) revert ConsentBadSignature();
    }

    /**
     * @dev Reverts unless `domain` is this chain and this contract.
     *
     * Requirements:
     * - `domain` names this chain and this contract.
     *
     * Emits nothing.
     */
    function _checkDomain(SigningDomain calldata domain) private view {
        if (domain.chainId != block.chainid) revert ConsentWrongChain(domain.chainId, block.chainid);
        if (domain.verifyingContract != address(this)) {
            revert ConsentWrongContract(domain.verifyingContract, address(this));
        }
    }

    /**
     * @dev Reverts unless the purpose, grantee and scope of `terms` are valid.
     *
     * Requirements:
     * - `terms.purpose` is a {Purpose} other than `None`;
     * - `terms.grantee` is an active member;
     * - `terms.scopeKind` is a {ScopeKind} other than `None`;
     * - for `Record`: `terms.scope` is an anchored record whose patient is `terms.patient`;
     * - for a category: `terms.scope` is the left-padded address of an admitted hospital.
     *
     * Emits nothing.
     */
    function _checkTerms(Grant calldata terms) internal view {
        if (terms.purpose == uint8(Purpose.None) || terms.purpose > uint8(type(Purpose).max)) {
            revert ConsentUnknownPurpose(terms.purpose);
        }
        if (!membership().isActiveMember(terms.grantee)) revert ConsentGranteeNotMember(terms.grantee);
        if (terms.scopeKind == uint8(ScopeKind.Record)) {
            // The pseudonym the record names signs for it: that is how a patient proves a record is theirs.
            if (_records.latestVersion(terms.scope) == 0) revert ConsentUnknownRecord(terms.scope);
            if (_records.recordVersion(terms.scope, 1).patient != terms.patient) {
                revert ConsentNotRecordPatient(terms.scope, terms.patient);
            }
        } else if (_isCategory(terms.scopeKind)) {
            if (
                uint256(terms.scope) >> 160 != 0
                    || membership().organisation(address(uint160(uint256(terms.scope)))).kind
                        != IMembership.OrgKind.Hospital
            ) revert ConsentScopeNotHospital(terms.scope);
        } else {
            revert ConsentUnknownScopeKind(terms.scopeKind);
        }
    }

    /**
     * @dev Returns the first grant in force at `time` among those for (`patient`, `kind`, `scope`, `purpose`) made
     * to `org` or to `requester`; zero if there is none.
     *
     * Requirements: none. Emits nothing.
     */
    function _findInForce(
        address org,
        address requester,
        address patient,
        ScopeKind kind,
        bytes32 scope,
        uint8 purpose,
        uint64 time
    ) private view returns (bytes32 grantId) {
        grantId = _firstInForce(_slot(patient, kind, scope, org, purpose), time);
        if (grantId == bytes32(0) && requester != org) {
            grantId = _firstInForce(_slot(patient, kind, scope, requester, purpose), time);
        }
    }

    /**
     * @dev Returns the first grant listed under `slot` that is unrevoked and expires after `time`; zero if none.
     * The list grows only by grants the patient signed, each with a fresh nonce.
     *
     * Requirements: none. Emits nothing.
     */
    function _firstInForce(bytes32 slot, uint64 time) private view returns (bytes32) {
        bytes32[] storage ids = _grantIds[slot];
        for (uint256 i = 0; i < ids.length; ++i) {
            GrantState storage g = _grants[ids[i]];
            bytes32 signedUnder = _grantAppointments[ids[i]];
            if (signedUnder != bytes32(0) && _appointments[signedUnder].revoked) continue;
            if (!g.revoked && time < g.expiresAt) return ids[i];
        }
        return bytes32(0);
    }

    /**
     * @dev Returns `agent`'s appointment for `patient` in force at `time`, a guardian's before a proxy's (zero if
     * none), and whether `patient` ever appointed `agent`.
     *
     * Requirements: none. Emits nothing.
     */
    function _agentAppointment(address patient, address agent, uint64 time)
        private
        view
        returns (bytes32 found, bool appointed)
    {
        bytes32[] storage ids = _appointmentIds[patient];
        for (uint256 i = 0; i < ids.length; ++i) {
            AppointmentState storage a = _appointments[ids[i]];
            if (a.agent != agent) continue;
            appointed = true;
            if (!_inForce(ids[i], time)) continue;
            if (a.kind == uint8(AgentKind.Guardian)) return (ids[i], true);
            if (found == bytes32(0)) found = ids[i];
        }
    }

    /**
     * @dev Returns whether the appointment `appointmentId` is unrevoked and expires after `time`.
     *
     * Requirements: none. Emits nothing.
     */
    function _inForce(bytes32 appointmentId, uint64 time) private view returns (bool) {
        AppointmentState storage a = _appointments[appointmentId];
        // slither-disable-next-line timestamp - as for grants: an appointment of months moves by a validator's seconds
        return !a.revoked && time < a.expiresAt;
    }

    /**
     * @dev Returns the organisation `account` acts for (itself, if it is an organisation) and whether both are
     * active members now.
     *
     * Requirements: none. Emits nothing.
     */
    function _organisationOf(address account) private view returns (address org, bool active) {
        IMembership register = membership();
        if (register.isActiveOrganisation(account)) return (account, true);
        IMembership.Staff memory entry = register.staff(account);
        return (entry.org, entry.active && register.isActiveOrganisation(entry.org));
    }

    /**
     * @dev Returns the EIP-712 `hashStruct` of `terms`, which is also the grant's id.
     *
     * Requirements: none. Emits nothing.
     */
    function _hashGrant(Grant calldata terms) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _GRANT_TYPEHASH,
                terms.patient,
                terms.grantee,
                terms.scopeKind,
                terms.scope,
                terms.purpose,
                terms.expiresAt,
                terms.nonce
            )
        );
    }

    /**
     * @dev Returns the EIP-712 `hashStruct` of `terms`, which is also the appointment's id.
     *
     * Requirements: none. Emits nothing.
     */
    function _hashAppointment(Appointment calldata terms) private pure returns (bytes32) {
        return keccak256(
            abi.encode(_APPOINT_TYPEHASH, terms.patient, terms.agent, terms.kind, terms.expiresAt, terms.nonce)
        );
    }

    /**
     * @dev Returns the EIP-712 `hashStruct` of `revocation`, an appointment's end.
     *
     * Requirements: none. Emits nothing.
     */
    function _hashAppointmentRevocation(AppointmentRevocation calldata revocation) private pure returns (bytes32) {
        return keccak256(abi.encode(_REVOKE_APPOINTMENT_TYPEHASH, revocation.appointmentId, revocation.nonce));
    }

    /**
     * @dev Returns the EIP-712 `hashStruct` of `revocation`.
     *
     * Requirements: none. Emits nothing.
     */
    function _hashRevocation(Revocation calldata revocation) private pure returns (bytes32) {
        return keccak256(abi.encode(_REVOKE_TYPEHASH, revocation.grantId, revocation.nonce));
    }

    /**
     * @dev Returns the key under which grants for (`patient`, `kind`, `scope`, `grantee`, `purpose`) are listed.
     *
     * Requirements: none. Emits nothing.
     */
    function _slot(address patient, ScopeKind kind, bytes32 scope, address grantee, uint8 purpose)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(patient, kind, scope, grantee, purpose));
    }

    /**
     * @dev Returns the scope of a category grant over `hospital`: its address, left-padded to 32 bytes.
     *
     * Requirements: none. Emits nothing.
     */
    function _hospitalScope(address hospital) private pure returns (bytes32) {
        return bytes32(uint256(uint160(hospital)));
    }

    /**
     * @dev Returns whether `kind` is a category: a {ScopeKind} whose scope is a hospital.
     *
     * Requirements: none. Emits nothing.
     */
    function _isCategory(uint8 kind) private pure returns (bool) {
        return kind > uint8(ScopeKind.Record) && kind <= uint8(type(ScopeKind).max);
    }
}
