// A FHIR resource as a person reads it: its type and the few fields that say what it is; the raw
// JSON stays one toggle away.
import { t } from '../../lib/i18n'

type Json = Record<string, unknown>

const obj = (v: unknown): Json | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null)
const str = (v: unknown): string | null => (typeof v === 'string' || typeof v === 'number' ? String(v) : null)

function concept(v: unknown): string | null {
  const c = obj(v)
  if (!c) return null
  const coding = Array.isArray(c.coding) ? obj(c.coding[0]) : null
  return str(c.text) ?? str(coding?.display) ?? str(coding?.code)
}

function humanName(v: unknown): string | null {
  const n = Array.isArray(v) ? obj(v[0]) : null
  if (!n) return null
  if (str(n.text)) return str(n.text)
  const given = Array.isArray(n.given) ? n.given.join(' ') : ''
  return `${str(n.family) ?? ''}${given ? ` ${given}` : ''}`.trim() || null
}

/** The key fields of one resource, as [label key, value] pairs. */
export function keyFields(resource: Json): [string, string][] {
  const fields: [string, string | null][] = [
    ['patient.fhir.name', humanName(resource.name)],
    ['patient.fhir.gender', str(resource.gender)],
    ['patient.fhir.birth_date', str(resource.birthDate)],
    ['patient.fhir.code', concept(resource.code) ?? concept(resource.medicationCodeableConcept)],
    ['patient.fhir.status', str(resource.status)],
    ['patient.fhir.value', (() => {
      const q = obj(resource.valueQuantity)
      return q ? `${str(q.value) ?? ''} ${str(q.unit) ?? ''}`.trim() : (str(resource.valueString) ?? concept(resource.valueCodeableConcept))
    })()],
    ['patient.fhir.when', str(resource.effectiveDateTime) ?? str(resource.authoredOn) ?? str(resource.recordedDate) ?? str(resource.date)],
  ]
  return fields.filter((f): f is [string, string] => f[1] !== null && f[1] !== '')
}

function One(props: { resource: Json }) {
  const type = str(props.resource.resourceType) ?? '?'
  return (
    <div class="fhir-resource" data-resource-type={type}>
      <h4>
        {type}
        {str(props.resource.id) && <span class="hint"> #{str(props.resource.id)}</span>}
      </h4>
      <dl class="facts">
        {keyFields(props.resource).map(([label, value]) => (
          <>
            <dt key={`${label}-t`}>{t(label)}</dt>
            <dd key={`${label}-d`}>{value}</dd>
          </>
        ))}
      </dl>
    </div>
  )
}

export function FhirView(props: { resource: Json }) {
  const { resource } = props
  const entries = resource.resourceType === 'Bundle' && Array.isArray(resource.entry) ? resource.entry : null
  return (
    <div class="fhir">
      {entries ? (
        <>
          <p>{t('patient.fhir.bundle', { count: entries.length })}</p>
          {entries.map((e, i) => {
            const r = obj(obj(e)?.resource)
            return r ? <One resource={r} key={i} /> : null
          })}
        </>
      ) : (
        <One resource={resource} />
      )}
      <details>
        <summary>{t('patient.fhir.raw')}</summary>
        <pre class="json">{JSON.stringify(resource, null, 2)}</pre>
      </details>
    </div>
  )
}
