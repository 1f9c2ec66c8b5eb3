import { describe, expect, it } from 'vitest'
import { featuresFrom, NO_FEATURES } from './features'

describe('featuresFrom', () => {
  it.each([
    ['both services', { services: { api: true, gateway: true, contract: true, download: true } }, { imports: true, quotas: true }],
    ['contract only', { services: { contract: true, download: false } }, { imports: false, quotas: true }],
    ['not booleans', { services: { contract: 'yes', download: 1 } }, NO_FEATURES],
    ['no services', {}, NO_FEATURES],
    ['null', null, NO_FEATURES],
    ['a string (an HTML fallback page)', '<html>', NO_FEATURES],
  ])('%s', (_name, config, expected) => {
    expect(featuresFrom(config)).toEqual(expected)
  })
})
