// The console's crypto: keystore, derived keys, envelope opening, typed data and request signing.
// Pure functions, no UI, no network; each agrees byte for byte with its Python counterpart.
export { createKeystore, DEFAULT_SCRYPT_N, KeystoreError, openKeystore } from './keystore'
export type { CreatedKeystore, KeystoreFailure } from './keystore'
export { pseudonymAddress, pseudonymKey, publicIdentity, x25519FromEthKey, x25519PublicHex } from './keys'
export type { PublicIdentity } from './keys'
export { associatedData, EnvelopeError, openEnvelope, parseEnvelope } from './envelope'
export type { Envelope, EnvelopeErrorCode } from './envelope'
export { commitment, openRecord, saltCheck } from './record'
export type { OpenedRecord } from './record'
export {
  AGENT_KINDS,
  appointmentId,
  categoryScope,
  describeGrant,
  grantId,
  grantTerms,
  PURPOSES,
  recordScope,
  SCOPE_KINDS,
  signAppointment,
  signAppointmentRevocation,
  signEnrolment,
  signGrant,
  signRevocation,
} from './typed'
export type {
  AgentKindName,
  AppointmentRevocationWire,
  AppointmentWire,
  CategoryKindName,
  ConsentDomain,
  EnrolmentWire,
  GatewayDomain,
  GrantDraft,
  GrantOnWire,
  GrantSummary,
  GrantTerms,
  GrantWire,
  PurposeName,
  RevocationWire,
  Scope,
  ScopeKindName,
} from './typed'
export { bodyHash, requestTarget, signRequest } from './request'
export type { RequestToSign } from './request'
