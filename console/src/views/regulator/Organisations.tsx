// Page 1: every admitted organisation, its kind, its standing on chain and whether its directory
// entry is usable (nothing new is sealed to a suspended member).
import type { Gateway } from '../../lib/gateway'
import { t } from '../../lib/i18n'
import { Address, Badge, Notice, Section, Table, Time } from '../../ui/components'
import type { Organisation } from './api'
import { useOrganisations } from './orgs'

const DIRECTORY_BADGE = { usable: 'ok', unusable: 'bad', missing: 'warn' } as const

export function OrganisationsPage(props: { gateway: Gateway }) {
  const orgs = useOrganisations(props.gateway)
  return (
    <Section title={t('regulator.orgs.title')} id="organisations">
      <p class="hint">{t('regulator.orgs.intro')}</p>
      {orgs.error && <Notice kind="error">{orgs.error}</Notice>}
      {orgs.loading && !orgs.data && <p class="loading">{t('common.loading')}</p>}
      {orgs.data && (
        <Table<Organisation>
          caption={t('regulator.orgs.caption', { count: orgs.data.length })}
          rows={orgs.data}
          rowKey={(o) => o.org}
          empty={t('regulator.orgs.empty')}
          columns={[
            { label: t('regulator.orgs.org'), cell: (o) => <Address value={o.org} /> },
            { label: t('regulator.orgs.kind'), cell: (o) => t(`common.kind.${o.kind}`) },
            {
              label: t('regulator.orgs.status'),
              cell: (o) => <Badge kind={o.status === 'active' ? 'ok' : 'bad'}>{t(`regulator.orgs.status.${o.status}`)}</Badge>,
            },
            {
              label: t('regulator.orgs.directory'),
              cell: (o) => <Badge kind={DIRECTORY_BADGE[o.directory]}>{t(`regulator.orgs.directory.${o.directory}`)}</Badge>,
            },
            { label: t('regulator.orgs.published'), cell: (o) => <Time at={o.directory_updated_at} /> },
          ]}
        />
      )}
    </Section>
  )
}
