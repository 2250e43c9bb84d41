// Consent: the patient chooses who, what and why and until when; reads the grant in plain words;
// only then signs it (EIP-712, with the pseudonym's key) and has this hospital's gateway relay it.
// Their grants are listed with status and expiry, each revocable in one step.
import { useEffect, useState } from 'preact/hooks'
import { categoryScope, recordScope, signGrant, signRevocation, type GrantDraft, type PurposeName, type ScopeKindName } from '../../crypto'
import { t } from '../../lib/i18n'
import { nowSeconds, parseLocal } from '../../lib/time'
import { ActionButton, Badge, Field, Notice, Section, Select, Table, Time, describeError } from '../../ui/components'
import { grantSummary, orgName, type Organisation } from './summary'
import { consentDomainOf, type PatientWallet } from './wallet'

interface Grant {
  grant_id: string
  grantee: string
  scope_kind: ScopeKindName
  scope: string
  purpose: PurposeName
  expires_at: number
  status: 'active' | 'expired' | 'revoked'
}

const SCOPES: ScopeKindName[] = ['record', 'hospital_records', 'prescriptions', 'claims']
const PURPOSES: PurposeName[] = ['treatment', 'claim_verification', 'audit', 'research']
const STATUS_BADGE = { active: 'ok', expired: 'warn', revoked: 'bad' } as const

async function fetchOrganisations(): Promise<Organisation[]> {
  const response = await fetch('/v1/console/organisations', { headers: { Accept: 'application/json' } })
  if (!response.ok) throw new Error(t('patient.consent.no_directory'))
  return (await response.json()) as Organisation[]
}

function defaultExpiry(): string {
  const d = new Date((nowSeconds() + 31 * 86_400) * 1000)
  return `${d.toISOString().slice(0, 10)}T00:00`
}

export function Consent(props: { wallet: PatientWallet }) {
  const { wallet } = props
  const [organisations, setOrganisations] = useState<Organisation[]>([])
  const [grants, setGrants] = useState<Grant[] | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  const [grantee, setGrantee] = useState('')
  const [scopeKind, setScopeKind] = useState<ScopeKindName>('record')
  const [recordId, setRecordId] = useState('')
  const [purpose, setPurpose] = useState<PurposeName>('claim_verification')
  const [expiry, setExpiry] = useState(defaultExpiry())
  const [draft, setDraft] = useState<GrantDraft | null>(null)
  const [done, setDone] = useState<string | null>(null)

  const load = async () => {
    setFailure(null)
    try {
      setGrants(await wallet.gateway.get<Grant[]>('/v1/consents'))
    } catch (err) {
      setFailure(describeError(err))
    }
  }
  useEffect(() => {
    fetchOrganisations()
      .then((found) => {
        const others = found.filter((o) => o.usable && o.org.toLowerCase() !== wallet.hospital.toLowerCase())
        setOrganisations(found)
        setGrantee((g) => g || (others.find((o) => o.kind === 'insurer') ?? others[0])?.org || '')
      })
      .catch((err) => setFailure(describeError(err)))
    void load()
  }, [wallet])

  const review = async () => {
    setDone(null)
    if (!grantee) throw new Error(t('patient.consent.choose_grantee'))
    const expiresAt = parseLocal(expiry)
    if (expiresAt === null || expiresAt <= nowSeconds()) throw new Error(t('patient.consent.bad_expiry'))
    if (scopeKind === 'record' && !/^0x[0-9a-fA-F]{64}$/.test(recordId.trim())) throw new Error(t('patient.consent.bad_record'))
    const scope = scopeKind === 'record' ? recordScope(recordId.trim()) : categoryScope(scopeKind, wallet.hospital)
    setDraft({ grantee, scope, purpose, expiresAt })
  }

  const sign = async () => {
    if (!draft) return
    const signed = signGrant(wallet.key, await consentDomainOf(wallet), draft)
    const receipt = await wallet.gateway.post<{ grant_id: string }>('/v1/consents', signed)
    setDraft(null)
    setDone(receipt.grant_id)
    await load()
  }

  const revoke = async (grant: Grant) => {
    const signed = signRevocation(wallet.key, await consentDomainOf(wallet), grant.grant_id)
    await wallet.gateway.post('/v1/consents/revocations', signed)
    await load()
  }

  const others = organisations.filter((o) => o.org.toLowerCase() !== wallet.hospital.toLowerCase())
  return (
    <>
      <Section title={t('patient.consent.title')} id="consent">
        {failure && <Notice kind="error">{failure}</Notice>}
        <Select label={t('patient.consent.grantee')} name="grantee" value={grantee} onChange={(v) => { setGrantee(v); setDraft(null) }}
          options={others.map((o) => ({ value: o.org, label: orgName(o.org, organisations) }))} />
        <Select label={t('patient.consent.scope')} name="scope-kind" value={scopeKind} onChange={(v) => { setScopeKind(v as ScopeKindName); setDraft(null) }}
          options={SCOPES.map((s) => ({ value: s, label: t(`patient.scope.${s}`) }))} />
        {scopeKind === 'record' && (
          <Field label={t('patient.consent.record_id')} name="record-id" value={recordId} onInput={(v) => { setRecordId(v); setDraft(null) }} hint={t('patient.consent.record_hint')} />
        )}
        <Select label={t('patient.consent.purpose')} name="purpose" value={purpose} onChange={(v) => { setPurpose(v as PurposeName); setDraft(null) }}
          options={PURPOSES.map((p) => ({ value: p, label: t(`patient.purpose.${p}`) }))} />
        <Field label={t('patient.consent.expiry')} name="expiry" type="datetime-local" value={expiry} onInput={(v) => { setExpiry(v); setDraft(null) }} hint={t('patient.consent.expiry_hint')} />
        <ActionButton label={t('patient.consent.review')} name="review-grant" kind="plain" action={review} />
        {draft && (
          <div class="review">
            <h3>{t('patient.consent.review_title')}</h3>
            <p class="summary" data-grant-summary>{grantSummary(draft, organisations)}</p>
            <p class="hint">{t('patient.consent.sign_hint')}</p>
            <ActionButton label={t('patient.consent.sign')} name="sign-grant" action={sign} />
          </div>
        )}
        {done && <Notice kind="ok">{t('patient.consent.granted', { grant: done.slice(0, 10) })}</Notice>}
      </Section>
      <Section title={t('patient.grants.title')} id="grants">
        <Table<Grant>
          caption={t('patient.grants.caption')}
          rows={grants ?? []}
          rowKey={(g) => g.grant_id}
          empty={grants === null ? t('common.loading') : t('patient.grants.none')}
          columns={[
            { label: t('patient.grants.what'), cell: (g) => <span data-grant={g.grant_id}>{grantSummary(g, organisations)}</span> },
            { label: t('patient.grants.status'), cell: (g) => <Badge kind={STATUS_BADGE[g.status]}>{t(`patient.grants.status.${g.status}`)}</Badge> },
            { label: t('patient.grants.expires'), cell: (g) => <Time at={g.expires_at} endOfDay /> },
            {
              label: t('patient.grants.action'),
              cell: (g) => g.status === 'active'
                ? <ActionButton label={t('patient.grants.revoke')} name={`revoke-${g.grant_id}`} kind="danger" action={() => revoke(g)} />
                : '—',
            },
          ]}
        />
        <ActionButton label={t('common.refresh')} name="refresh-grants" kind="plain" action={load} />
      </Section>
    </>
  )
}
