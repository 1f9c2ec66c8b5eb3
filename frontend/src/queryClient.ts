import { QueryClient } from '@tanstack/react-query'
import { ApiError } from './lib/errors'

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 2_000,
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    },
  },
})

/** Refetches a list after a write. A first fetch still in flight started before the write and
 * would answer without it; invalidating alone joins that fetch (TanStack Query cancels only
 * fetches of queries that already have data), so it is cancelled first. */
export async function refreshAfterWrite(client: QueryClient, queryKey: readonly unknown[]): Promise<void> {
  await client.cancelQueries({ queryKey })
  await client.invalidateQueries({ queryKey })
}
