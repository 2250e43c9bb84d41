// The patient's key: created here (a V3 keystore under a passphrase, downloadable and, if asked,
// remembered encrypted in this browser) or imported (the CLI's key file). The key never leaves
// the page; only the encrypted file may be kept.
import { useState } from 'preact/hooks'
import { createKeystore, KeystoreError, openKeystore } from '../../crypto'
import { t } from '../../lib/i18n'
import { patientSession, rememberKeystore, signIn, storedKeystore } from '../../lib/session'
import { ActionButton, Field, Notice, Section } from '../../ui/components'

const WHO = 'patient'

function download(json: string, address: string) {
  const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }))
  const link = document.createElement('a')
  link.href = url
  link.download = `medledger-patient-${address.slice(2, 10).toLowerCase()}.json`
  link.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

async function unlock(json: string, passphrase: string): Promise<Uint8Array> {
  try {
    return await openKeystore(json, passphrase)
  } catch (err) {
    if (err instanceof KeystoreError) {
      throw new Error(t(err.reason === 'passphrase' ? 'patient.key.bad_passphrase' : 'patient.key.bad_file'))
    }
    throw err
  }
}

export function KeyPage() {
  const stored = storedKeystore(WHO)
  return (
    <>
      {stored && <Unlock json={stored} />}
      <Create />
      <Import />
    </>
  )
}

function Unlock(props: { json: string }) {
  const [passphrase, setPassphrase] = useState('')
  return (
    <Section title={t('patient.key.unlock_title')} id="unlock">
      <p>{t('patient.key.unlock_intro')}</p>
      <Field label={t('patient.key.passphrase')} name="unlock-passphrase" type="password" autocomplete="current-password" value={passphrase} onInput={setPassphrase} />
      <ActionButton label={t('patient.key.unlock')} name="unlock" action={async () => signIn(patientSession(await unlock(props.json, passphrase)))} />
      <ActionButton label={t('patient.key.forget')} name="forget" kind="plain" action={async () => {
        rememberKeystore(WHO, null)
        location.reload()
      }} />
    </Section>
  )
}

function Create() {
  const [passphrase, setPassphrase] = useState('')
  const [again, setAgain] = useState('')
  const [remember, setRemember] = useState(true)
  const [created, setCreated] = useState<{ json: string; address: string; key: Uint8Array } | null>(null)

  const create = async () => {
    if (passphrase.length < 8) throw new Error(t('patient.key.too_short'))
    if (passphrase !== again) throw new Error(t('patient.key.mismatch'))
    const made = await createKeystore(passphrase)
    if (remember) rememberKeystore(WHO, made.json)
    setCreated({ json: made.json, address: made.address, key: made.privateKey })
  }

  if (created) {
    return (
      <Section title={t('patient.key.created_title')} id="created">
        <Notice kind="ok">{t('patient.key.created')}</Notice>
        <p>{t('patient.key.backup')}</p>
        <button type="button" class="btn plain" name="download-key" onClick={() => download(created.json, created.address)}>
          {t('patient.key.download')}
        </button>{' '}
        <button type="button" class="btn primary" name="continue" onClick={() => signIn(patientSession(created.key))}>
          {t('patient.key.continue')}
        </button>
      </Section>
    )
  }
  return (
    <Section title={t('patient.key.create_title')} id="create">
      <p>{t('patient.key.create_intro')}</p>
      <Field label={t('patient.key.passphrase')} name="new-passphrase" type="password" autocomplete="new-password" value={passphrase} onInput={setPassphrase} hint={t('patient.key.passphrase_hint')} />
      <Field label={t('patient.key.passphrase_again')} name="new-passphrase-again" type="password" autocomplete="new-password" value={again} onInput={setAgain} />
      <div class="field check">
        <label>
          <input type="checkbox" name="remember" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} />{' '}
          {t('patient.key.remember')}
        </label>
      </div>
      <ActionButton label={t('patient.key.create')} name="create-key" action={create} />
    </Section>
  )
}

function Import() {
  const [file, setFile] = useState<string | null>(null)
  const [passphrase, setPassphrase] = useState('')
  const [remember, setRemember] = useState(false)
  const importKey = async () => {
    if (!file) throw new Error(t('patient.key.no_file'))
    const key = await unlock(file, passphrase)
    if (remember) rememberKeystore(WHO, file)
    signIn(patientSession(key))
  }
  return (
    <Section title={t('patient.key.import_title')} id="import">
      <p>{t('patient.key.import_intro')}</p>
      <div class="field">
        <label for="f-patient-keyfile">{t('patient.key.file')}</label>
        <input id="f-patient-keyfile" name="patient-keyfile" type="file" accept=".json,application/json"
          onChange={async (e) => setFile((await (e.target as HTMLInputElement).files?.[0]?.text()) ?? null)} />
      </div>
      <Field label={t('patient.key.passphrase')} name="import-passphrase" type="password" autocomplete="current-password" value={passphrase} onInput={setPassphrase} />
      <div class="field check">
        <label>
          <input type="checkbox" name="remember-import" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} />{' '}
          {t('patient.key.remember')}
        </label>
      </div>
      <ActionButton label={t('patient.key.import')} name="import-key" action={importKey} />
    </Section>
  )
}
