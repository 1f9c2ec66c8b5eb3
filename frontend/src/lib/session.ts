/** The login session: the JWT in memory, mirrored to sessionStorage (never localStorage) so a
 * reload of the tab keeps it; closing the tab forgets it. */

export interface Session {
  token: string
  username: string
  role: string
  expiresAt: number // epoch milliseconds
}

const KEY = 'inference.session'

export interface JwtClaims {
  sub?: string
  exp?: number
  role?: string
  [claim: string]: unknown
}

export function decodeJwt(token: string): JwtClaims | null {
  const parts = token.split('.')
  if (parts.length !== 3) return null
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/')
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4)
    const claims: unknown = JSON.parse(atob(padded))
    return claims && typeof claims === 'object' ? (claims as JwtClaims) : null
  } catch {
    return null
  }
}

/** Epoch ms at which the token expires; null when it carries no usable `exp`. */
export function tokenExpiry(token: string): number | null {
  const exp = decodeJwt(token)?.exp
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null
}

/** Milliseconds left, never negative; a margin signs out just before the server would refuse. */
export function msUntilExpiry(session: Pick<Session, 'expiresAt'>, now: number, marginMs = 5000): number {
  return Math.max(0, session.expiresAt - marginMs - now)
}

export function isExpired(session: Pick<Session, 'expiresAt'>, now: number): boolean {
  return msUntilExpiry(session, now) === 0
}

let current: Session | null = null

export function loadSession(storage: Storage | undefined = globalThis.sessionStorage): Session | null {
  if (current) return current
  const raw = storage?.getItem(KEY)
  if (!raw) return null
  try {
    const parsed = JSON.parse(raw) as Session
    if (typeof parsed.token !== 'string' || typeof parsed.expiresAt !== 'number') return null
    current = parsed
    return current
  } catch {
    return null
  }
}

export function saveSession(session: Session, storage: Storage | undefined = globalThis.sessionStorage): void {
  current = session
  storage?.setItem(KEY, JSON.stringify(session))
}

export function clearSession(storage: Storage | undefined = globalThis.sessionStorage): void {
  current = null
  storage?.removeItem(KEY)
}
