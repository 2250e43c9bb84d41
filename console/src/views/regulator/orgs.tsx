// The consortium's organisations, read once per page, so that every address of an institution is
// shown with its kind ("Hospital 0x12ab…9f0c") instead of a bare address.
import type { Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { Address } from '../../ui/components'
import type { Organisation } from './api'
import { useLoad } from './load'

export function readOrganisations(gateway: Gateway) {
  return gateway.get<Organisation[]>('/v1/oversight/organisations')
}

export function useOrganisations(gateway: Gateway) {
  return useLoad(() => readOrganisations(gateway), [])
}

export function OrgName(props: { org: string | null | undefined; orgs: Organisation[] | null }) {
  if (!props.org) return <span>—</span>
  const found = props.orgs?.find((o) => o.org.toLowerCase() === props.org!.toLowerCase())
  return (
    <span class="org-name">
      {found && <span class="org-kind">{t(`common.kind.${found.kind}`)}</span>} <Address value={props.org} />
    </span>
  )
}
