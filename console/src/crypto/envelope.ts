// Opening an envelope in the page, as ledger/crypto/envelope.py seals it: the payload under
// AES-256-GCM with a fresh data key, that key HPKE-wrapped (base mode, DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-256-GCM) per reader label; the record id and version bound as GCM associated data
// and HPKE info. The wire form is RFC 8785 JSON, checked byte for byte.
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core'
import { buffer, concat, fromBase64, fromHex, utf8 } from './bytes'
import { canonicalize, depth } from './canonical'

export const ENVELOPE_VERSION = 1
export const SALT_CHECK_HEADER = 'salt_check'
export const KEK_LABEL_PREFIX = 'kek:'

/** The Python's codes: `crypto.error` for bytes that are not an envelope, `crypto.decryption_failed`
 * for a wrong key, label, record or version, or any alteration the cipher authenticates. */
export type EnvelopeErrorCode = 'crypto.error' | 'crypto.decryption_failed'

export class EnvelopeError extends Error {
  readonly code: EnvelopeErrorCode

  constructor(code: EnvelopeErrorCode, message: string) {
    super(message)
    this.name = 'EnvelopeError'
    this.code = code
  }
}

export interface Envelope {
  /** ``0x`` + 64 lowercase hex digits. */
  recordId: string
  version: number
  nonce: Uint8Array
  ciphertext: Uint8Array
  wrappedKeys: Record<string, Uint8Array>
  extraHeader: Record<string, string>
}

const RESERVED = new Set(['v', 'record_id', 'version', 'nonce', 'ciphertext', 'wrapped_keys'])
const CONTEXT_PREFIX = utf8('medledger/v1/record')
const HEX32 = /^0x[0-9a-f]{64}$/
const MAX_VERSION = 2 ** 32 - 1
const NONCE_BYTES = 12
const TAG_BYTES = 16
const DATA_KEY_BYTES = 32

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
})

/** The envelope's fields, read without a key; EnvelopeError('crypto.error') unless well formed. */
export function parseEnvelope(bytes: Uint8Array | string): Envelope {
  const text = typeof bytes === 'string' ? bytes : decodeUtf8(bytes)
  let header: unknown
  try {
    header = JSON.parse(text)
  } catch {
    throw malformed('not JSON')
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw malformed('not a JSON object')
  }
  if (depth(header) > 2) throw malformed('nested deeper than an envelope is')
  let canonical: string
  try {
    canonical = canonicalize(header)
  } catch (exc) {
    throw malformed(String(exc))
  }
  if (canonical !== text) throw malformed('not in RFC 8785 canonical form')
  const h = header as Record<string, unknown>
  const missing = [...RESERVED].filter((k) => !(k in h)).sort()
  if (missing.length) throw malformed(`missing ${missing.join(', ')}`)
  if (h.v !== ENVELOPE_VERSION) throw malformed(`unsupported envelope format ${String(h.v)}`)
  if (typeof h.record_id !== 'string' || !HEX32.test(h.record_id)) {
    throw malformed('record_id is not 0x + 64 lowercase hex digits')
  }
  const version = h.version
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw malformed('version is not an integer from 1 to 2**32 - 1')
  }
  const nonce = unb64('nonce', h.nonce)
  if (nonce.length !== NONCE_BYTES) throw malformed(`nonce is not ${NONCE_BYTES} bytes`)
  const ciphertext = unb64('ciphertext', h.ciphertext)
  if (ciphertext.length < TAG_BYTES) throw malformed('ciphertext is shorter than its tag')
  const wrapped = h.wrapped_keys
  if (typeof wrapped !== 'object' || wrapped === null || Array.isArray(wrapped)) {
    throw malformed('wrapped_keys is not an object')
  }
  const wrappedKeys: Record<string, Uint8Array> = {}
  for (const [label, key] of Object.entries(wrapped)) wrappedKeys[label] = unb64(`key for ${label}`, key)
  const labels = Object.keys(wrappedKeys)
  if (labels.length === 0 || labels.includes('')) {
    throw malformed('wrapped_keys must map non-empty labels to keys, at least one')
  }
  const extraHeader: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) {
    if (RESERVED.has(k)) continue
    if (typeof v !== 'string') throw malformed('extra header fields must be strings')
    extraHeader[k] = v
  }
  const check = extraHeader[SALT_CHECK_HEADER]
  if (check !== undefined && !HEX32.test(check)) {
    throw malformed(`${SALT_CHECK_HEADER} is not 0x + 64 lowercase hex digits`)
  }
  return { recordId: h.record_id, version, nonce, ciphertext, wrappedKeys, extraHeader }
}

/** The context a version is sealed under: AES-GCM associated data and HPKE info. */
export function associatedData(recordId: string, version: number): Uint8Array {
  const v = new Uint8Array(4)
  new DataView(v.buffer).setUint32(0, version)
  return concat(CONTEXT_PREFIX, fromHex(recordId, 32), v)
}

/** The plaintext for reader ``label`` holding ``x25519Priv`` (32 raw bytes). With ``expect``, the
 * envelope must be sealed for that record and version (the Python's open_envelope always asks). */
export async function openEnvelope(
  envelope: Envelope | Uint8Array | string,
  x25519Priv: Uint8Array,
  label: string,
  expect?: { recordId: string; version: number },
): Promise<Uint8Array> {
  const sealed = asEnvelope(envelope)
  if (expect && (expect.recordId.toLowerCase() !== sealed.recordId || expect.version !== sealed.version)) {
    throw failed('the envelope is sealed for another record or version')
  }
  const wrapped = Object.hasOwn(sealed.wrappedKeys, label) ? sealed.wrappedKeys[label] : undefined
  if (wrapped === undefined) throw failed(`no data key is wrapped for ${JSON.stringify(label)}`)
  const context = associatedData(sealed.recordId, sealed.version)
  const dataKey = await unwrapDataKey(wrapped, x25519Priv, context)
  try {
    const subtle = globalThis.crypto.subtle
    const key = await subtle.importKey('raw', buffer(dataKey), 'AES-GCM', false, ['decrypt'])
    const params = { name: 'AES-GCM', iv: buffer(sealed.nonce), additionalData: buffer(context) }
    return new Uint8Array(await subtle.decrypt(params, key, buffer(sealed.ciphertext)))
  } catch {
    throw failed("the ciphertext does not open in this record's context")
  }
}

/** The data key in an HPKE wrap (enc ‖ ciphertext, as the Python's single-shot Suite.encrypt). */
export async function unwrapDataKey(
  wrapped: Uint8Array,
  x25519Priv: Uint8Array,
  info: Uint8Array,
): Promise<Uint8Array> {
  const encSize = 32
  if (wrapped.length < encSize + TAG_BYTES) {
    throw failed('the wrapped data key does not open with this key')
  }
  let dataKey: Uint8Array
  try {
    const recipientKey = await suite.kem.deserializePrivateKey(buffer(x25519Priv))
    const enc = buffer(wrapped.subarray(0, encSize))
    const ciphertext = buffer(wrapped.subarray(encSize))
    dataKey = new Uint8Array(await suite.open({ recipientKey, enc, info: buffer(info) }, ciphertext))
  } catch {
    throw failed('the wrapped data key does not open with this key')
  }
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw malformed(`the wrapped data key is not ${DATA_KEY_BYTES} bytes`)
  }
  return dataKey
}

/** ``input`` parsed, unless it already is an Envelope. */
export function asEnvelope(input: Envelope | Uint8Array | string): Envelope {
  return typeof input === 'object' && !(input instanceof Uint8Array) ? input : parseEnvelope(input)
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    throw malformed('not UTF-8')
  }
}

function unb64(name: string, value: unknown): Uint8Array {
  const decoded = typeof value === 'string' ? fromBase64(value) : null
  if (decoded === null) throw malformed(`${name} is not canonical base64`)
  return decoded
}

function malformed(reason: string): EnvelopeError {
  return new EnvelopeError('crypto.error', `malformed envelope: ${reason}`)
}

function failed(reason: string): EnvelopeError {
  return new EnvelopeError('crypto.decryption_failed', reason)
}
