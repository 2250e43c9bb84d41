import { describe, expect, it } from 'vitest'
import { fromHex, toBase64, utf8 } from '../../src/crypto/bytes'
import { EnvelopeError, openEnvelope, parseEnvelope } from '../../src/crypto/envelope'
import { x25519FromEthKey } from '../../src/crypto/keys'
import vectors from './vectors.json'

const v = vectors.envelope
const key = fromHex(v.x25519_private)
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const expect_ = { recordId: v.record_id, version: v.version }

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (exc) {
    expect(exc).toBeInstanceOf(EnvelopeError)
    return (exc as EnvelopeError).code
  }
  throw new Error('expected an EnvelopeError')
}

function parseCode(input: string): string {
  try {
    parseEnvelope(input)
  } catch (exc) {
    expect(exc).toBeInstanceOf(EnvelopeError)
    return (exc as EnvelopeError).code
  }
  throw new Error('expected an EnvelopeError')
}

/** The envelope's JSON with one field replaced, re-spelt canonically (keys stay sorted). */
function altered(field: string, value: unknown): string {
  const header = JSON.parse(v.bytes)
  header[field] = value
  const keys = Object.keys(header).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(header[k])}`).join(',')}}`
}

describe('envelope sealed by ledger/crypto/envelope.py', () => {
  it('parses its fields', () => {
    const e = parseEnvelope(utf8(v.bytes))
    expect(e.recordId).toBe(v.record_id)
    expect(e.version).toBe(v.version)
    expect(e.nonce).toHaveLength(12)
    expect(Object.keys(e.wrappedKeys)).toEqual([v.label])
    expect(e.extraHeader).toEqual({ salt_check: '0x' + '22'.repeat(32) })
  })

  it('opens for its reader, bytes or text or parsed', async () => {
    for (const input of [utf8(v.bytes), v.bytes, parseEnvelope(v.bytes)]) {
      const plain = await openEnvelope(input, key, v.label, expect_)
      expect(new TextDecoder().decode(plain)).toBe(v.plaintext)
    }
  })

  it('opens with the key derived from the pseudonym key in the page', async () => {
    const pseudonymKey = fromHex((vectors.hospitals as Record<string, { pseudonym_key: string }>)[v.hospital].pseudonym_key)
    const plain = await openEnvelope(v.bytes, x25519FromEthKey(pseudonymKey), v.label)
    expect(new TextDecoder().decode(plain)).toBe(v.plaintext)
  })

  it('refuses a wrong label, a wrong key, another record or version', async () => {
    expect(await code(openEnvelope(v.bytes, key, v.label.toLowerCase()))).toBe('crypto.decryption_failed')
    expect(await code(openEnvelope(v.bytes, new Uint8Array(32).fill(7), v.label))).toBe('crypto.decryption_failed')
    expect(await code(openEnvelope(v.bytes, key, v.label, { ...expect_, version: 1 }))).toBe('crypto.decryption_failed')
    const other = { recordId: '0x' + '12'.repeat(32), version: v.version }
    expect(await code(openEnvelope(v.bytes, key, v.label, other))).toBe('crypto.decryption_failed')
  })

  it('refuses a tampered ciphertext, nonce, wrapped key or context', async () => {
    const e = parseEnvelope(v.bytes)
    const flip = (b: Uint8Array, i = 0) => {
      const c = b.slice()
      c[i] ^= 1
      return c
    }
    const cases = [
      altered('ciphertext', toBase64(flip(e.ciphertext))),
      altered('ciphertext', toBase64(flip(e.ciphertext, e.ciphertext.length - 1))),
      altered('nonce', toBase64(flip(e.nonce))),
      altered('wrapped_keys', { [v.label]: toBase64(flip(e.wrappedKeys[v.label], 40)) }),
      altered('wrapped_keys', { [v.label]: toBase64(flip(e.wrappedKeys[v.label], 0)) }),
      altered('version', v.version + 1),
      altered('record_id', '0x' + '13'.repeat(32)),
    ]
    for (const tampered of cases) {
      expect(await code(openEnvelope(tampered, key, v.label))).toBe('crypto.decryption_failed')
    }
  })

  it('refuses bytes that are not a canonical envelope', () => {
    const header = JSON.parse(v.bytes)
    const wrapped: string = header.wrapped_keys[v.label]
    expect(wrapped).toMatch(/[^=]=$/) // 80 bytes: one pad digit, two spare bits before it
    const last = wrapped.length - 2
    const sloppy = wrapped.slice(0, last) + B64[B64.indexOf(wrapped[last]) ^ 1] + '='
    const cases = [
      'not json',
      '[]',
      JSON.stringify(header, null, 1), // not canonical: whitespace
      v.bytes.replace('{', '{"ciphertext":"AAAA",'), // a duplicate key
      altered('v', 2),
      altered('version', 0),
      altered('version', 2 ** 32),
      altered('record_id', '0x' + 'AB'.repeat(32)), // upper-case hex
      altered('nonce', toBase64(new Uint8Array(11))),
      altered('wrapped_keys', { [v.label]: wrapped.replace(/=+$/, '') }), // unpadded
      altered('wrapped_keys', { [v.label]: sloppy }), // low bits of the last digit set
      altered('ciphertext', toBase64(new Uint8Array(15))),
      altered('wrapped_keys', {}),
      altered('wrapped_keys', { '': toBase64(new Uint8Array(80)) }),
      altered('salt_check', '0x' + '2'.repeat(63)),
      altered('extra', 5),
    ]
    for (const bad of cases) {
      let got = ''
      try {
        got = parseCode(bad)
      } catch {
        got = 'accepted: ' + bad.slice(0, 300)
      }
      expect(got).toBe('crypto.error')
    }
    expect(() => parseEnvelope(new Uint8Array([0xff, 0xfe]))).toThrow(EnvelopeError)
  })
})
