/** Pages whose service this installation may not run: the UI server's `GET /_/config` says
 * which services its origin reaches; until it answers (or when it cannot), they stay hidden. */

import { useQuery } from '@tanstack/react-query'

export interface Features {
  imports: boolean // the download service (import from the quantization cluster)
  quotas: boolean // the contract service (quotas and usage)
}

export const NO_FEATURES: Features = { imports: false, quotas: false }

export function featuresFrom(config: unknown): Features {
  const services = (config as { services?: Record<string, unknown> } | null)?.services
  if (!services || typeof services !== 'object') return NO_FEATURES
  return { imports: services.download === true, quotas: services.contract === true }
}

export function useFeatureConfig() {
  return useQuery({
    queryKey: ['ui-config'],
    queryFn: async () => {
      const response = await fetch('/_/config')
      return response.ok ? featuresFrom(await response.json()) : NO_FEATURES
    },
    staleTime: Infinity,
  })
}

export function useFeatures(): Features {
  return useFeatureConfig().data ?? NO_FEATURES
}
