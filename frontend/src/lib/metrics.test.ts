import { describe, expect, it } from 'vitest'
import { ApiError } from './errors'
import { cardView, compact, formatValue, lowestFirst, metricsState, notReportedText, scoreTone, sparklinePath } from './metrics'

describe('scoreTone', () => {
  it.each([
    [100, 'good'],
    [90, 'good'],
    [89, 'fair'],
    [70, 'fair'],
    [69, 'poor'],
    [0, 'poor'],
  ])('%d is %s', (score, tone) => {
    expect(scoreTone(score)).toBe(tone)
  })
})

describe('compact', () => {
  it.each([
    [0, '0'],
    [0.004, '4.0e-3'],
    [0.123, '0.12'],
    [4.5678, '4.57'],
    [12.34, '12.3'],
    [512.6, '513'],
    [12_345, '12.3 k'],
    [2_500_000, '2.5 M'],
  ])('%d → %s', (value, expected) => {
    expect(compact(value)).toBe(expected)
  })
})

describe('formatValue', () => {
  it.each([
    [null, 'req/s', '—'],
    [undefined, 's', '—'],
    [Number.NaN, 'tok/s', '—'],
    [0.42, 'req/s', '0.42 req/s'],
    [0.1234, 's', '123 ms'],
    [2.5, 's', '2.5 s'],
    [0.726, 'ratio', '73 %'],
    [87.4, '%', '87 %'],
    [3, 'requests', '3'],
    [1234.5, 'tok/s', '1235 tok/s'],
  ])('%s %s → %s', (value, unit, expected) => {
    expect(formatValue(value, unit)).toBe(expected)
  })
})

describe('sparklinePath', () => {
  it.each([
    [[], undefined, ''],
    [[null, null], undefined, ''],
    [[0, 1, 2], undefined, 'M0 20 L50 10 L100 0'],
    [[1, null, 1], undefined, 'M0 0 h0 M100 0 h0'],
    [[null, 2, 4, null, 4], undefined, 'M25 10 L50 0 M100 0 h0'],
    [[0, 0], undefined, 'M0 20 L100 20'],
    [[50, 200], 100, 'M0 10 L100 0'],
    [[-3, 5], 10, 'M0 20 L100 10'],
    [[7], undefined, 'M0 0 h0'],
  ] as const)('%j (max %s) → %s', (values, max, expected) => {
    expect(sparklinePath(values, 100, 20, max)).toBe(expected)
  })
})

describe('metricsState', () => {
  it.each([
    [null, 'ok'],
    [new ApiError(404, 'not_found', 'metrics not configured'), 'not-configured'],
    [new ApiError(503, 'unavailable', 'prometheus unavailable'), 'unavailable'],
    [new ApiError(403, 'forbidden', 'admins only'), 'forbidden'],
    [new ApiError(500, 'internal', 'boom'), 'error'],
    [new TypeError('Failed to fetch'), 'error'],
  ])('%s → %s', (error, state) => {
    expect(metricsState(error)).toBe(state)
  })
})

describe('cardView', () => {
  it('a held card with every figure', () => {
    expect(
      cardView(
        {
          index: 0,
          uuid: 'GPU-0a1b2c3d-4e5f-6789',
          utilization_percent: 87,
          memory_used_mib: 20480,
          memory_free_mib: 4084,
          temperature_c: 71.2,
          power_w: 312.5,
          holder: { namespace: 'inference', pod: 'p1', server_uuid: 'abc' },
        },
        24564,
      ),
    ).toEqual({
      label: 'GPU 0 · GPU-0a1b2c3d',
      utilization: '87 %',
      memory: '20 GiB of 24 GiB',
      temperature: '71 °C',
      power: '313 W',
      holder: 'server abc',
    })
  })
  it.each([
    [{ index: 1 }, null, { utilization: '—', memory: '—', temperature: '—', power: '—', holder: 'free' }],
    [{ index: 1, memory_used_mib: 512 }, 8192, { memory: '512 MiB of 8 GiB' }],
    [{ index: 1, memory_used_mib: 512 }, null, { memory: '512 MiB' }],
    [{ index: 1, holder: { namespace: 'ns', pod: 'p', server_uuid: null } }, null, { holder: 'ns/p' }],
  ])('%j (card memory %s)', (card, cardMemory, expected) => {
    expect(cardView(card, cardMemory)).toMatchObject(expected)
  })
})

describe('notReportedText', () => {
  it.each([
    [true, 'ok', 'not reported (simulated node)'],
    [true, 'not-configured', 'not reported (simulated node)'],
    [false, 'not-configured', 'not reported (metrics not configured)'],
    [false, 'unavailable', 'not reported (Prometheus unavailable)'],
    [false, 'ok', 'not reported (no per-card GPU series from this node)'],
  ] as const)('simulated %s, %s', (simulated, state, text) => {
    expect(notReportedText(simulated, state)).toBe(text)
  })
})

describe('lowestFirst', () => {
  it('orders by score, then model, then uuid, without touching its input', () => {
    const servers = [
      { score: 100, model: 'a', server_uuid: '1' },
      { score: 40, model: 'b', server_uuid: '3' },
      { score: 40, model: 'b', server_uuid: '2' },
      { score: 40, model: 'a', server_uuid: '9' },
      { score: 85, model: 'z', server_uuid: '0' },
    ]
    expect(lowestFirst(servers).map((s) => s.server_uuid)).toEqual(['9', '2', '3', '0', '1'])
    expect(servers[0].server_uuid).toBe('1')
  })
})
