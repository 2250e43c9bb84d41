// The counter's calls to this pharmacy's own gateway (api/routes/counter.py): what it may dispense,
// one prescription's chain facts, the dispensing view relayed to the issuing hospital (signed twice:
// for this gateway, which checks it is its own pharmacist's, and for the hospital's domain, in
// X-Relay- headers the hospital checks again), and the dispense itself.
import { zeroPadValue } from 'ethers'
import { Gateway, type Domain } from '../../lib/gateway'
import { signRequest } from '../../lib/sign'

/** ``X-MedLedger-Signer`` as the relay reads it for the hospital: ``X-Relay-MedLedger-Signer``
 *  (api/routes/counter.py ``relay_name``). */
export const relayName = (header: string) => header.replace(/^X-/, 'X-Relay-')

export interface Review {
  org: string
  pharmacist: string
  approved: boolean
  reviewed_at: number
}

export interface Dispense {
  prescription_id: string
  pharmacy: string
  pharmacist: string
  commitment: string
  cid: string
  dispensed_at: number
}

export interface Summary {
  prescription_id: string
  institution: string
  prescriber: string | null
  patient: string
  issued_at: number
  expires_at: number
  online: boolean
  status: 'pending' | 'approved' | 'rejected' | 'cancelled' | 'dispensed'
  fhir_status: string
}

export interface Facts extends Summary {
  expired: boolean
  dispensable: boolean
  review: Review | null
  dispense: Dispense | null
}

/** What the issuing hospital lets a pharmacy see: the MedicationRequest cut to its dispensing view. */
export interface DispensingView extends Summary {
  view: 'dispensing' | 'full'
  resource: Record<string, unknown>
}

export interface DispenseReceipt {
  prescription_id: string
  pharmacy: string
  cid: string
  transaction: string
  block: number
}

export const dispensable = (gateway: Gateway) => gateway.get<Summary[]>('/v1/counter/prescriptions')

export const factsOf = (gateway: Gateway, id: string) =>
  gateway.get<Facts>(`/v1/counter/prescriptions/${id}`)

/** The hospital's ``GET /v1/prescriptions/{id}`` signed by ``privateKey`` for the hospital's gateway
 *  (its domain is this gateway's with the hospital's address as salt), under `relayName`s. */
export function relayHeaders(
  privateKey: Uint8Array,
  domain: Domain,
  institution: string,
  id: string,
): Record<string, string> {
  const hospital: Domain = { ...domain, salt: zeroPadValue(institution, 32) }
  const signed = signRequest(privateKey, hospital, {
    method: 'GET',
    target: `/v1/prescriptions/${id}`,
    body: new Uint8Array(),
  })
  return Object.fromEntries(Object.entries(signed).map(([name, value]) => [relayName(name), value]))
}

/** The dispensing view through this gateway's relay: the relay request signed by ``gateway``'s key
 *  for this gateway, the hospital's signed by the same key (``privateKey``) for the hospital. */
export const dispensingView = (gateway: Gateway, privateKey: Uint8Array, institution: string, id: string) =>
  gateway.get<DispensingView>(
    `/v1/counter/prescriptions/${id}/view`,
    {},
    relayHeaders(privateKey, gateway.domain, institution, id),
  )

/** The MedicationDispense this pharmacy records for ``view``: the drug, patient and quantity the
 *  prescription asked for, handed over now. */
export function medicationDispense(id: string, view: DispensingView, now: Date = new Date()) {
  const r = view.resource
  const request = (r.dispenseRequest ?? {}) as { quantity?: Record<string, unknown> }
  const dispense: Record<string, unknown> = {
    resourceType: 'MedicationDispense',
    status: 'completed',
    authorizingPrescription: [{ reference: `MedicationRequest/${id}` }],
    whenHandedOver: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  }
  for (const field of ['medicationCodeableConcept', 'medicationReference', 'subject']) {
    if (r[field] !== undefined) dispense[field] = r[field]
  }
  if (request.quantity) {
    const { value, unit } = request.quantity
    dispense.quantity = { value, unit }
  }
  return dispense
}

export const dispense = (gateway: Gateway, id: string, view: DispensingView) =>
  gateway.post<DispenseReceipt>(`/v1/prescriptions/${id}/dispense`, medicationDispense(id, view))

/** The drug as a pharmacist reads it: the coding's display, else its code. */
export function medicationName(resource: Record<string, unknown>): string {
  const concept = resource.medicationCodeableConcept as
    | { text?: string; coding?: { display?: string; code?: string }[] }
    | undefined
  const coding = concept?.coding?.[0]
  return concept?.text ?? coding?.display ?? coding?.code ?? '—'
}

export function dosageText(resource: Record<string, unknown>): string | null {
  const dosage = resource.dosageInstruction as { text?: string }[] | undefined
  const texts = (dosage ?? []).map((d) => d.text).filter((text): text is string => !!text)
  return texts.length ? texts.join('; ') : null
}

export function quantityText(resource: Record<string, unknown>): string | null {
  const request = resource.dispenseRequest as { quantity?: { value?: number; unit?: string } } | undefined
  const q = request?.quantity
  return q?.value !== undefined ? `${q.value} ${q.unit ?? ''}`.trim() : null
}
