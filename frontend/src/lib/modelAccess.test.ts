import { describe, expect, it } from 'vitest'
import { canManage, namespaceChoices, ownerText, parseNamespaces, visibilityText, visibilityUpdate } from './modelAccess'

const ME = { id: 'u-me', role: 'user' }
const ADMIN = { id: 'u-admin', role: 'admin' }
const NAMES = new Map([['u-other', 'bob']])

describe('visibilityText', () => {
  it.each([
    ['private', [], 'Private'],
    ['public', [], 'Public'],
    ['shared', ['team-a', 'team-b'], 'Shared with team-a, team-b'],
    ['shared', [], 'Shared with no namespace'],
  ] as const)('%s %j', (visibility, shared, expected) => {
    expect(visibilityText({ visibility, shared_with: [...shared] })).toBe(expected)
  })
})

describe('ownerText', () => {
  it.each([
    ['no owner', null, ME, 'no owner'],
    ['the viewer', 'u-me', ME, 'you'],
    ['known to an admin', 'u-other', ADMIN, 'bob'],
    ['unknown to a user', 'u-stranger', ME, 'another user'],
    ['before /users/me answers', 'u-me', undefined, 'another user'],
  ] as const)('%s', (_name, owner, viewer, expected) => {
    expect(ownerText(owner, viewer, NAMES)).toBe(expected)
  })
})

describe('canManage', () => {
  it.each([
    ['owner', 'u-me', ME, true],
    ['admin, another owner', 'u-other', ADMIN, true],
    ['admin, no owner', null, ADMIN, true],
    ['user, another owner', 'u-other', ME, false],
    ['user, no owner', null, ME, false],
    ['viewer unknown', 'u-me', undefined, false],
  ] as const)('%s', (_name, owner, viewer, expected) => {
    expect(canManage(owner, viewer)).toBe(expected)
  })
})

describe('namespaceChoices', () => {
  it.each([
    ['allowed only', ['b', 'a'], [], ['a', 'b']],
    ['current kept', ['a'], ['z'], ['a', 'z']],
    ['overlap once', ['a', 'b'], ['b'], ['a', 'b']],
    ['unknown allowed', null, ['c'], ['c']],
  ] as const)('%s', (_name, allowed, current, expected) => {
    expect(namespaceChoices(allowed, current)).toEqual(expected)
  })
})

describe('parseNamespaces', () => {
  it.each([
    ['', []],
    ['team-a', ['team-a']],
    [' team-a, team-b  team-c ,', ['team-a', 'team-b', 'team-c']],
    ['a,a', ['a']],
  ])('%j', (text, expected) => expect(parseNamespaces(text)).toEqual(expected))
})

describe('visibilityUpdate', () => {
  it.each([
    ['private drops namespaces', 'private', ['a'], 'b', { body: { visibility: 'private', shared_with: [] } }],
    ['public', 'public', [], '', { body: { visibility: 'public', shared_with: [] } }],
    ['shared, checked and typed', 'shared', ['b'], 'a, b', { body: { visibility: 'shared', shared_with: ['a', 'b'] } }],
    ['shared with nothing', 'shared', [], ' ', { error: 'choose at least one namespace to share with' }],
    ['shared, bad name', 'shared', [], 'Team_A', { error: "Team_A: not a namespace name (lowercase letters, digits and '-')" }],
    ['shared, name too long', 'shared', [], 'a'.repeat(64), { error: `${'a'.repeat(64)}: not a namespace name (lowercase letters, digits and '-')` }],
  ] as const)('%s', (_name, visibility, checked, typed, expected) => {
    expect(visibilityUpdate(visibility, [...checked], typed)).toEqual(expected)
  })
})
