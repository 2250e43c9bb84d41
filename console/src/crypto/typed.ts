// The typed data a patient's key signs, built and signed in the page exactly as ledger/consent
// (grants.py, agents.py, patients.py) builds and signs it, returned in the wire shapes the gateway
// relays (the Python's to_wire() keys).
import { computeAddress, getAddress, type TypedDataDomain } from 'ethers'
import { fromHex, toHex } from './bytes'
import { decimal, hashStruct, randomNonce, signTyped, UINT256_MAX, type Types } from './sign'

export const CONSENT_DOMAIN_NAME = 'MedLedger Consent'
export const GATEWAY_DOMAIN_NAME = 'MedLedger Gateway'

/** A ConsentRegistry on one chain, as `GET /v1/consents/domain` returns it (ConsentDomain.to_wire). */
export interface ConsentDomain {
  chainId: number
  verifyingContract: string
}

/** A gateway's EIP-712 domain, as `GET /v1/domain` returns it (GatewayDomain.as_eip712). */
export interface GatewayDomain {
  name: string
  version: string
  chainId: number
  verifyingContract: string
  salt: string
}

/** IConsentRegistry.ScopeKind and Purpose by their wire names. */
export const SCOPE_KINDS = { record: 1, hospital_records: 2, prescriptions: 3, claims: 4 } as const
export const PURPOSES = { treatment: 1, claim_verification: 2, audit: 3, research: 4 } as const
export const AGENT_KINDS = { guardian: 1, proxy: 2 } as const
export type ScopeKindName = keyof typeof SCOPE_KINDS
export type CategoryKindName = Exclude<ScopeKindName, 'record'>
export type PurposeName = keyof typeof PURPOSES
export type AgentKindName = keyof typeof AGENT_KINDS

/** What a grant opens: one record (ref = its id) or a category of what one hospital holds (ref = the
 * hospital's address left-padded to 32 bytes). */
export interface Scope {
  kind: ScopeKindName
  ref: string
}

export const GRANT_TYPES: Types = {
  Grant: [
    { name: 'patient', type: 'address' },
    { name: 'grantee', type: 'address' },
    { name: 'scopeKind', type: 'uint8' },
    { name: 'scope', type: 'bytes32' },
    { name: 'purpose', type: 'uint8' },
    { name: 'expiresAt', type: 'uint64' },
    { name: 'nonce', type: 'uint256' },
  ],
}
export const REVOKE_TYPES: Types = {
  Revoke: [
    { name: 'grantId', type: 'bytes32' },
    { name: 'nonce', type: 'uint256' },
  ],
}
export const APPOINTMENT_TYPES: Types = {
  Appointment: [
    { name: 'patient', type: 'address' },
    { name: 'agent', type: 'address' },
    { name: 'kind', type: 'uint8' },
    { name: 'expiresAt', type: 'uint64' },
    { name: 'nonce', type: 'uint256' },
  ],
}
export const REVOKE_APPOINTMENT_TYPES: Types = {
  RevokeAppointment: [
    { name: 'appointmentId', type: 'bytes32' },
    { name: 'nonce', type: 'uint256' },
  ],
}
export const ENROLMENT_TYPES: Types = {
  Enrolment: [
    { name: 'hospital', type: 'address' },
    { name: 'encryptionKey', type: 'bytes32' },
  ],
}

/** The body of `POST /v1/consents` (SignedGrant.to_wire). */
export interface GrantWire {
  patient: string
  grantee: string
  scope_kind: ScopeKindName
  scope: string
  purpose: PurposeName
  expires_at: number
  nonce: string
  domain: ConsentDomain
  signature: string
}
/** The body of `POST /v1/consents/revocations` (SignedRevocation.to_wire). */
export interface RevocationWire {
  grant_id: string
  nonce: string
  domain: ConsentDomain
  signature: string
}
/** The body of `POST /v1/consents/appointments` (SignedAppointment.to_wire). */
export interface AppointmentWire {
  patient: string
  agent: string
  kind: AgentKindName
  expires_at: number
  nonce: string
  domain: ConsentDomain
  signature: string
}
/** The body of `POST /v1/consents/appointments/revocations`. */
export interface AppointmentRevocationWire {
  appointment_id: string
  nonce: string
  domain: ConsentDomain
  signature: string
}
/** The body of `POST /v1/patients`, relayed by a clerk or doctor. */
export interface EnrolmentWire {
  pseudonym: string
  encryption_key: string
  signature: string
}

/** A grant's terms before signing; ``patient`` only when an agent signs for the patient. */
export interface GrantDraft {
  grantee: string
  scope: Scope
  purpose: PurposeName
  expiresAt: number
  nonce?: bigint | number | string
  patient?: string
}

export type GrantTerms = Omit<GrantWire, 'domain' | 'signature'>

/** One record, by its 32-byte id (``0x`` + 64 hex digits). */
export function recordScope(recordId: string): Scope {
  return { kind: 'record', ref: toHex(fromHex(recordId, 32)) }
}

/** Category ``kind`` of what ``hospital`` holds for the pseudonym the patient has there. */
export function categoryScope(kind: CategoryKindName, hospital: string): Scope {
  if (!Object.hasOwn(SCOPE_KINDS, kind) || kind === ('record' as string)) {
    throw new Error(`not a category: ${kind}`)
  }
  return { kind, ref: '0x' + '00'.repeat(12) + address(hospital).slice(2).toLowerCase() }
}

export function consentEip712(domain: ConsentDomain): TypedDataDomain {
  return {
    name: CONSENT_DOMAIN_NAME,
    version: '1',
    chainId: chainId(domain.chainId),
    verifyingContract: address(domain.verifyingContract),
  }
}

export function gatewayEip712(domain: GatewayDomain): TypedDataDomain {
  if (domain.name !== GATEWAY_DOMAIN_NAME || domain.version !== '1') {
    throw new Error('not a MedLedger Gateway v1 domain')
  }
  if (!/^0x0{24}[0-9a-fA-F]{40}$/.test(domain.salt)) {
    throw new Error('domain salt must be a left-padded organisation address')
  }
  return {
    name: domain.name,
    version: domain.version,
    chainId: chainId(domain.chainId),
    verifyingContract: address(domain.verifyingContract),
    salt: domain.salt,
  }
}

/** The grant's terms in wire form, checked as the Python's Grant checks them. */
export function grantTerms(signer: string, draft: GrantDraft): GrantTerms {
  const scope = checkScope(draft.scope)
  if (!Object.hasOwn(PURPOSES, draft.purpose)) throw new Error(`unknown purpose ${String(draft.purpose)}`)
  return {
    patient: address(draft.patient ?? signer),
    grantee: address(draft.grantee),
    scope_kind: scope.kind,
    scope: scope.ref,
    purpose: draft.purpose,
    expires_at: seconds(draft.expiresAt),
    nonce: draft.nonce === undefined ? randomNonce() : decimal(draft.nonce, 'nonce', UINT256_MAX),
  }
}

/** The id ConsentRegistry stores a grant under (its EIP-712 hashStruct; the same in every domain). */
export function grantId(grant: GrantTerms): string {
  return hashStruct('Grant', GRANT_TYPES, grantMessage(grant))
}

/** The patient's side: sign a grant with the pseudonym key the scope's hospital knows them by. An
 * agent signs with its own key and names the ``patient`` it acts for. */
export function signGrant(privKey: Uint8Array, consentDomain: ConsentDomain, draft: GrantDraft): GrantWire {
  const terms = grantTerms(signerOf(privKey), draft)
  const signature = signTyped(privKey, consentEip712(consentDomain), GRANT_TYPES, grantMessage(terms))
  return { ...terms, domain: consentWire(consentDomain), signature }
}

/** Revoke ``grantIdHex`` with the key that signed the grant. */
export function signRevocation(
  privKey: Uint8Array,
  consentDomain: ConsentDomain,
  grantIdHex: string,
  opts: { nonce?: bigint | number | string } = {},
): RevocationWire {
  const id = toHex(fromHex(grantIdHex, 32))
  const nonce = opts.nonce === undefined ? randomNonce() : decimal(opts.nonce, 'nonce', UINT256_MAX)
  const signature = signTyped(privKey, consentEip712(consentDomain), REVOKE_TYPES, { grantId: id, nonce })
  return { grant_id: id, nonce, domain: consentWire(consentDomain), signature }
}

/** Appoint ``agent`` (its own address) as guardian or proxy of the signing pseudonym. */
export function signAppointment(
  privKey: Uint8Array,
  consentDomain: ConsentDomain,
  draft: { agent: string; kind: AgentKindName; expiresAt: number; nonce?: bigint | number | string },
): AppointmentWire {
  if (!Object.hasOwn(AGENT_KINDS, draft.kind)) throw new Error(`unknown agent kind ${String(draft.kind)}`)
  const terms = {
    patient: signerOf(privKey),
    agent: address(draft.agent),
    kind: draft.kind,
    expires_at: seconds(draft.expiresAt),
    nonce: draft.nonce === undefined ? randomNonce() : decimal(draft.nonce, 'nonce', UINT256_MAX),
  }
  const eip712 = consentEip712(consentDomain)
  const signature = signTyped(privKey, eip712, APPOINTMENT_TYPES, appointmentMessage(terms))
  return { ...terms, domain: consentWire(consentDomain), signature }
}

/** The id ConsentRegistry stores an appointment under. */
export function appointmentId(appointment: Omit<AppointmentWire, 'domain' | 'signature'>): string {
  return hashStruct('Appointment', APPOINTMENT_TYPES, appointmentMessage(appointment))
}

/** End the appointment ``appointmentIdHex``; the grants its agent signed lapse with it. */
export function signAppointmentRevocation(
  privKey: Uint8Array,
  consentDomain: ConsentDomain,
  appointmentIdHex: string,
  opts: { nonce?: bigint | number | string } = {},
): AppointmentRevocationWire {
  const id = toHex(fromHex(appointmentIdHex, 32))
  const nonce = opts.nonce === undefined ? randomNonce() : decimal(opts.nonce, 'nonce', UINT256_MAX)
  const message = { appointmentId: id, nonce }
  const signature = signTyped(privKey, consentEip712(consentDomain), REVOKE_APPOINTMENT_TYPES, message)
  return { appointment_id: id, nonce, domain: consentWire(consentDomain), signature }
}

/** The pseudonym key signs, under the hospital gateway's domain, the X25519 key to seal for it. */
export function signEnrolment(
  privKey: Uint8Array,
  gatewayDomain: GatewayDomain,
  enrolment: { hospital: string; encryptionKey: string },
): EnrolmentWire {
  const encryptionKey = toHex(fromHex(enrolment.encryptionKey, 32))
  const message = { hospital: address(enrolment.hospital), encryptionKey }
  const signature = signTyped(privKey, gatewayEip712(gatewayDomain), ENROLMENT_TYPES, message)
  return { pseudonym: signerOf(privKey), encryption_key: encryptionKey, signature }
}

/** The plain-language ingredients of a grant, for the summary the patient reads before signing. */
export type GrantSummary = {
  grantee: string
  scopeKind: ScopeKindName
  purpose: PurposeName
  expiresAt: number
} & ({ records: string[] } | { category: CategoryKindName; hospital: string })

/** A grant as the gateway lists or relays it (ConsentPublic, GrantWire): loosely typed wire JSON. */
export interface GrantOnWire {
  grantee: string
  scope_kind: string
  scope: string
  purpose: string
  expires_at: number
}

/** The ingredients of the summary; refuses (throws) terms it cannot name rather than guess. */
export function describeGrant(grant: GrantDraft | GrantOnWire): GrantSummary {
  const draft = 'scope' in grant && typeof grant.scope === 'object' ? (grant as GrantDraft) : null
  const wire = grant as GrantOnWire
  const onWire = () => ({ kind: wire.scope_kind as ScopeKindName, ref: wire.scope })
  const scope = checkScope(draft ? draft.scope : onWire())
  const purpose = grant.purpose as PurposeName
  if (!Object.hasOwn(PURPOSES, purpose)) throw new Error(`unknown purpose ${String(purpose)}`)
  const expiresAt = seconds(draft ? draft.expiresAt : wire.expires_at)
  const common = { grantee: address(grant.grantee), scopeKind: scope.kind, purpose, expiresAt }
  if (scope.kind === 'record') return { ...common, records: [scope.ref] }
  return { ...common, category: scope.kind, hospital: getAddress('0x' + scope.ref.slice(26)) }
}

function grantMessage(t: GrantTerms): Record<string, unknown> {
  return {
    patient: t.patient,
    grantee: t.grantee,
    scopeKind: SCOPE_KINDS[t.scope_kind],
    scope: t.scope,
    purpose: PURPOSES[t.purpose],
    expiresAt: t.expires_at,
    nonce: t.nonce,
  }
}

function appointmentMessage(a: Omit<AppointmentWire, 'domain' | 'signature'>): Record<string, unknown> {
  const kind = AGENT_KINDS[a.kind]
  return { patient: a.patient, agent: a.agent, kind, expiresAt: a.expires_at, nonce: a.nonce }
}

function checkScope(scope: Scope): Scope {
  if (!Object.hasOwn(SCOPE_KINDS, scope.kind)) throw new Error(`unknown scope kind ${String(scope.kind)}`)
  const ref = toHex(fromHex(scope.ref, 32))
  if (scope.kind !== 'record' && !ref.startsWith('0x' + '00'.repeat(12))) {
    throw new Error(`a ${scope.kind} scope is a left-padded hospital address`)
  }
  return { kind: scope.kind, ref }
}

function consentWire(domain: ConsentDomain): ConsentDomain {
  return { chainId: chainId(domain.chainId), verifyingContract: address(domain.verifyingContract) }
}

function signerOf(privKey: Uint8Array): string {
  return computeAddress(toHex(privKey))
}

// A uint64 on chain, but a JSON number on the wire: beyond 2**53 it would not survive the trip.
function seconds(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`expiresAt must be whole seconds, got ${value}`)
  }
  return value
}

function chainId(value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`chain id must be positive, got ${value}`)
  return value
}

function address(value: string): string {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value)) {
    throw new Error(`not an Ethereum address: ${String(value)}`)
  }
  return getAddress(value)
}
