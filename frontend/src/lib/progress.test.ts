import { describe, expect, it } from 'vitest'
import { formatEta, formatRate, isFinal, percent } from './progress'

describe('percent', () => {
  it.each([
    [0, 100, 0],
    [50, 100, 50],
    [999, 1000, 99],
    [100, 100, 100],
    [150, 100, 100],
    [10, 0, 0],
    [-5, 100, 0],
  ])('%d of %d is %d%%', (done, total, expected) => {
    expect(percent(done, total)).toBe(expected)
  })
})

describe('formatRate', () => {
  it.each([
    [null, '—'],
    [undefined, '—'],
    [0, '—'],
    [-1, '—'],
    [Number.NaN, '—'],
    [512, '512 B/s'],
    [12_500_000, '12.5 MB/s'],
  ])('%s → %s', (rate, expected) => {
    expect(formatRate(rate)).toBe(expected)
  })
})

describe('formatEta', () => {
  it.each([
    [null, '—'],
    [undefined, '—'],
    [-3, '—'],
    [Number.POSITIVE_INFINITY, '—'],
    [0, '0 s'],
    [44.6, '45 s'],
    [60, '1 min 00 s'],
    [200, '3 min 20 s'],
    [3599, '59 min 59 s'],
    [7500, '2 h 05 min'],
  ])('%s s → %s', (seconds, expected) => {
    expect(formatEta(seconds)).toBe(expected)
  })
})

describe('isFinal', () => {
  it.each([
    ['Queued', false],
    ['Copying', false],
    ['Verifying', false],
    ['Registering', false],
    ['Done', true],
    ['Failed', true],
    ['Cancelled', true],
  ])('%s → %s', (phase, expected) => {
    expect(isFinal(phase)).toBe(expected)
  })
})
