import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../src/crypto/bytes'
import { createKeystore, KeystoreError, openKeystore } from '../../src/crypto/keystore'
import vectors from './vectors.json'

const FAST = { scryptN: 1024 }

async function refusal(promise: Promise<unknown>): Promise<KeystoreError> {
  try {
    await promise
  } catch (exc) {
    expect(exc).toBeInstanceOf(KeystoreError)
    return exc as KeystoreError
  }
  throw new Error('expected a KeystoreError')
}

describe('keystore', () => {
  it('opens a V3 keystore written by eth-account, under a full-width passphrase', async () => {
    const key = await openKeystore(vectors.keystore.json, vectors.keystore.passphrase)
    expect(toHex(key)).toBe(vectors.keystore.private_key)
  })

  it('round-trips a key it created, with the address of that key', async () => {
    const made = await createKeystore('correct horse', FAST)
    expect(made.privateKey).toHaveLength(32)
    expect(new Wallet(toHex(made.privateKey)).address).toBe(made.address)
    const parsed = JSON.parse(made.json)
    expect(parsed.version).toBe(3)
    expect(parsed.Crypto.kdf).toBe('scrypt')
    expect(parsed.Crypto.kdfparams.n).toBe(1024)
    expect(await openKeystore(made.json, 'correct horse')).toEqual(made.privateKey)
  })

  it('makes a new key each time', async () => {
    const [a, b] = await Promise.all([createKeystore('x', FAST), createKeystore('x', FAST)])
    expect(a.address).not.toBe(b.address)
  })

  it('hashes the passphrase as typed: the NFKC twin of a full-width passphrase does not open it', async () => {
    expect((await refusal(openKeystore(vectors.keystore.json, '密码123'))).reason).toBe('passphrase')
  })

  it('refuses a wrong passphrase as such', async () => {
    const made = await createKeystore('right', FAST)
    const error = await refusal(openKeystore(made.json, 'wrong'))
    expect(error.reason).toBe('passphrase')
    expect(error.code).toBe('crypto.key_file')
  })

  it('refuses a damaged ciphertext (the MAC cannot tell it from a wrong passphrase)', async () => {
    const made = await createKeystore('right', FAST)
    const parsed = JSON.parse(made.json)
    const ct: string = parsed.Crypto.ciphertext
    parsed.Crypto.ciphertext = (ct[0] === '0' ? '1' : '0') + ct.slice(1)
    expect((await refusal(openKeystore(JSON.stringify(parsed), 'right'))).reason).toBe('passphrase')
  })

  it('refuses what is not a V3 keystore as a format error', async () => {
    for (const text of ['not json', '[]', '{"version":3}', '{"version":4,"crypto":{}}']) {
      expect((await refusal(openKeystore(text, 'x'))).reason).toBe('format')
    }
  })
})
