import { describe, expect, it } from 'vitest'
import { formatBytes, serveRequest, validateServeForm, type ServeForm } from './validate'

const ok: ServeForm = { model: 'smollm2:135m', replicas: '1', gpuCount: '0', gpuProduct: '', runtimeParams: '--ctx-size 2048' }

describe('validateServeForm', () => {
  it.each([
    ['valid', {}, {}],
    ['no model', { model: '' }, { model: 'Choose a model.' }],
    ['zero replicas', { replicas: '0' }, { replicas: 'Replicas must be a whole number from 1 to 64.' }],
    ['fractional replicas', { replicas: '1.5' }, { replicas: 'Replicas must be a whole number from 1 to 64.' }],
    ['too many replicas', { replicas: '65' }, { replicas: 'Replicas must be a whole number from 1 to 64.' }],
    ['negative GPUs', { gpuCount: '-1' }, { 'gpu.count': 'GPU count must be a whole number (0 for CPU).' }],
    ['product without GPUs', { gpuProduct: 'RTX' }, { 'gpu.product': 'A GPU product needs a GPU count of at least 1.' }],
    ['product with GPUs', { gpuProduct: 'RTX', gpuCount: '2' }, {}],
    ['params too long', { runtimeParams: 'x'.repeat(2001) }, { runtime_params: 'At most 2000 characters.' }],
  ])('%s', (_name, change, expected) => {
    expect(validateServeForm({ ...ok, ...change })).toEqual(expected)
  })
})

describe('serveRequest', () => {
  it.each([
    [ok, { model_name: 'smollm2:135m', replicas: 1, runtime_params: '--ctx-size 2048', gpu: { count: 0 }, visibility: 'private' }],
    [
      { ...ok, replicas: ' 2 ', gpuCount: '1', gpuProduct: 'RTX', runtimeParams: '  ' },
      { model_name: 'smollm2:135m', replicas: 2, runtime_params: '', gpu: { count: 1, product: 'RTX' }, visibility: 'private' },
    ],
  ])('%#', (form, expected) => expect(serveRequest(form)).toEqual(expected))
})

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [98_362_432, '98.4 MB'],
    [4_500_000_000, '4.50 GB'],
  ])('%d', (bytes, text) => expect(formatBytes(bytes)).toBe(text))
})
