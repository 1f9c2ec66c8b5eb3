import { describe, expect, it } from 'vitest'
import { ApiError, errorFromText, fieldErrors, toApiError } from './errors'

const FIELDS = ['model_name', 'replicas', 'gpu.count', 'runtime_params']

describe('toApiError', () => {
  it.each([
    [422, { error: { type: 'unprocessable', message: 'runtime_params: bad' } }, 'unprocessable', 'runtime_params: bad'],
    [502, '<html>bad gateway</html>', 'http_error', '<html>bad gateway</html>'],
    [500, undefined, 'http_error', 'request failed (HTTP 500)'],
  ])('%d', (status, body, type, message) => {
    const error = toApiError(status, body)
    expect([error.status, error.type, error.message]).toEqual([status, type, message])
  })
})

describe('fieldErrors', () => {
  it.each([
    [
      'runtime flag refused',
      new ApiError(422, 'unprocessable', 'runtime_params: --bogus: not an allowed llama.cpp flag', { flag: '--bogus' }),
      { runtime_params: '--bogus: not an allowed llama.cpp flag' },
    ],
    [
      'schema validation',
      new ApiError(422, 'validation_error', 'replicas: too small', [
        { loc: ['body', 'replicas'], msg: 'Input should be greater than or equal to 1' },
        { loc: ['body', 'gpu', 'count'], msg: 'Input should be a valid integer' },
      ]),
      { replicas: 'Input should be greater than or equal to 1', 'gpu.count': 'Input should be a valid integer' },
    ],
    ['not about a field', new ApiError(409, 'conflict', 'model is served'), {}],
    ['not an API error', new Error('network'), {}],
  ])('%s', (_name, error, expected) => expect(fieldErrors(error, FIELDS)).toEqual(expected))
})

describe('errorFromText', () => {
  it.each([
    ['{"error":{"type":"forbidden","message":"not yours"}}', 'forbidden', 'not yours'],
    ['pod not started yet', 'http_error', 'pod not started yet'],
    ['', 'http_error', 'log failed (HTTP 503)'],
  ])('%s', (text, type, message) => {
    const error = errorFromText(503, text, 'log failed')
    expect(error.status).toBe(503)
    expect(error.type).toBe(type)
    expect(error.message).toBe(message)
  })
})
