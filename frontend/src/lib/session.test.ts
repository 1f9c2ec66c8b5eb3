import { beforeEach, describe, expect, it } from 'vitest'
import { clearSession, decodeJwt, isExpired, loadSession, msUntilExpiry, saveSession, tokenExpiry } from './session'

function jwt(claims: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'HS256' })}.${b64(claims)}.sig`
}

class MemoryStorage implements Storage {
  private items = new Map<string, string>()
  get length() {
    return this.items.size
  }
  clear() {
    this.items.clear()
  }
  getItem(key: string) {
    return this.items.get(key) ?? null
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null
  }
  removeItem(key: string) {
    this.items.delete(key)
  }
  setItem(key: string, value: string) {
    this.items.set(key, value)
  }
}

describe('tokenExpiry', () => {
  it.each([
    ['exp in seconds', jwt({ sub: 'u', exp: 1_700_000_000 }), 1_700_000_000_000],
    ['no exp', jwt({ sub: 'u' }), null],
    ['exp not a number', jwt({ exp: 'soon' }), null],
    ['not a JWT', 'abc', null],
    ['bad base64 payload', 'a.!!!.c', null],
  ])('%s', (_name, token, expected) => expect(tokenExpiry(token)).toBe(expected))

  it('decodes base64url payloads with - and _', () => {
    expect(decodeJwt(jwt({ sub: '>>>???' }))?.sub).toBe('>>>???')
  })
})

describe('expiry', () => {
  it.each([
    ['well before', 100_000, 0, 95_000, false],
    ['inside the margin', 100_000, 96_000, 0, true],
    ['after', 100_000, 200_000, 0, true],
  ])('%s', (_name, expiresAt, now, left, expired) => {
    expect(msUntilExpiry({ expiresAt }, now)).toBe(left)
    expect(isExpired({ expiresAt }, now)).toBe(expired)
  })
})

describe('storage', () => {
  beforeEach(() => clearSession(new MemoryStorage()))

  it('keeps the session in the given (session) storage and forgets it on clear', () => {
    const storage = new MemoryStorage()
    const session = { token: jwt({ exp: 1 }), username: 'a', role: 'user', expiresAt: 1000 }
    saveSession(session, storage)
    expect(JSON.parse(storage.getItem('inference.session')!)).toEqual(session)
    clearSession(storage)
    expect(storage.length).toBe(0)
    expect(loadSession(storage)).toBeNull()
  })

  it('ignores a malformed stored session', () => {
    const storage = new MemoryStorage()
    storage.setItem('inference.session', '{"token": 1}')
    expect(loadSession(storage)).toBeNull()
  })
})
