// The Node half of tests/console/test_crypto_agreement.py: run by it with MEDLEDGER_AGREEMENT set to
// a directory holding in.json (made by the Python); writes out.json (what the TS modules computed
// and signed) for the Python to check. Skipped in a plain `npx vitest run`.
import { describe, it } from 'vitest'
import { toHex } from '../../src/crypto/bytes'
import {
  appointmentId,
  categoryScope,
  createKeystore,
  EnvelopeError,
  grantId,
  openEnvelope,
  openKeystore,
  openRecord,
  publicIdentity,
  pseudonymKey,
  signAppointment,
  signAppointmentRevocation,
  signEnrolment,
  signGrant,
  signRequest,
  signRevocation,
  x25519FromEthKey,
  type ConsentDomain,
  type GatewayDomain,
} from '../../src/crypto'

interface Input {
  keystore: string
  passphrase: string
  staff_keystore: string
  hospitals: string[]
  gateway_domain: GatewayDomain
  consent_domain: ConsentDomain
  envelope: { text: string; label: string; record_id: string; version: number }
  variants: { text: string; label: string }[]
  anchored: { text: string; record_id: string; version: number }
  grantee: string
  agent: string
  expires_at: number
}

// No @types/node in the console (src/ must not lean on Node): reach node:fs and the environment
// untyped, here only.
const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env
const dir = env.MEDLEDGER_AGREEMENT
const fsName = 'node:fs'

describe.skipIf(!dir)('agreement with the Python', () => {
  it('computes and signs what the Python will check', async () => {
    const fs = (await import(/* @vite-ignore */ fsName)) as {
      readFileSync(path: string, encoding: 'utf8'): string
      writeFileSync(path: string, data: string): void
    }
    const input = JSON.parse(fs.readFileSync(`${dir}/in.json`, 'utf8')) as Input
    const master = await openKeystore(input.keystore, input.passphrase)
    const [hospital] = input.hospitals
    const key = pseudonymKey(master, hospital)
    const identity = publicIdentity(master, hospital)
    const plaintext = await openEnvelope(input.envelope.text, x25519FromEthKey(key), input.envelope.label)
    // The label is the pseudonym's address, derived here: the Python does not say it.
    const anchored = await openEnvelope(input.anchored.text, x25519FromEthKey(key), identity.address, {
      recordId: input.anchored.record_id,
      version: input.anchored.version,
    })
    const record = await openRecord(input.anchored.text, x25519FromEthKey(key), identity.address)
    const expect = { recordId: input.envelope.record_id, version: input.envelope.version }
    const variants = []
    for (const { text, label } of input.variants) {
      try {
        variants.push(toHex(await openEnvelope(text, x25519FromEthKey(key), label, expect)))
      } catch (exc) {
        variants.push(exc instanceof EnvelopeError ? exc.code : `uncaught: ${String(exc)}`)
      }
    }
    const made = await createKeystore(input.passphrase, { scryptN: 1024 })
    const grant = signGrant(key, input.consent_domain, {
      grantee: input.grantee,
      scope: categoryScope('hospital_records', hospital),
      purpose: 'claim_verification',
      expiresAt: input.expires_at,
    })
    const revocation = signRevocation(key, input.consent_domain, grantId(grant))
    const appointment = signAppointment(key, input.consent_domain, {
      agent: input.agent,
      kind: 'guardian',
      expiresAt: input.expires_at,
    })
    const staffKey = await openKeystore(input.staff_keystore, '')
    const enrolment = signEnrolment(key, input.gateway_domain, {
      hospital,
      encryptionKey: identity.encryption_key,
    })
    const enrolmentBody = JSON.stringify(enrolment)
    const grantBody = JSON.stringify(grant)
    const revocationBody = JSON.stringify(revocation)
    const out = {
      master: toHex(master),
      identities: Object.fromEntries(input.hospitals.map((h) => [h, publicIdentity(master, h)])),
      plaintext: toHex(plaintext),
      variants,
      anchored_plaintext: toHex(anchored),
      anchored_commitment: record.commitment,
      anchored_salt_check: record.saltCheckMatches,
      keystore: { json: made.json, address: made.address, private_key: toHex(made.privateKey) },
      staff_private_key: toHex(staffKey),
      enrolment,
      enrolment_request: {
        body: enrolmentBody,
        headers: signRequest(staffKey, input.gateway_domain, {
          method: 'POST',
          target: '/v1/patients',
          body: enrolmentBody,
        }),
      },
      grant,
      grant_id: grantId(grant),
      revocation,
      appointment,
      appointment_id: appointmentId(appointment),
      appointment_revocation: signAppointmentRevocation(key, input.consent_domain, appointmentId(appointment)),
      grant_request: {
        body: grantBody,
        headers: signRequest(key, input.gateway_domain, { method: 'POST', target: '/v1/consents', body: grantBody }),
      },
      revocation_request: {
        body: revocationBody,
        headers: signRequest(key, input.gateway_domain, {
          method: 'POST',
          target: '/v1/consents/revocations',
          body: revocationBody,
        }),
      },
    }
    fs.writeFileSync(`${dir}/out.json`, JSON.stringify(out))
  })
})
