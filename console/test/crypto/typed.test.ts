import { verifyTypedData } from 'ethers'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../src/crypto/bytes'
import { SECP256K1_HALF_N } from '../../src/crypto/curve'
import {
  appointmentId,
  categoryScope,
  consentEip712,
  describeGrant,
  GRANT_TYPES,
  grantId,
  recordScope,
  signAppointment,
  signAppointmentRevocation,
  signEnrolment,
  signGrant,
  signRevocation,
} from '../../src/crypto/typed'
import vectors from './vectors.json'

const hospitals = vectors.hospitals as Record<string, { pseudonym_key: string; address: string; encryption_key: string }>
const hospital = vectors.envelope.hospital
const key = fromHex(hospitals[hospital].pseudonym_key)
const patient = hospitals[hospital].address
const domain = vectors.consent_domain
const expiresAt = 1796400000

describe('typed data signed as ledger/consent signs it (known answers)', () => {
  it('signs a category grant to the byte, with the same wire form and grant id', () => {
    const wire = signGrant(key, domain, {
      grantee: vectors.grantee.toLowerCase(),
      scope: categoryScope('hospital_records', hospital),
      purpose: 'claim_verification',
      expiresAt,
      nonce: 2n ** 255n + 7n,
    })
    const { grant_id, ...want } = vectors.grant
    expect(wire).toEqual(want)
    expect(grantId(wire)).toBe(grant_id)
  })

  it('signs a one-record grant to the byte', () => {
    const wire = signGrant(key, domain, {
      grantee: vectors.grantee,
      scope: recordScope(vectors.envelope.record_id),
      purpose: 'treatment',
      expiresAt,
      nonce: '5',
    })
    const { grant_id, ...want } = vectors.record_grant
    expect(wire).toEqual(want)
    expect(grantId(wire)).toBe(grant_id)
  })

  it('signs a revocation, an appointment and its revocation to the byte', () => {
    expect(signRevocation(key, domain, vectors.grant.grant_id, { nonce: 9 })).toEqual(vectors.revocation)
    const appointment = signAppointment(key, domain, { agent: vectors.grantee, kind: 'proxy', expiresAt, nonce: 3 })
    const { appointment_id, ...want } = vectors.appointment
    expect(appointment).toEqual(want)
    expect(appointmentId(appointment)).toBe(appointment_id)
    expect(signAppointmentRevocation(key, domain, appointment_id, { nonce: 4 })).toEqual(vectors.appointment_revocation)
  })

  it('signs an enrolment under the gateway domain to the byte', () => {
    const wire = signEnrolment(key, vectors.gateway_domain, { hospital, encryptionKey: hospitals[hospital].encryption_key })
    expect(wire).toEqual({ pseudonym: patient, encryption_key: hospitals[hospital].encryption_key, signature: vectors.enrolment_signature })
  })

  it('draws a fresh 256-bit nonce when none is given, and the grant recovers to the patient', () => {
    const draft = { grantee: vectors.grantee, scope: categoryScope('claims', hospital), purpose: 'audit' as const, expiresAt }
    const a = signGrant(key, domain, draft)
    const b = signGrant(key, domain, draft)
    expect(a.nonce).not.toBe(b.nonce)
    expect(BigInt(a.nonce) < 2n ** 256n).toBe(true)
    const message = { ...a, scopeKind: 4, purpose: 3, expiresAt: a.expires_at }
    expect(verifyTypedData(consentEip712(domain), GRANT_TYPES, message, a.signature)).toBe(patient)
  })

  it('never produces a high-s or non-27/28 signature', () => {
    for (let i = 0; i < 64; i++) {
      const sig = fromHex(signRevocation(key, domain, vectors.grant.grant_id, { nonce: i }).signature)
      expect(BigInt(toHex(sig.subarray(32, 64))) <= SECP256K1_HALF_N).toBe(true)
      expect([27, 28]).toContain(sig[64])
    }
  })

  it('refuses terms the contract could not hold', () => {
    const draft = { grantee: vectors.grantee, scope: recordScope(vectors.envelope.record_id), purpose: 'treatment' as const, expiresAt }
    expect(() => signGrant(key, domain, { ...draft, expiresAt: -1 })).toThrow()
    expect(() => signGrant(key, domain, { ...draft, expiresAt: 2 ** 60 })).toThrow(/whole seconds/)
    expect(() => signGrant(key, domain, { ...draft, expiresAt: 1.5 })).toThrow(/whole seconds/)
    expect(() => signGrant(key, domain, { ...draft, nonce: 2n ** 256n })).toThrow()
    expect(() => signGrant(key, domain, { ...draft, grantee: 'insurer' })).toThrow(/address/)
    expect(() => signGrant(key, domain, { ...draft, scope: { kind: 'claims', ref: '0x' + '11'.repeat(32) } })).toThrow(/left-padded/)
    expect(() => signGrant(key, domain, { ...draft, purpose: 'marketing' as 'treatment' })).toThrow(/purpose/)
    expect(() => signGrant(key, { ...domain, chainId: 0 }, draft)).toThrow(/chain id/)
    expect(() => recordScope('0x1234')).toThrow()
  })
})

describe('describeGrant', () => {
  it('names a category grant: who, what kind of whose records, why, until when', () => {
    expect(describeGrant(vectors.grant)).toEqual({
      grantee: vectors.grantee,
      scopeKind: 'hospital_records',
      category: 'hospital_records',
      hospital,
      purpose: 'claim_verification',
      expiresAt,
    })
  })

  it('names a one-record grant, from the draft before it is signed', () => {
    const draft = { grantee: vectors.grantee.toLowerCase(), scope: recordScope(vectors.envelope.record_id), purpose: 'treatment' as const, expiresAt }
    expect(describeGrant(draft)).toEqual({
      grantee: vectors.grantee,
      scopeKind: 'record',
      records: [vectors.envelope.record_id],
      purpose: 'treatment',
      expiresAt,
    })
  })
})
