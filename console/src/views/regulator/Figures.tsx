// Page 3: per institution, the prescriptions it issued (by status), the dispenses it made, and the
// claims it made as provider or decided as insurer: chain facts, metadata only, never content.
import type { Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { Notice, Section, Table } from '../../ui/components'
import type { Dispense, InstitutionFigures, Organisation, PrescriptionSummary } from './api'
import { useLoad } from './load'
import { OrgName, readOrganisations } from './orgs'

interface Row {
  org: Organisation
  prescriptions: Record<string, number> | null
  dispenses: number | null
  claims: InstitutionFigures | null
}

const count = (items: { status: string }[]) =>
  items.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.status]: (acc[i.status] ?? 0) + 1 }), {})

async function readFigures(gateway: Gateway): Promise<{ rows: Row[]; orgs: Organisation[] }> {
  const [orgs, claims] = await Promise.all([
    readOrganisations(gateway),
    gateway.get<InstitutionFigures[]>('/v1/claims/figures'),
  ])
  const rows = await Promise.all(
    orgs
      .filter((o) => o.kind !== 'regulator')
      .map(async (org): Promise<Row> => {
        const prescriptions =
          org.kind === 'hospital'
            ? count(await gateway.get<PrescriptionSummary[]>('/v1/prescriptions', { institution: org.org }))
            : null
        const dispenses =
          org.kind === 'pharmacy'
            ? (await gateway.get<Dispense[]>('/v1/dispenses', { pharmacy: org.org })).length
            : null
        const own = claims.find((c) => c.institution.toLowerCase() === org.org.toLowerCase()) ?? null
        return { org, prescriptions, dispenses, claims: own }
      }),
  )
  return { rows, orgs }
}

function Counts(props: { counts: Record<string, number> | null }) {
  if (props.counts === null) return <span>—</span>
  const entries = Object.entries(props.counts)
  if (entries.length === 0) return <span>0</span>
  const total = entries.reduce((sum, [, n]) => sum + n, 0)
  return (
    <span>
      <strong>{total}</strong>{' '}
      <span class="hint">
        ({entries.map(([status, n]) => `${t(`regulator.rx.${status}`)} ${n}`).join(t('regulator.list_sep'))})
      </span>
    </span>
  )
}

function Claims(props: { figures: InstitutionFigures | null }) {
  const f = props.figures
  if (f === null) return <span>—</span>
  return (
    <span>
      {t(`regulator.figures.as_${f.role}`)}: <strong>{f.claims}</strong>{' '}
      <span class="hint">
        {t('regulator.figures.claims_detail', {
          approved: f.approved,
          partial: f.partial,
          denied: f.denied,
          duplicates: f.duplicates,
          settled: f.settled,
        })}
      </span>
    </span>
  )
}

export function FiguresPage(props: { gateway: Gateway }) {
  const figures = useLoad(() => readFigures(props.gateway), [])
  return (
    <Section title={t('regulator.figures.title')} id="figures">
      <p class="hint">{t('regulator.figures.intro')}</p>
      {figures.error && <Notice kind="error">{figures.error}</Notice>}
      {figures.loading && !figures.data && <p class="loading">{t('common.loading')}</p>}
      {figures.data && (
        <Table<Row>
          caption={t('regulator.figures.caption')}
          rows={figures.data.rows}
          rowKey={(r) => r.org.org}
          empty={t('regulator.orgs.empty')}
          columns={[
            { label: t('regulator.figures.institution'), cell: (r) => <OrgName org={r.org.org} orgs={figures.data!.orgs} /> },
            { label: t('regulator.figures.prescriptions'), cell: (r) => <Counts counts={r.prescriptions} /> },
            { label: t('regulator.figures.dispenses'), cell: (r) => (r.dispenses === null ? '—' : <strong>{r.dispenses}</strong>) },
            { label: t('regulator.figures.claims'), cell: (r) => <Claims figures={r.claims} /> },
          ]}
        />
      )}
    </Section>
  )
}
