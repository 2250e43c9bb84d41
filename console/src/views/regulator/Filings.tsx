// Page 2: practice filings, the queue waiting for a decision first. The regulator approves,
// rejects or revokes one with a reason code; the chain is the authority, so a decision it refuses
// (a filing already decided, say) is shown as its translated refusal.
import { useState } from 'preact/hooks'
import type { Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { ActionButton, Address, Badge, Field, Notice, Section, Select, Table, Time } from '../../ui/components'
import { REASON_CODE, type Filing } from './api'
import { useLoad } from './load'
import { OrgName, useOrganisations } from './orgs'

type Decision = 'approve' | 'reject' | 'revoke'
const STATUS_BADGE = { pending: 'warn', approved: 'ok', rejected: 'bad', revoked: 'bad' } as const
const FILTERS = ['pending', 'approved', 'rejected', 'revoked', 'all'] as const

export function FilingsPage(props: { gateway: Gateway }) {
  const { gateway } = props
  const [filter, setFilter] = useState<(typeof FILTERS)[number]>('pending')
  const orgs = useOrganisations(gateway)
  const filings = useLoad(
    () => gateway.get<Filing[]>('/v1/oversight/filings', { status: filter === 'all' ? undefined : filter }),
    [filter],
  )
  const [chosen, setChosen] = useState<Filing | null>(null)
  const [done, setDone] = useState<Filing | null>(null)

  return (
    <>
      <Section title={t('regulator.filings.title')} id="filings">
        <p class="hint">{t('regulator.filings.intro')}</p>
        {done && (
          <Notice kind="ok">
            {t('regulator.filings.decided', { status: t(`regulator.filings.status.${done.status}`) })}{' '}
            {t('regulator.filings.doctor')} <Address value={done.doctor} />
            {done.transaction && (
              <>
                {' · '}
                {t('regulator.filings.transaction')} <Address value={done.transaction} />
              </>
            )}
          </Notice>
        )}
        <div class="filters">
          <Select
            label={t('regulator.filings.filter')}
            name="filing-status"
            value={filter}
            options={FILTERS.map((f) => ({ value: f, label: t(`regulator.filings.status.${f}`) }))}
            onChange={(v) => setFilter(v as (typeof FILTERS)[number])}
          />
          <button type="button" class="btn plain" name="filings-refresh" onClick={() => void filings.reload()}>
            {t('common.refresh')}
          </button>
        </div>
        {filings.error && <Notice kind="error">{filings.error}</Notice>}
        {filings.loading && !filings.data && <p class="loading">{t('common.loading')}</p>}
        {filings.data && (
          <Table<Filing>
            caption={t('regulator.filings.caption', { count: filings.data.length })}
            rows={filings.data}
            rowKey={(f) => f.filing_id}
            empty={t('regulator.filings.empty')}
            columns={[
              { label: t('regulator.filings.doctor'), cell: (f) => <Address value={f.doctor} /> },
              { label: t('regulator.filings.institution'), cell: (f) => <OrgName org={f.institution} orgs={orgs.data} /> },
              { label: t('regulator.filings.scope'), cell: (f) => f.scope.map((s) => t(`regulator.scope.${s}`)).join(t('regulator.list_sep')) },
              {
                label: t('regulator.filings.window'),
                cell: (f) => (
                  <span>
                    <Time at={f.valid_from} /> – <Time at={f.valid_to} endOfDay />
                  </span>
                ),
              },
              { label: t('regulator.filings.status'), cell: (f) => <Badge kind={STATUS_BADGE[f.status]}>{t(`regulator.filings.status.${f.status}`)}</Badge> },
              {
                label: t('regulator.filings.action'),
                cell: (f) => (
                  <button
                    type="button"
                    class="btn plain"
                    name="decide"
                    data-filing={f.filing_id}
                    aria-label={t('regulator.filings.decide_for', { doctor: f.doctor })}
                    onClick={() => {
                      setChosen(f)
                      setDone(null)
                    }}
                  >
                    {t('regulator.filings.decide')}
                  </button>
                ),
              },
            ]}
          />
        )}
      </Section>
      {chosen && (
        <DecisionPanel
          key={chosen.filing_id}
          gateway={gateway}
          filing={chosen}
          onDecided={(after) => {
            setDone(after)
            setChosen(null)
            void filings.reload()
          }}
          onClose={() => setChosen(null)}
          orgs={orgs.data}
        />
      )}
    </>
  )
}

function DecisionPanel(props: {
  gateway: Gateway
  filing: Filing
  orgs: Parameters<typeof OrgName>[0]['orgs']
  onDecided: (after: Filing) => void
  onClose: () => void
}) {
  const { filing } = props
  const [reason, setReason] = useState('')
  const decide = async (decision: Decision) => {
    const code = reason.trim()
    if (!REASON_CODE.test(code)) throw new Error(t('regulator.filings.reason_invalid'))
    const after = await props.gateway.post<Filing>(`/v1/practice/filings/${filing.filing_id}/${decision}`, { reason: code })
    props.onDecided(after)
  }
  return (
    <Section title={t('regulator.filings.decision_title')} id="decision">
      <dl class="facts">
        <dt>{t('regulator.filings.id')}</dt>
        <dd>
          <Address value={filing.filing_id} />
        </dd>
        <dt>{t('regulator.filings.doctor')}</dt>
        <dd>
          <Address value={filing.doctor} />
        </dd>
        <dt>{t('regulator.filings.institution')}</dt>
        <dd>
          <OrgName org={filing.institution} orgs={props.orgs} />
        </dd>
        <dt>{t('regulator.filings.status')}</dt>
        <dd>{t(`regulator.filings.status.${filing.status}`)}</dd>
      </dl>
      <Field
        label={t('regulator.filings.reason')}
        name="reason"
        value={reason}
        onInput={setReason}
        hint={t('regulator.filings.reason_hint')}
        required
      />
      <div class="actions">
        <ActionButton name="approve" label={t('regulator.filings.approve')} action={() => decide('approve')} />
        <ActionButton name="reject" kind="danger" label={t('regulator.filings.reject')} action={() => decide('reject')} />
        <ActionButton name="revoke" kind="danger" label={t('regulator.filings.revoke')} action={() => decide('revoke')} />
        <button type="button" class="btn plain" name="close-decision" onClick={props.onClose}>
          {t('common.close')}
        </button>
      </div>
    </Section>
  )
}
