import { describe, expect, it } from 'vitest'
import { ApiError } from './errors'
import { canManage, formatAge, originOf, refusalText, shortObject, validateReplicas } from './serverDetail'

const NOW = Date.parse('2026-11-30T12:00:00Z')

describe('formatAge', () => {
  it.each([
    ['2026-11-30T12:00:00Z', '0s'],
    ['2026-11-30T11:59:15Z', '45s'],
    ['2026-11-30T11:58:01Z', '119s'],
    ['2026-11-30T11:58:00Z', '2m'],
    ['2026-11-30T10:00:01Z', '119m'],
    ['2026-11-30T10:00:00Z', '2h'],
    ['2026-11-28T12:00:01Z', '47h'],
    ['2026-11-28T12:00:00Z', '2d'],
    ['2026-11-30T12:00:30Z', '0s'],
    ['2026-11-30T11:59:15+00:00', '45s'],
    [null, '—'],
    ['not a date', '—'],
  ])('%s → %s', (then, expected) => {
    expect(formatAge(then, NOW)).toBe(expected)
  })
})

describe('validateReplicas', () => {
  it.each([
    ['2', 1, null],
    ['0', 1, null],
    [' 3 ', 1, null],
    ['64', 1, null],
    ['65', 1, 'Replicas must be a whole number from 0 to 64.'],
    ['-1', 1, 'Replicas must be a whole number from 0 to 64.'],
    ['1.5', 1, 'Replicas must be a whole number from 0 to 64.'],
    ['', 1, 'Replicas must be a whole number from 0 to 64.'],
    ['two', 1, 'Replicas must be a whole number from 0 to 64.'],
    ['1', 1, 'The server has 1 already.'],
  ])('%j (now %d) → %s', (value, current, expected) => {
    expect(validateReplicas(value, current)).toBe(expected)
  })
})

describe('refusalText', () => {
  it.each([
    [new ApiError(403, 'forbidden', 'max_gpus: 2 of 2 used', { rule: 'max_gpus' }), 'max_gpus: 2 of 2 used'],
    [new ApiError(409, 'conflict', 'over quota', { rule: 'max_servers' }), 'over quota (rule: max_servers)'],
    [new ApiError(422, 'validation_error', 'replicas: too many', [{ loc: ['body'] }]), 'replicas: too many'],
    [new ApiError(403, 'forbidden', 'only its owner or an admin'), 'only its owner or an admin'],
    [new Error('network down'), 'network down'],
  ])('%s → %s', (error, expected) => {
    expect(refusalText(error)).toBe(expected)
  })
})

describe('who may change a server', () => {
  const me = 'u-1'
  it.each([
    [{ owner_id: 'u-1' }, 'user', true, 'mine'],
    [{ owner_id: 'u-2' }, 'user', false, 'shared'],
    [{ owner_id: 'u-2' }, 'admin', true, 'other'],
    [{ owner_id: null }, 'admin', false, 'kubectl'],
    [{ owner_id: null }, 'user', false, 'kubectl'],
  ] as const)('%j as %s: may change %s, origin %s', (server, role, manage, origin) => {
    expect(canManage(server, me, role)).toBe(manage)
    expect(originOf(server, me, role)).toBe(origin)
  })
})

describe('shortObject', () => {
  it.each([
    ['ModelServe', 'llama', 'llama', 'ModelServe'],
    ['Pod', 'llama-7d9f8c6b5-x2k4q', 'llama', 'Pod 7d9f8c6b5-x2k4q'],
    ['Pod', 'other-7d9f8c6b5-x2k4q', 'llama', 'Pod other-7d9f8c6b5-x2k4q'],
    ['Deployment', 'llama', 'llama', 'Deployment'],
  ])('%s %s of %s → %s', (kind, name, server, expected) => {
    expect(shortObject(kind, name, server)).toBe(expected)
  })
})
