import { describe, expect, it } from 'vitest'
import type { JobSnapshot } from '../api/client'
import { SseParser } from './sse'
import { isNewer, mergeList, mergeSnapshot } from './imports'
import { reconnectDelay, snapshotsOf } from './jobStream'

function job(change: Partial<JobSnapshot> = {}): JobSnapshot {
  return {
    model_uuid: 'a',
    name: 'smollm2:135m-q4_1',
    phase: 'Copying',
    created_at: '2026-11-29T10:00:00Z',
    bytes_done: 100,
    bytes_total: 1000,
    bytes_sent: 100,
    bytes_resumed: 0,
    attempts: 1,
    error: null,
    eta_seconds: 9,
    rate_bytes_per_second: 100,
    files: [],
    last_progress_at: null,
    owner_id: null,
    quantization: 'Q4_1',
    started_at: null,
    ...change,
  }
}

describe('isNewer', () => {
  it.each([
    ['more bytes', job(), job({ bytes_done: 200 }), true],
    ['same bytes (a reconnect snapshot)', job(), job(), true],
    ['fewer bytes, same phase (a late list answer)', job({ bytes_done: 500 }), job({ bytes_done: 100 }), false],
    ['next phase', job({ bytes_done: 1000 }), job({ phase: 'Verifying', bytes_done: 1000 }), true],
    ['running after final', job({ phase: 'Done' }), job({ phase: 'Copying' }), false],
    ['final after final', job({ phase: 'Failed' }), job({ phase: 'Cancelled' }), true],
    ['a restarted job after a failure', job({ phase: 'Failed' }), job({ phase: 'Queued', created_at: '2026-11-29T11:00:00Z', bytes_done: 0 }), true],
    ['an older job', job({ created_at: '2026-11-29T11:00:00Z' }), job({ phase: 'Failed' }), false],
  ])('%s', (_name, held, next, expected) => {
    expect(isNewer(held, next)).toBe(expected)
  })
})

describe('mergeSnapshot', () => {
  it('replaces the same job, keeps the others and their order', () => {
    const other = job({ model_uuid: 'b' })
    const merged = mergeSnapshot([other, job()], job({ bytes_done: 700 }))
    expect(merged.map((j) => [j.model_uuid, j.bytes_done])).toEqual([
      ['b', 100],
      ['a', 700],
    ])
  })
  it('puts a new job first', () => {
    expect(mergeSnapshot([job()], job({ model_uuid: 'c' })).map((j) => j.model_uuid)).toEqual(['c', 'a'])
  })
  it('keeps what it holds when the snapshot is stale', () => {
    const held = [job({ bytes_done: 900 })]
    expect(mergeSnapshot(held, job({ bytes_done: 300 }))).toEqual(held)
  })
})

describe('mergeList', () => {
  it('takes the list, keeping newer streamed progress and running jobs the list has not seen yet', () => {
    const held = [job({ model_uuid: 'new', phase: 'Queued' }), job({ bytes_done: 800 }), job({ model_uuid: 'old', phase: 'Done' })]
    const fresh = [job({ bytes_done: 300 }), job({ model_uuid: 'z', phase: 'Failed' })]
    expect(mergeList(held, fresh).map((j) => [j.model_uuid, j.bytes_done])).toEqual([
      ['a', 800],
      ['z', 100],
      ['new', 100],
    ])
  })
})

describe('snapshotsOf', () => {
  it('reads progress events across chunks and ignores others', () => {
    const parser = new SseParser()
    const text = `: keepalive\n\nevent: progress\ndata: ${JSON.stringify(job({ bytes_done: 10 }))}\n\nevent: other\ndata: {}\n\nevent: progress\ndata: ${JSON.stringify(job({ bytes_done: 20 }))}\n\n`
    const cut = text.length - 30
    const first = snapshotsOf(parser, text.slice(0, cut))
    const second = snapshotsOf(parser, text.slice(cut))
    expect(first.map((j) => j.bytes_done)).toEqual([10])
    expect(second.map((j) => j.bytes_done)).toEqual([20])
  })
})

describe('reconnectDelay', () => {
  it.each([
    [0, 1000],
    [1, 2000],
    [3, 8000],
    [4, 15000],
    [30, 15000],
  ])('attempt %d waits %d ms', (attempt, expected) => {
    expect(reconnectDelay(attempt)).toBe(expected)
  })
})
