import { describe, expect, it } from 'vitest'
import { CONTRACT_FIELDS, contractBody, defaultHint, fieldsFor, formFromContract } from './contractForm'

const field = (key: string) => CONTRACT_FIELDS.find((f) => f.key === key)!

describe('fieldsFor', () => {
  it('gives namespaces every field but allowed_namespaces', () => {
    expect(fieldsFor('user').map((f) => f.key)).toContain('allowed_namespaces')
    expect(fieldsFor('namespace').map((f) => f.key)).not.toContain('allowed_namespaces')
    expect(fieldsFor('namespace')).toHaveLength(CONTRACT_FIELDS.length - 1)
  })
})

describe('formFromContract', () => {
  it('shows null and absent fields as empty (inherit), numbers and lists as text', () => {
    const form = formFromContract({ max_servers: 3, max_gpus: null, allowed_images: ['a', 'b*'], max_parallel: 0 }, CONTRACT_FIELDS)
    expect(form.max_servers).toBe('3')
    expect(form.max_gpus).toBe('')
    expect(form.max_replicas_per_server).toBe('')
    expect(form.allowed_images).toBe('a, b*')
    expect(form.max_parallel).toBe('0')
  })
})

describe('contractBody', () => {
  it.each([
    ['empty inherits (explicit null)', { max_servers: '' }, { max_servers: null }, {}],
    ['blank inherits', { max_servers: '   ' }, { max_servers: null }, {}],
    ['a number', { max_servers: ' 2 ' }, { max_servers: 2 }, {}],
    ['zero is a limit, not inherit', { max_servers: '0' }, { max_servers: 0 }, {}],
    ['a list', { allowed_gpu_products: 'A, B ,,' }, { allowed_gpu_products: ['A', 'B'] }, {}],
    ['not a number', { max_gpus: 'lots' }, {}, { max_gpus: 'A whole number (0 or more), or empty to inherit the default.' }],
    ['negative', { max_gpus: '-1' }, {}, { max_gpus: 'A whole number (0 or more), or empty to inherit the default.' }],
    ['fraction', { max_gpus: '1.5' }, {}, { max_gpus: 'A whole number (0 or more), or empty to inherit the default.' }],
  ])('%s', (_name, form, body, errors) => {
    const keys = Object.keys(form)
    const result = contractBody(form, CONTRACT_FIELDS.filter((f) => keys.includes(f.key)))
    expect(result.errors).toEqual(errors)
    if (Object.keys(errors).length === 0) expect(result.body).toEqual(body)
  })
  it('sends every field, so a cleared one resets to the default', () => {
    const { body } = contractBody({ max_servers: '4' }, CONTRACT_FIELDS)
    expect(Object.keys(body).sort()).toEqual(CONTRACT_FIELDS.map((f) => f.key).sort())
    expect(body.max_gpus).toBeNull()
  })
})

describe('defaultHint', () => {
  it.each([
    ['max_servers', 10, 'default: 10'],
    ['max_servers', null, 'default: no limit'],
    ['allowed_gpu_products', null, 'default: any'],
    ['allowed_namespaces', ['default', 'inference'], 'default: default, inference'],
    ['allowed_images', [], 'default: none'],
  ])('%s = %j → %s', (key, effective, expected) => {
    expect(defaultHint(field(key), effective)).toBe(expected)
  })
})
