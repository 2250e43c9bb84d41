// Staff sign in with their own key file (the V3 keystore the CLI and the demo write) and its
// passphrase; the key is decrypted here and never leaves the page. The gateway then says, from
// the chain, who that key is: staff of this organisation with a role, or a refusal.
import { useState } from 'preact/hooks'
import { openKeystore } from '../crypto/keystore'
import { useApp, type StaffIdentity } from '../lib/context'
import { Gateway } from '../lib/gateway'
import { t } from '../lib/i18n'
import { signIn, staffSession } from '../lib/session'
import { ActionButton, Field, Notice, Section } from './components'

export function SignIn(props: { onSignedIn: (who: StaffIdentity) => void }) {
  const { domain } = useApp()
  const [file, setFile] = useState<string | null>(null)
  const [fileName, setFileName] = useState('')
  const [passphrase, setPassphrase] = useState('')
  const [error, setError] = useState<string | null>(null)

  const choose = async (input: HTMLInputElement) => {
    const chosen = input.files?.[0]
    setError(null)
    if (!chosen) return
    setFileName(chosen.name)
    setFile(await chosen.text())
  }

  const submit = async () => {
    setError(null)
    if (!file) throw new Error(t('signin.no_file'))
    let privateKey: Uint8Array
    try {
      privateKey = await openKeystore(file, passphrase)
    } catch {
      throw new Error(t('signin.bad_key'))
    }
    const who = await new Gateway(privateKey, domain).get<StaffIdentity>('/v1/console/me')
    signIn(staffSession(privateKey))
    props.onSignedIn(who)
  }

  return (
    <Section title={t('signin.title')} id="sign-in">
      <p>{t('signin.intro')}</p>
      <div class="field">
        <label for="f-keyfile">{t('signin.key_file')}</label>
        <input
          id="f-keyfile"
          name="keyfile"
          type="file"
          accept=".json,application/json"
          onChange={(e) => void choose(e.target as HTMLInputElement)}
        />
        {fileName && <p class="hint">{fileName}</p>}
      </div>
      <Field
        label={t('signin.passphrase')}
        name="passphrase"
        type="password"
        autocomplete="current-password"
        value={passphrase}
        onInput={setPassphrase}
      />
      <ActionButton label={t('signin.submit')} name="sign-in" action={submit} />
      {error && <Notice kind="error">{error}</Notice>}
    </Section>
  )
}
