import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { api, setUnauthorizedHandler, unwrap } from './api/client'
import { clearSession, loadSession, msUntilExpiry, saveSession, tokenExpiry, type Session } from './lib/session'
import { queryClient } from './queryClient'

interface AuthState {
  session: Session | null
  notice: string | null
  signIn: (username: string, password: string) => Promise<void>
  signOut: (notice?: string) => void
}

const AuthContext = createContext<AuthState | null>(null)

export const EXPIRED_NOTICE = 'Your session expired. Sign in again.'

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => {
    const stored = loadSession()
    return stored && msUntilExpiry(stored, Date.now()) > 0 ? stored : null
  })
  const [notice, setNotice] = useState<string | null>(null)

  const signOut = useCallback((message?: string) => {
    clearSession()
    queryClient.clear()
    setSession(null)
    setNotice(message ?? null)
  }, [])

  const signIn = useCallback(async (username: string, password: string) => {
    const { access_token: token } = unwrap(await api.POST('/auth/token', { body: { username, password } }))
    const expiresAt = tokenExpiry(token) ?? Date.now() + 30 * 60_000
    saveSession({ token, username, role: 'user', expiresAt })
    const me = unwrap(await api.GET('/users/me'))
    const full = { token, username: me.username, role: me.role, expiresAt }
    saveSession(full)
    setNotice(null)
    setSession(full)
  }, [])

  useEffect(() => {
    setUnauthorizedHandler(() => signOut(EXPIRED_NOTICE))
  }, [signOut])

  useEffect(() => {
    if (!session) return
    const timer = window.setTimeout(() => signOut(EXPIRED_NOTICE), msUntilExpiry(session, Date.now()))
    return () => window.clearTimeout(timer)
  }, [session, signOut])

  const value = useMemo(() => ({ session, notice, signIn, signOut }), [session, notice, signIn, signOut])
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext)
  if (!state) throw new Error('useAuth outside AuthProvider')
  return state
}
