// What every view needs from the shell: the gateway's own facts and its signing domain.
import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import { Gateway, type ConsoleConfig, type Domain } from './gateway'
import { session } from './session'

export interface StaffIdentity {
  address: string
  organisation: string
  role: string // e.g. PHARMACIST_ROLE, AUDITOR_ROLE
}

export interface AppState {
  config: ConsoleConfig
  domain: Domain
  /** The signed-in staff member as the chain knows them (GET /v1/console/me), else null. */
  staff: StaffIdentity | null
  /** Sends the user to the staff sign-in, then back to ``returnTo``. */
  requireSignIn: (returnTo: string) => void
}

export const AppContext = createContext<AppState | null>(null)

export function useApp(): AppState {
  const state = useContext(AppContext)
  if (state === null) throw new Error('useApp outside the console shell')
  return state
}

/** A client signing as the signed-in staff member; null when no staff member is signed in. */
export function useStaffGateway(): Gateway | null {
  const { domain } = useApp()
  const current = session()
  return current?.kind === 'staff' ? new Gateway(current.privateKey, domain) : null
}
