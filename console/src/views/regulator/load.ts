// One read from the gateway for a page: its data, its failure (translated), and a reload.
import { useCallback, useEffect, useState } from 'preact/hooks'
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
  const reload = useCallback(async () => {
    setLoading(true)
    setError(null)
    try {
      setData(await read())
    } catch (err) {
      setError(describeError(err))
    } finally {
      setLoading(false)
    }
  }, deps)
  useEffect(() => {
    void reload()
  }, [reload])
  return { data, error, loading, reload }
}
