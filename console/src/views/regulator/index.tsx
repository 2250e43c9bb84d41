// The regulator's console: organisations, filings waiting for a decision, figures per institution,
// the consortium's audit trail with each entry's verification, and the rules engine's alerts with
// break-glass declarations to review. The regulator's staff sign in with their own key file.
import { useState } from 'preact/hooks'
import { useApp, useStaffGateway } from '../../lib/context'
import { t } from '../../lib/i18n'
import { Notice, Section } from '../../ui/components'
import { AlertsPage } from './Alerts'
import { FiguresPage } from './Figures'
import { FilingsPage } from './Filings'
import { OrganisationsPage } from './Organisations'
import { TrailPage } from './Trail'

const TABS = ['filings', 'organisations', 'figures', 'trail', 'alerts'] as const
type Tab = (typeof TABS)[number]

function tabOf(hash: string): Tab {
  const wanted = new URLSearchParams(hash.split('?')[1] ?? '').get('tab')
  return (TABS as readonly string[]).includes(wanted ?? '') ? (wanted as Tab) : 'filings'
}

export function RegulatorApp() {
  const { config, requireSignIn } = useApp()
  const gateway = useStaffGateway()
  const [tab, setTab] = useState<Tab>(tabOf(globalThis.location.hash))

  if (config.kind !== 'regulator') {
    return <Notice kind="info">{t('regulator.only_here')}</Notice>
  }
  if (gateway === null) {
    return (
      <Section title={t('regulator.title')}>
        <p>{t('regulator.sign_in_needed')}</p>
        <button type="button" class="btn primary" name="regulator-sign-in" onClick={() => requireSignIn('regulator')}>
          {t('regulator.sign_in')}
        </button>
      </Section>
    )
  }
  const choose = (next: Tab) => {
    setTab(next)
    globalThis.history.replaceState(null, '', `#/regulator?tab=${next}`)
  }
  return (
    <div class="regulator">
      <h1 class="page-title">{t('regulator.title')}</h1>
      <div class="tabs" role="tablist" aria-label={t('regulator.tabs')}>
        {TABS.map((name) => (
          <button
            type="button"
            role="tab"
            id={`tab-${name}`}
            name={`tab-${name}`}
            aria-selected={tab === name}
            aria-controls={`panel-${name}`}
            class={`tab ${tab === name ? 'current' : ''}`}
            onClick={() => choose(name)}
            key={name}
          >
            {t(`regulator.tab.${name}`)}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === 'organisations' && <OrganisationsPage gateway={gateway} />}
        {tab === 'filings' && <FilingsPage gateway={gateway} />}
        {tab === 'figures' && <FiguresPage gateway={gateway} />}
        {tab === 'trail' && <TrailPage gateway={gateway} />}
        {tab === 'alerts' && <AlertsPage gateway={gateway} />}
      </div>
    </div>
  )
}
