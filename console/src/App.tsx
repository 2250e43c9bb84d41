// The shell: the gateway's facts, the language switch, who is signed in, and the hash routes to
// the patient's wallet (#/patient), the regulator's console (#/regulator), the pharmacist's
// counter (#/pharmacy) and the staff sign-in (#/sign-in).
import { useEffect, useState } from 'preact/hooks'
import { AppContext, type AppState, type StaffIdentity } from './lib/context'
import { fetchConfig, fetchDomain, type ConsoleConfig, type Domain } from './lib/gateway'
import { LANGS, lang, setLang, t, type Lang } from './lib/i18n'
import { onSession, session, signOut } from './lib/session'
import { setUtcOffset } from './lib/time'
import { Address, Notice, describeError } from './ui/components'
import { SignIn } from './ui/SignIn'
import { PatientApp } from './views/patient'
import { PharmacyApp } from './views/pharmacy'
import { RegulatorApp } from './views/regulator'

const ROUTES = ['patient', 'regulator', 'pharmacy', 'sign-in'] as const
type Route = (typeof ROUTES)[number]

/** The views each kind of organisation's gateway offers (patients use their hospital's). */
const VIEWS: Record<ConsoleConfig['kind'], readonly Route[]> = {
  hospital: ['patient'],
  insurer: [],
  pharmacy: ['pharmacy'],
  regulator: ['regulator'],
}

const HOME: Record<ConsoleConfig['kind'], Route> = {
  hospital: 'patient',
  insurer: 'sign-in',
  pharmacy: 'pharmacy',
  regulator: 'regulator',
}

function routeOf(hash: string): Route | null {
  const name = hash.replace(/^#\/?/, '').split('?')[0]
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : null
}

function go(route: Route) {
  globalThis.location.hash = `#/${route}`
}

export function App() {
  const [facts, setFacts] = useState<{ config: ConsoleConfig; domain: Domain } | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  // The route is read from the address at every render, so a hash set before this mounted (a
  // link, or a test navigating at once) is not lost; the state only re-renders on a change.
  const [, setHash] = useState(globalThis.location.hash)
  const route = routeOf(globalThis.location.hash)
  const [staff, setStaff] = useState<StaffIdentity | null>(null)
  const [returnTo, setReturnTo] = useState<Route | null>(null)
  const [, setLanguage] = useState<Lang>(lang())
  const [, setSignedIn] = useState(session())

  useEffect(() => {
    Promise.all([fetchConfig(), fetchDomain()])
      .then(([config, domain]) => {
        setUtcOffset(config.utc_offset_minutes)
        setFacts({ config, domain })
      })
      .catch((err) => setFailure(describeError(err)))
    const onHash = () => setHash(globalThis.location.hash)
    globalThis.addEventListener('hashchange', onHash)
    const off = onSession((s) => {
      setSignedIn(s)
      if (s === null) setStaff(null)
    })
    return () => {
      globalThis.removeEventListener('hashchange', onHash)
      off()
    }
  }, [])

  const switchLanguage = () => {
    const next = LANGS[(LANGS.indexOf(lang()) + 1) % LANGS.length]!
    setLang(next)
    setLanguage(next)
  }

  if (failure) return <Notice kind="error">{t('common.unavailable', { reason: failure })}</Notice>
  if (!facts) return <p class="loading">{t('common.loading')}</p>

  const shown = route ?? HOME[facts.config.kind]
  const state: AppState = {
    ...facts,
    staff,
    requireSignIn: (back) => {
      setReturnTo(routeOf(`#/${back}`))
      go('sign-in')
    },
  }
  const current = session()

  return (
    <AppContext.Provider value={state}>
      <header class="top">
        <div class="brand">
          <strong>{t('common.brand')}</strong>
          <span class="org">
            {t(`common.kind.${facts.config.kind}`)} <Address value={facts.config.organisation} />
          </span>
        </div>
        <nav aria-label={t('common.nav')}>
          {VIEWS[facts.config.kind].map((r) => (
            <a href={`#/${r}`} aria-current={shown === r ? 'page' : undefined} key={r}>
              {t(`common.nav.${r}`)}
            </a>
          ))}
        </nav>
        <div class="tools">
          <button type="button" class="btn plain" name="language" onClick={switchLanguage} aria-label={t('common.language.switch')}>
            {t('common.language.other')}
          </button>
          {current && (
            <button type="button" class="btn plain" name="sign-out" onClick={() => signOut()}>
              {t('common.sign_out')}
            </button>
          )}
        </div>
      </header>
      <main id="main">
        {shown === 'patient' && <PatientApp />}
        {shown === 'regulator' && <RegulatorApp />}
        {shown === 'pharmacy' && <PharmacyApp />}
        {shown === 'sign-in' && (
          <SignIn
            onSignedIn={(who) => {
              setStaff(who)
              go(returnTo ?? HOME[facts.config.kind])
            }}
          />
        )}
      </main>
      <footer class="foot">
        <a href="/docs">{t('common.api_docs')}</a> · {t('common.zone', { zone: facts.config.time_zone })}
      </footer>
    </AppContext.Provider>
  )
}
