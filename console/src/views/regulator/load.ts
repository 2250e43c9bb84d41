// One read from the gateway for a page: its data, its failure (translated), and a reload. Only
// the latest read's answer is kept: a slower earlier one (another filter) never overwrites it.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { describeError } from '../../ui/components'

export interface Loaded<T> {
  data: T | null
  error: string | null
  loading: boolean
  reload: () => Promise<void>
}

export function useLoad<T>(read: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const latest = useRef(0)
  const reload = useCallback(async () => {
    const mine = ++latest.current
    setLoading(true)
    setError(null)
    try {
      const answer = await read()
      if (mine === latest.current) setData(answer)
    } catch (err) {
      if (mine === latest.current) setError(describeError(err))
    } finally {
      if (mine === latest.current) setLoading(false)
    }
  }, deps)
  useEffect(() => {
    void reload()
  }, [reload])
  return { data, error, loading, reload }
}
