// Page 5: the rules engine's alerts, each with the chain transactions or access entries that show
// it; and the break-glass declarations, which the regulator's auditor reviews (justified or not,
// with a note code: the review goes on chain).
import { useState } from 'preact/hooks'
import type { Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { ActionButton, Address, Badge, Field, Notice, Section, Select, Table, Time } from '../../ui/components'
import { REASON_CODE, type Alert, type BreakGlass } from './api'
import { EvidenceItem } from './evidence'
import { useLoad } from './load'
import { OrgName, useOrganisations } from './orgs'

const SEVERITIES = ['all', 'low', 'medium', 'high', 'critical'] as const
const SEVERITY_BADGE = { low: 'info', medium: 'warn', high: 'bad', critical: 'bad' } as const
const BG_BADGE = { pending: 'warn', overdue: 'bad', justified: 'ok', unjustified: 'bad' } as const

export function AlertsPage(props: { gateway: Gateway }) {
  return (
    <>
      <AlertList gateway={props.gateway} />
      <BreakGlassList gateway={props.gateway} />
    </>
  )
}

function AlertList(props: { gateway: Gateway }) {
  const [severity, setSeverity] = useState<(typeof SEVERITIES)[number]>('all')
  const orgs = useOrganisations(props.gateway)
  const alerts = useLoad(
    () =>
      props.gateway.get<{ items: Alert[] }>('/v1/alerts', {
        severity: severity === 'all' ? undefined : severity,
        limit: 500,
      }),
    [severity],
  )
  const items = alerts.data ? [...alerts.data.items].reverse() : []
  const [open, setOpen] = useState<Alert | null>(null)
  return (
    <Section title={t('regulator.alerts.title')} id="alerts">
      <p class="hint">{t('regulator.alerts.intro')}</p>
      <div class="filters">
        <Select
          label={t('regulator.alerts.severity')}
          name="alert-severity"
          value={severity}
          options={SEVERITIES.map((s) => ({ value: s, label: t(`regulator.alerts.severity.${s}`) }))}
          onChange={(v) => setSeverity(v as (typeof SEVERITIES)[number])}
        />
        <button type="button" class="btn plain" name="alerts-refresh" onClick={() => void alerts.reload()}>
          {t('common.refresh')}
        </button>
      </div>
      {alerts.error && <Notice kind="error">{alerts.error}</Notice>}
      {alerts.loading && !alerts.data && <p class="loading">{t('common.loading')}</p>}
      {alerts.data && (
        <Table<Alert>
          caption={t('regulator.alerts.caption', { count: items.length })}
          rows={items}
          rowKey={(a) => a.id}
          empty={t('regulator.alerts.empty')}
          columns={[
            { label: t('regulator.alerts.at'), cell: (a) => <Time at={a.at} /> },
            { label: t('regulator.alerts.severity'), cell: (a) => <Badge kind={SEVERITY_BADGE[a.severity]}>{t(`regulator.alerts.severity.${a.severity}`)}</Badge> },
            { label: t('regulator.alerts.rule'), cell: (a) => <code>{a.rule}</code> },
            { label: t('regulator.alerts.institution'), cell: (a) => <OrgName org={a.institution} orgs={orgs.data} /> },
            { label: t('regulator.alerts.subject'), cell: (a) => <Address value={a.subject} /> },
            {
              label: t('regulator.alerts.evidence'),
              cell: (a) => (
                <button
                  type="button"
                  class="btn plain"
                  name="evidence"
                  data-alert={a.id}
                  aria-expanded={open?.id === a.id}
                  onClick={() => setOpen(open?.id === a.id ? null : a)}
                >
                  {t('regulator.alerts.evidence_count', { count: a.evidence.length })}
                </button>
              ),
            },
          ]}
        />
      )}
      {open && <Evidence alert={open} />}
    </Section>
  )
}

function Evidence(props: { alert: Alert }) {
  const { alert } = props
  return (
    <div class="evidence" id="alert-evidence">
      <h3>{t('regulator.alerts.evidence_title', { rule: alert.rule })}</h3>
      <p class="summary">{alert.summary}</p>
      <ol>
        {alert.evidence.map((item, index) => (
          <li key={index}>
            <EvidenceItem item={item} />
          </li>
        ))}
      </ol>
    </div>
  )
}

function BreakGlassList(props: { gateway: Gateway }) {
  const orgs = useOrganisations(props.gateway)
  const list = useLoad(() => props.gateway.get<{ items: BreakGlass[] }>('/v1/break-glass'), [])
  const [reviewing, setReviewing] = useState<BreakGlass | null>(null)
  const items = list.data ? [...list.data.items].reverse() : []
  return (
    <Section title={t('regulator.bg.title')} id="break-glass">
      <p class="hint">{t('regulator.bg.intro')}</p>
      {list.error && <Notice kind="error">{list.error}</Notice>}
      {list.loading && !list.data && <p class="loading">{t('common.loading')}</p>}
      {list.data && (
        <Table<BreakGlass>
          caption={t('regulator.bg.caption', { count: items.length })}
          rows={items}
          rowKey={(b) => b.access_id}
          empty={t('regulator.bg.empty')}
          columns={[
            { label: t('regulator.bg.declared'), cell: (b) => <Time at={b.declared_at} /> },
            { label: t('regulator.bg.org'), cell: (b) => <OrgName org={b.org} orgs={orgs.data} /> },
            { label: t('regulator.bg.doctor'), cell: (b) => <Address value={b.doctor} /> },
            { label: t('regulator.bg.holder'), cell: (b) => <OrgName org={b.holder} orgs={orgs.data} /> },
            { label: t('regulator.bg.reason'), cell: (b) => <code>{b.reason_name ?? String(b.reason)}</code> },
            {
              label: t('regulator.bg.status'),
              cell: (b) => (
                <span>
                  <Badge kind={BG_BADGE[b.status]}>{t(`regulator.bg.status.${b.status}`)}</Badge>
                  {b.late && <Badge kind="warn">{t('regulator.bg.late')}</Badge>}
                </span>
              ),
            },
            {
              label: t('regulator.bg.action'),
              cell: (b) =>
                b.reviewed_at === null ? (
                  <button type="button" class="btn plain" name="review" onClick={() => setReviewing(b)}>
                    {t('regulator.bg.review')}
                  </button>
                ) : (
                  <span>
                    <Time at={b.reviewed_at} /> {b.note && <code>{b.note}</code>}
                  </span>
                ),
            },
          ]}
        />
      )}
      {reviewing && (
        <Review
          key={reviewing.access_id}
          gateway={props.gateway}
          access={reviewing}
          onDone={() => {
            setReviewing(null)
            void list.reload()
          }}
        />
      )}
    </Section>
  )
}

function Review(props: { gateway: Gateway; access: BreakGlass; onDone: () => void }) {
  const [justified, setJustified] = useState('yes')
  const [note, setNote] = useState('')
  const send = async () => {
    const code = note.trim()
    if (!REASON_CODE.test(code) || code.length > 31) throw new Error(t('regulator.filings.reason_invalid'))
    await props.gateway.post(`/v1/break-glass/${props.access.access_id}/review`, { justified: justified === 'yes', note: code })
    props.onDone()
  }
  return (
    <div class="review">
      <h3>{t('regulator.bg.review_title')}</h3>
      <Select
        label={t('regulator.bg.justified')}
        name="justified"
        value={justified}
        options={[
          { value: 'yes', label: t('common.yes') },
          { value: 'no', label: t('common.no') },
        ]}
        onChange={setJustified}
      />
      <Field label={t('regulator.bg.note')} name="note" value={note} onInput={setNote} hint={t('regulator.filings.reason_hint')} required />
      <ActionButton name="send-review" label={t('regulator.bg.send')} action={send} />
    </div>
  )
}
