import { describe, expect, it } from 'vitest'
import { fromHex } from '../../src/crypto/bytes'
import { bodyHash, requestTarget, signRequest } from '../../src/crypto/request'
import vectors from './vectors.json'

const hospitals = vectors.hospitals as Record<string, { pseudonym_key: string; address: string }>
const key = fromHex(hospitals[vectors.envelope.hospital].pseudonym_key)
const r = vectors.request

describe('signRequest (ledger/gateway/auth.py sign_request, known answers)', () => {
  it('gives the four headers the Python gives for the same request', () => {
    const headers = signRequest(key, vectors.gateway_domain, {
      method: 'post',
      target: r.target,
      body: new TextEncoder().encode(r.body),
      timestamp: r.timestamp,
      nonce: fromHex(r.nonce),
    })
    expect(headers).toEqual(r.headers)
  })

  it('hashes a string body as its UTF-8 and no body as the empty string', () => {
    expect(bodyHash('{"a":1}')).toBe(bodyHash(new TextEncoder().encode('{"a":1}')))
    expect(bodyHash()).toBe('0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('signs "/x?" as the gateway reads it, "/x"', () => {
    const base = { method: 'GET', timestamp: 1, nonce: new Uint8Array(32) }
    const a = signRequest(key, vectors.gateway_domain, { ...base, target: '/v1/records?' })
    const b = signRequest(key, vectors.gateway_domain, { ...base, target: '/v1/records' })
    expect(a).toEqual(b)
  })

  it('takes the target from a URL as fetch sends it', () => {
    expect(requestTarget('/v1/records?patient=0xab%20cd&x=1')).toBe('/v1/records?patient=0xab%20cd&x=1')
    expect(requestTarget(new URL('http://127.0.0.1:8000/v1/a b?q=中'))).toBe('/v1/a%20b?q=%E4%B8%AD')
    expect(requestTarget('http://h/x?')).toBe('/x')
  })

  it('uses a fresh nonce and the current time by default', () => {
    const before = Math.floor(Date.now() / 1000)
    const a = signRequest(key, vectors.gateway_domain, { method: 'GET', target: '/v1/domain' })
    const b = signRequest(key, vectors.gateway_domain, { method: 'GET', target: '/v1/domain' })
    expect(a['X-MedLedger-Nonce']).not.toBe(b['X-MedLedger-Nonce'])
    expect(Number(a['X-MedLedger-Timestamp'])).toBeGreaterThanOrEqual(before)
    expect(a['X-MedLedger-Signer']).toBe(hospitals[vectors.envelope.hospital].address)
  })

  it('refuses a target that is not an ASCII path, a short nonce, another domain', () => {
    const d = vectors.gateway_domain
    expect(() => signRequest(key, d, { method: 'GET', target: '/v1/病历' })).toThrow(/ASCII/)
    expect(() => signRequest(key, d, { method: 'GET', target: 'v1/x' })).toThrow()
    expect(() => signRequest(key, d, { method: 'GET', target: '/x', nonce: new Uint8Array(31) })).toThrow(/32 bytes/)
    expect(() => signRequest(key, { ...d, name: 'Other' }, { method: 'GET', target: '/x' })).toThrow(/domain/)
  })
})
