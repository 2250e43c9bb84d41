import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../src/crypto/bytes'
import { pseudonymAddress, pseudonymKey, publicIdentity, x25519FromEthKey, x25519PublicHex } from '../../src/crypto/keys'
import vectors from './vectors.json'

const master = fromHex(vectors.master)
const hospitals = vectors.hospitals as Record<string, { pseudonym_key: string; address: string; encryption_key: string }>
const hospitalA = vectors.envelope.hospital

describe('pseudonyms and X25519 keys (known answers from ledger/crypto/keys.py)', () => {
  for (const [hospital, want] of Object.entries(hospitals)) {
    it(`derive the Python's pseudonym and encryption key at ${hospital}`, () => {
      expect(toHex(pseudonymKey(master, hospital))).toBe(want.pseudonym_key)
      expect(pseudonymAddress(master, hospital)).toBe(want.address)
      expect(publicIdentity(master, hospital)).toEqual({ address: want.address, encryption_key: want.encryption_key })
    })
  }

  it('give each hospital its own pseudonym', () => {
    const [a, b] = Object.keys(hospitals)
    expect(pseudonymAddress(master, a)).not.toBe(pseudonymAddress(master, b))
  })

  it('do not depend on how the hospital address is cased', () => {
    expect(pseudonymAddress(master, hospitalA.toLowerCase())).toBe(pseudonymAddress(master, hospitalA))
  })

  it("derive the Python's X25519 private key from a pseudonym key", () => {
    const x = x25519FromEthKey(fromHex(hospitals[hospitalA].pseudonym_key))
    expect(toHex(x)).toBe(vectors.envelope.x25519_private)
    expect(x25519PublicHex(x)).toBe(hospitals[hospitalA].encryption_key)
  })

  it('refuse a master secret that is not 32 bytes', () => {
    expect(() => pseudonymKey(new Uint8Array(31), hospitalA)).toThrow(/32 bytes/)
  })

  it('refuse a hospital that is not an address, or whose checksum is wrong', () => {
    expect(() => pseudonymKey(master, 'hospital-a')).toThrow(/address/)
    const badChecksum = '0x5fbDB2315678afecb367f032d93F642f64180aa3'
    expect(hospitalA).toBe('0x5FbDB2315678afecb367f032d93F642f64180aa3')
    expect(() => pseudonymKey(master, badChecksum)).toThrow()
  })
})
