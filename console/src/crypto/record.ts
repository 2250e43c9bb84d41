// A record version opened in the page: the envelope's plaintext is RFC 8785
// {"resource": <the FHIR resource's canonical bytes>, "salt": "0x<32 bytes>"} (ledger/records/
// anchoring.py), and the chain anchors HMAC-SHA256(salt, canonical resource) as the version's
// commitment (ledger/crypto/commitment.py), which the page recomputes here.
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { fromHex, toHex, utf8 } from './bytes'
import { asEnvelope, EnvelopeError, openEnvelope, SALT_CHECK_HEADER, type Envelope } from './envelope'

export interface OpenedRecord {
  /** The FHIR resource. */
  resource: Record<string, unknown>
  /** ``0x`` + 64 hex digits. */
  salt: string
  /** The resource's canonical bytes, as committed to. */
  canonical: Uint8Array
  /** HMAC-SHA256(salt, canonical): equal to the chain's commitment for an untouched version. */
  commitment: string
  /** Whether the envelope header's salt check names this salt; null when it carries none. */
  saltCheckMatches: boolean | null
}

const PREFIX = utf8('{"resource":')
const SUFFIX = /,"salt":"(0x[0-9a-f]{64})"}$/
const SALT_CHECK_MESSAGE = utf8('medledger/v1/salt-check')

/** Open a record version for reader ``label``; EnvelopeError as openEnvelope, and
 * EnvelopeError('crypto.error') when the plaintext is not a record payload. */
export async function openRecord(
  envelope: Envelope | Uint8Array | string,
  x25519Priv: Uint8Array,
  label: string,
  expect?: { recordId: string; version: number },
): Promise<OpenedRecord> {
  const sealed = asEnvelope(envelope)
  const plaintext = await openEnvelope(sealed, x25519Priv, label, expect)
  const text = decode(plaintext)
  const tail = SUFFIX.exec(text)
  if (!tail || !startsWith(plaintext, PREFIX)) throw notRecord('it is not {"resource": ..., "salt": ...}')
  const salt = tail[1]
  const canonical = plaintext.subarray(PREFIX.length, plaintext.length - tail[0].length)
  let resource: unknown
  try {
    resource = JSON.parse(decode(canonical))
  } catch {
    throw notRecord('its resource is not JSON')
  }
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
    throw notRecord('its resource is not a JSON object')
  }
  const check = sealed.extraHeader[SALT_CHECK_HEADER]
  return {
    resource: resource as Record<string, unknown>,
    salt,
    canonical,
    commitment: commitment(fromHex(salt), canonical),
    saltCheckMatches: check === undefined ? null : check === saltCheck(fromHex(salt)),
  }
}

/** The commitment the chain anchors for ``canonical`` under ``salt``. */
export function commitment(salt: Uint8Array, canonical: Uint8Array): string {
  return toHex(hmac(sha256, salt32(salt), canonical))
}

/** What the envelope header carries to identify the salt without revealing it. */
export function saltCheck(salt: Uint8Array): string {
  return toHex(hmac(sha256, salt32(salt), SALT_CHECK_MESSAGE))
}

function salt32(salt: Uint8Array): Uint8Array {
  if (salt.length !== 32) throw new Error('salt must be 32 bytes')
  return salt
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return prefix.every((b, i) => bytes[i] === b)
}

function decode(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    throw notRecord('it is not UTF-8')
  }
}

function notRecord(reason: string): EnvelopeError {
  return new EnvelopeError('crypto.error', `not a record payload: ${reason}`)
}
