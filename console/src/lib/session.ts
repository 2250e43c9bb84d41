// Who is signed in, in this page only: the decrypted key lives in memory and is gone on reload or
// sign-out. Nothing here is sent anywhere; the keystore file itself (encrypted under the
// passphrase) may be remembered in this browser if the user asks.
import { computeAddress, hexlify } from 'ethers'

export type Session =
  | { kind: 'staff'; address: string; privateKey: Uint8Array }
  | { kind: 'patient'; address: string; master: Uint8Array }

type Listener = (session: Session | null) => void

let current: Session | null = null
const listeners = new Set<Listener>()

export function session(): Session | null {
  return current
}

export function signIn(next: Session): void {
  current = next
  for (const listener of listeners) listener(current)
}

export function signOut(): void {
  if (current?.kind === 'staff') current.privateKey.fill(0)
  if (current?.kind === 'patient') current.master.fill(0)
  current = null
  for (const listener of listeners) listener(null)
}

export function onSession(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export function staffSession(privateKey: Uint8Array): Session {
  return { kind: 'staff', address: computeAddress(hexlify(privateKey)), privateKey }
}

export function patientSession(master: Uint8Array): Session {
  return { kind: 'patient', address: computeAddress(hexlify(master)), master }
}

const STORED = 'medledger.keystore.'

/** The encrypted keystore remembered for ``who`` ('patient' | 'staff'), if any. */
export function storedKeystore(who: string): string | null {
  try {
    return globalThis.localStorage?.getItem(STORED + who) ?? null
  } catch {
    return null
  }
}

export function rememberKeystore(who: string, json: string | null): void {
  try {
    if (json === null) globalThis.localStorage?.removeItem(STORED + who)
    else globalThis.localStorage?.setItem(STORED + who, json)
  } catch {
    // storage refused: the user imports the file next time
  }
}
