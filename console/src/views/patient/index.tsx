// The patient's wallet (#/patient): their key, then, under the pseudonym they hold at this
// hospital, enrolment, their records opened in the page, consent, who accessed their data, and
// the guardians and proxies they appointed.
import { useEffect, useMemo, useState } from 'preact/hooks'
import { useApp } from '../../lib/context'
import { t } from '../../lib/i18n'
import { onSession, session } from '../../lib/session'
import { Address, Section } from '../../ui/components'
import { Agents } from './Agents'
import { Consent } from './Consent'
import { Enrol } from './Enrol'
import { KeyPage } from './KeyPage'
import { Records } from './Records'
import { Trail } from './Trail'
import { walletAt } from './wallet'

const TABS = ['enrol', 'records', 'consent', 'trail', 'agents'] as const
type Tab = (typeof TABS)[number]

export function PatientApp() {
  const { config, domain } = useApp()
  const [current, setCurrent] = useState(session())
  const [tab, setTab] = useState<Tab>('enrol')
  useEffect(() => onSession(setCurrent), [])
  const master = current?.kind === 'patient' ? current.master : null
  const wallet = useMemo(() => (master ? walletAt(master, config.organisation, domain) : null), [master, config.organisation, domain])

  if (!wallet) return <KeyPage />
  return (
    <>
      <Section title={t('patient.title')} id="wallet">
        <p>
          {t('patient.pseudonym_here')} <Address value={wallet.pseudonym} />
        </p>
        <p class="hint">{t('patient.pseudonym_hint')}</p>
        <nav class="tabs" aria-label={t('patient.tabs')}>
          {TABS.map((name) => (
            <button type="button" key={name} name={`tab-${name}`} class={`btn ${tab === name ? 'primary' : 'plain'}`}
              aria-pressed={tab === name} onClick={() => setTab(name)}>
              {t(`patient.tab.${name}`)}
            </button>
          ))}
        </nav>
      </Section>
      {tab === 'enrol' && <Enrol wallet={wallet} />}
      {tab === 'records' && <Records wallet={wallet} />}
      {tab === 'consent' && <Consent wallet={wallet} />}
      {tab === 'trail' && <Trail wallet={wallet} />}
      {tab === 'agents' && <Agents wallet={wallet} />}
    </>
  )
}
