import { describe, expect, it } from 'vitest'
import { fromHex } from '../../src/crypto/bytes'
import { EnvelopeError, parseEnvelope } from '../../src/crypto/envelope'
import { openRecord } from '../../src/crypto/record'
import vectors from './vectors.json'

const v = vectors.envelope
const key = fromHex(v.x25519_private)
const r = vectors.record

describe('openRecord (a version sealed by ledger/records/anchoring.py)', () => {
  it('gives the resource, its salt, and the commitment the Python anchored', async () => {
    const opened = await openRecord(r.bytes, key, v.label, { recordId: v.record_id, version: r.version })
    expect(opened.resource).toEqual(JSON.parse(r.canonical))
    expect(new TextDecoder().decode(opened.canonical)).toBe(r.canonical)
    expect(opened.commitment).toBe(r.commitment)
    expect(opened.salt).toMatch(/^0x[0-9a-f]{64}$/)
    expect(opened.saltCheckMatches).toBe(true)
  })

  it('says so when the header names another salt (the header is not authenticated)', async () => {
    const sealed = parseEnvelope(r.bytes)
    const altered = { ...sealed, extraHeader: { salt_check: '0x' + '00'.repeat(32) } }
    expect((await openRecord(altered, key, v.label)).saltCheckMatches).toBe(false)
    expect((await openRecord({ ...sealed, extraHeader: {} }, key, v.label)).saltCheckMatches).toBe(null)
  })

  it('refuses a plaintext that is not a record payload', async () => {
    await expect(openRecord(v.bytes, key, v.label)).rejects.toThrow(EnvelopeError)
    await expect(openRecord(v.bytes, key, v.label)).rejects.toMatchObject({ code: 'crypto.error' })
  })
})
