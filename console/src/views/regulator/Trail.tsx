// Page 4: the consortium's audit trail as the regulator's own gateway assembles it from every
// organisation's anchored batches. Organisation and record are asked of the gateway; actor,
// outcome and time range are applied here. Each entry's Merkle proof is checked in this page
// against its batch's anchored root; batches the gateway could not read are listed as pending.
import { useState } from 'preact/hooks'
import type { Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { parseLocal } from '../../lib/time'
import { ActionButton, Address, Badge, Field, Section, Select, Table, Time } from '../../ui/components'
import type { ConsortiumTrail, TrailItem } from './api'
import { OrgName, useOrganisations } from './orgs'
import { verifyEntry } from './proof'
import { matches, type TrailFilter } from './trailFilter'

const PAGE = 50
const BYTES32 = /^0x[0-9a-fA-F]{64}$/

interface Shown {
  trail: ConsortiumTrail
  items: TrailItem[]
  verified: Map<string, boolean>
}

const BATCH_STATUSES = ['unavailable', 'rejected', 'sealed_for_others', 'local_only']
const batchStatus = (status: string) =>
  BATCH_STATUSES.includes(status) ? t(`regulator.trail.batch.${status}`) : status

const keyOf = (i: TrailItem) => `${i.chain_batch_id}:${i.leaf_index}:${i.org}`

export function TrailPage(props: { gateway: Gateway }) {
  const orgs = useOrganisations(props.gateway)
  const [org, setOrg] = useState('')
  const [record, setRecord] = useState('')
  const [actor, setActor] = useState('')
  const [outcome, setOutcome] = useState<TrailFilter['outcome']>('all')
  const [since, setSince] = useState('')
  const [until, setUntil] = useState('')
  const [shown, setShown] = useState<Shown | null>(null)
  const [limit, setLimit] = useState(PAGE)

  const search = async () => {
    const recordId = record.trim()
    if (recordId && !BYTES32.test(recordId)) throw new Error(t('regulator.trail.bad_record'))
    const filter: TrailFilter = {
      actor,
      outcome,
      since: since ? parseLocal(since) : null,
      until: until ? parseLocal(until) : null,
    }
    const trail = await props.gateway.get<ConsortiumTrail>('/v1/audit/trail', {
      org: org || undefined,
      record_id: recordId || undefined,
    })
    const items = trail.items.filter((i) => matches(i, filter)).reverse() // newest first
    const verified = new Map(items.map((i) => [keyOf(i), verifyEntry(i.entry, i.proof, i.root)]))
    setShown({ trail, items, verified })
    setLimit(PAGE)
  }

  const orgOptions = [
    { value: '', label: t('regulator.trail.any_org') },
    ...(orgs.data ?? []).map((o) => ({ value: o.org, label: `${t(`common.kind.${o.kind}`)} ${o.org.slice(0, 8)}…${o.org.slice(-4)}` })),
  ]

  return (
    <>
      <Section title={t('regulator.trail.title')} id="trail">
        <p class="hint">{t('regulator.trail.intro')}</p>
        <form
          class="filters grid"
          onSubmit={(e) => {
            e.preventDefault()
          }}
        >
          <Select label={t('regulator.trail.org')} name="trail-org" value={org} options={orgOptions} onChange={setOrg} />
          <Field label={t('regulator.trail.record')} name="trail-record" value={record} onInput={setRecord} hint={t('regulator.trail.record_hint')} />
          <Field label={t('regulator.trail.actor')} name="trail-actor" value={actor} onInput={setActor} />
          <Select
            label={t('regulator.trail.outcome')}
            name="trail-outcome"
            value={outcome}
            options={(['all', 'allowed', 'denied'] as const).map((o) => ({ value: o, label: t(`regulator.trail.outcome.${o}`) }))}
            onChange={(v) => setOutcome(v as TrailFilter['outcome'])}
          />
          <Field label={t('regulator.trail.since')} name="trail-since" type="datetime-local" value={since} onInput={setSince} />
          <Field label={t('regulator.trail.until')} name="trail-until" type="datetime-local" value={until} onInput={setUntil} />
        </form>
        <ActionButton name="trail-search" label={t('regulator.trail.search')} action={search} />
      </Section>
      {shown && <Results shown={shown} limit={limit} more={() => setLimit(limit + PAGE)} orgs={orgs.data} />}
    </>
  )
}

function Results(props: { shown: Shown; limit: number; more: () => void; orgs: Parameters<typeof OrgName>[0]['orgs'] }) {
  const { trail, items, verified } = props.shown
  const checked = items.filter((i) => verified.get(keyOf(i))).length
  return (
    <Section title={t('regulator.trail.results')} id="trail-results">
      <p role="status" class="summary">
        {t('regulator.trail.summary', { count: items.length, checked, batches: trail.batches })}{' '}
        {trail.complete ? (
          <Badge kind="ok">{t('regulator.trail.complete')}</Badge>
        ) : (
          <Badge kind="warn">{t('regulator.trail.incomplete', { count: trail.problems.length })}</Badge>
        )}
      </p>
      <Table<TrailItem>
        caption={t('regulator.trail.caption')}
        rows={items.slice(0, props.limit)}
        rowKey={keyOf}
        empty={t('regulator.trail.empty')}
        columns={[
          { label: t('regulator.trail.at'), cell: (i) => <Time at={Number(i.entry.at)} /> },
          { label: t('regulator.trail.org'), cell: (i) => <OrgName org={String(i.entry.org ?? i.org)} orgs={props.orgs} /> },
          { label: t('regulator.trail.actor'), cell: (i) => <Address value={String(i.entry.actor)} /> },
          { label: t('regulator.trail.action'), cell: (i) => <code class="action-name">{String(i.entry.action)}</code> },
          { label: t('regulator.trail.record'), cell: (i) => (i.entry.record_id ? <Address value={String(i.entry.record_id)} /> : '—') },
          { label: t('regulator.trail.purpose'), cell: (i) => (i.entry.purpose ? <code>{String(i.entry.purpose)}</code> : '—') },
          {
            label: t('regulator.trail.outcome'),
            cell: (i) =>
              i.entry.outcome === 'allowed' ? (
                <Badge kind="ok">{t('regulator.trail.outcome.allowed')}</Badge>
              ) : (
                <Badge kind="bad">{`${t('regulator.trail.outcome.denied')} ${String(i.entry.outcome).replace(/^denied:?/, '')}`}</Badge>
              ),
          },
          {
            label: t('regulator.trail.verification'),
            cell: (i) =>
              verified.get(keyOf(i)) ? (
                <Badge kind="ok">{t('regulator.trail.proof_ok', { batch: i.chain_batch_id })}</Badge>
              ) : (
                <Badge kind="bad">{t('regulator.trail.proof_bad', { batch: i.chain_batch_id })}</Badge>
              ),
          },
        ]}
      />
      {items.length > props.limit && (
        <button type="button" class="btn plain" name="trail-more" onClick={props.more}>
          {t('regulator.trail.more', { count: items.length - props.limit })}
        </button>
      )}
      {trail.problems.length > 0 && (
        <>
          <h3>{t('regulator.trail.pending_title')}</h3>
          <ul class="problems">
            {trail.problems.map((p) => (
              <li key={`${p.chain_batch_id}`}>
                <Badge kind="warn">{batchStatus(p.status)}</Badge>{' '}
                {t('regulator.trail.batch', { batch: p.chain_batch_id })} <OrgName org={p.org} orgs={props.orgs} />
              </li>
            ))}
          </ul>
        </>
      )}
    </Section>
  )
}
