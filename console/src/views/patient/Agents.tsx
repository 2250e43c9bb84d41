// Guardians and proxies: the patient appoints an agent (its own address, a kind, an expiry), reads
// the appointment in plain words before signing it, and lists and ends appointments in one step.
import { useEffect, useState } from 'preact/hooks'
import { signAppointment, signAppointmentRevocation, type AgentKindName } from '../../crypto'
import { t } from '../../lib/i18n'
import { nowSeconds, parseLocal } from '../../lib/time'
import { ActionButton, Address, Badge, Field, Notice, Section, Select, Table, Time, describeError } from '../../ui/components'
import { appointmentSummary } from './summary'
import { consentDomainOf, type PatientWallet } from './wallet'

interface Appointment {
  appointment_id: string
  patient: string
  agent: string
  kind: AgentKindName
  expires_at: number
  status: 'active' | 'expired' | 'revoked'
}

const STATUS_BADGE = { active: 'ok', expired: 'warn', revoked: 'bad' } as const

export function Agents(props: { wallet: PatientWallet }) {
  const { wallet } = props
  const [rows, setRows] = useState<Appointment[] | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  const [agent, setAgent] = useState('')
  const [kind, setKind] = useState<AgentKindName>('guardian')
  const [expiry, setExpiry] = useState(`${new Date((nowSeconds() + 365 * 86_400) * 1000).toISOString().slice(0, 10)}T00:00`)
  const [draft, setDraft] = useState<{ agent: string; kind: AgentKindName; expiresAt: number } | null>(null)

  const load = async () => {
    setFailure(null)
    try {
      setRows(await wallet.gateway.get<Appointment[]>('/v1/consents/appointments'))
    } catch (err) {
      setFailure(describeError(err))
    }
  }
  useEffect(() => void load(), [wallet])

  const review = async () => {
    if (!/^0x[0-9a-fA-F]{40}$/.test(agent.trim())) throw new Error(t('patient.agents.bad_address'))
    const expiresAt = parseLocal(expiry)
    if (expiresAt === null || expiresAt <= nowSeconds()) throw new Error(t('patient.consent.bad_expiry'))
    setDraft({ agent: agent.trim(), kind, expiresAt })
  }
  const appoint = async () => {
    if (!draft) return
    await wallet.gateway.post('/v1/consents/appointments', signAppointment(wallet.key, await consentDomainOf(wallet), draft))
    setDraft(null)
    await load()
  }
  const end = async (a: Appointment) => {
    const signed = signAppointmentRevocation(wallet.key, await consentDomainOf(wallet), a.appointment_id)
    await wallet.gateway.post('/v1/consents/appointments/revocations', signed)
    await load()
  }
  const mine = (rows ?? []).filter((a) => a.patient.toLowerCase() === wallet.pseudonym.toLowerCase())

  return (
    <>
      <Section title={t('patient.agents.title')} id="agents">
        <p>{t('patient.agents.intro')}</p>
        {failure && <Notice kind="error">{failure}</Notice>}
        <Field label={t('patient.agents.agent')} name="agent" value={agent} onInput={(v) => { setAgent(v); setDraft(null) }} hint={t('patient.agents.agent_hint')} />
        <Select label={t('patient.agents.kind')} name="agent-kind" value={kind} onChange={(v) => { setKind(v as AgentKindName); setDraft(null) }}
          options={(['guardian', 'proxy'] as const).map((k) => ({ value: k, label: t(`patient.agents.kind.${k}`) }))} />
        <Field label={t('patient.consent.expiry')} name="agent-expiry" type="datetime-local" value={expiry} onInput={(v) => { setExpiry(v); setDraft(null) }} />
        <ActionButton label={t('patient.consent.review')} name="review-appointment" kind="plain" action={review} />
        {draft && (
          <div class="review">
            <p class="summary">{appointmentSummary(draft.agent, draft.kind, draft.expiresAt)}</p>
            <ActionButton label={t('patient.agents.appoint')} name="sign-appointment" action={appoint} />
          </div>
        )}
      </Section>
      <Section title={t('patient.agents.list_title')} id="appointments">
        <Table<Appointment>
          caption={t('patient.agents.caption')}
          rows={mine}
          rowKey={(a) => a.appointment_id}
          empty={rows === null ? t('common.loading') : t('patient.agents.none')}
          columns={[
            { label: t('patient.agents.agent'), cell: (a) => <Address value={a.agent} /> },
            { label: t('patient.agents.kind'), cell: (a) => t(`patient.agents.kind.${a.kind}`) },
            { label: t('patient.grants.status'), cell: (a) => <Badge kind={STATUS_BADGE[a.status]}>{t(`patient.grants.status.${a.status}`)}</Badge> },
            { label: t('patient.grants.expires'), cell: (a) => <Time at={a.expires_at} endOfDay /> },
            {
              label: t('patient.grants.action'),
              cell: (a) => a.status === 'active'
                ? <ActionButton label={t('patient.agents.end')} name={`end-${a.appointment_id}`} kind="danger" action={() => end(a)} />
                : '—',
            },
          ]}
        />
        <ActionButton label={t('common.refresh')} name="refresh-appointments" kind="plain" action={load} />
      </Section>
    </>
  )
}
