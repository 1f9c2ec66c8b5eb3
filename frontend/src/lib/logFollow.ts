/** A server's log as the detail view shows it, kept per server, pod and container outside
 * React: closing the view, switching to another tab of it or another page keeps the lines;
 * opening it again follows on from them (the reconnect's tail is joined without repeats).
 * fetch, not EventSource: the request needs the token. */

import { API_BASE, notifyUnauthorized } from '../api/client'
import { errorFromResponse } from './errors'
import { reconnectDelay, MAX_RECONNECTS } from './jobStream'
import { DEFAULT_TAIL, EMPTY_BUFFER, appendChunk, joinTail, nextTail, type LogBuffer } from './logs'
import { loadSession } from './session'

export interface LogTarget {
  server: string
  /** Empty: the newest running pod (the API picks; `pod` in the view says which). */
  pod: string
  container: string
}

export interface LogView {
  buffer: LogBuffer
  tail: number
  follow: boolean
  /** connecting, streaming (follow), idle (loaded once or stopped), waiting (to retry). */
  state: 'connecting' | 'streaming' | 'idle' | 'waiting'
  pod: string | null
  error: unknown
}

const INITIAL: LogView = { buffer: EMPTY_BUFFER, tail: DEFAULT_TAIL, follow: true, state: 'idle', pod: null, error: null }

async function openLog(target: LogTarget, tail: number, follow: boolean, signal: AbortSignal): Promise<Response> {
  const session = loadSession()
  const query = new URLSearchParams({ tail: String(tail), follow: String(follow), container: target.container })
  if (target.pod) query.set('pod', target.pod)
  const response = await fetch(`${API_BASE}/servers/${encodeURIComponent(target.server)}/logs?${query}`, {
    headers: session ? { Authorization: `Bearer ${session.token}` } : {},
    signal,
    cache: 'no-store',
  })
  if (response.status === 401) notifyUnauthorized()
  if (!response.ok || !response.body) {
    throw await errorFromResponse(response)
  }
  return response
}

class LogSession {
  view: LogView = INITIAL
  private listeners = new Set<() => void>()
  private controller: AbortController | null = null
  private watchers = 0
  private wake: (() => void) | null = null

  private readonly target: LogTarget

  constructor(target: LogTarget) {
    this.target = target
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  getSnapshot = () => this.view

  get watched(): boolean {
    return this.watchers > 0
  }

  private set(change: Partial<LogView>) {
    this.view = { ...this.view, ...change }
    this.listeners.forEach((listener) => listener())
  }

  /** A view is showing this log: read it (and follow it when following is on). */
  watch(): () => void {
    this.watchers += 1
    if (this.watchers === 1) this.restart()
    return () => {
      this.watchers -= 1
      if (this.watchers === 0) this.stop()
    }
  }

  setFollow(follow: boolean) {
    this.set({ follow })
    this.restart()
  }

  /** Older lines: read again with a longer tail (the shown lines are replaced). */
  more() {
    this.set({ tail: nextTail(this.view.tail), buffer: EMPTY_BUFFER })
    this.restart()
  }

  private stop() {
    this.controller?.abort()
    this.controller = null
    this.wake?.()
  }

  private restart() {
    this.stop()
    if (this.watchers > 0) void this.run(new AbortController())
  }

  private sleep(ms: number, signal: AbortSignal) {
    return new Promise<void>((resolve) => {
      const timer = window.setTimeout(resolve, ms)
      this.wake = () => {
        window.clearTimeout(timer)
        resolve()
      }
      signal.addEventListener('abort', () => this.wake?.(), { once: true })
    })
  }

  private async run(controller: AbortController) {
    this.controller = controller
    const { signal } = controller
    let failures = 0
    while (!signal.aborted && failures <= MAX_RECONNECTS) {
      this.set({ state: 'connecting' })
      try {
        await this.readOnce(signal)
        failures = 0
        if (!this.view.follow) break
      } catch (error) {
        if (signal.aborted) break
        failures += 1
        this.set({ error, state: 'waiting' })
      }
      // A followed log ends after a quiet spell, or with its pod: follow again.
      await this.sleep(reconnectDelay(failures), signal)
    }
    if (this.controller === controller) this.set({ state: 'idle' })
  }

  /** One request: its tail joined to the shown lines, then (following) each chunk appended. */
  private async readOnce(signal: AbortSignal) {
    const { tail, follow } = this.view
    const response = await openLog(this.target, tail, follow, signal)
    this.set({ pod: response.headers.get('X-Pod'), error: null, state: follow ? 'streaming' : 'idle' })
    const shown = this.view.buffer
    const base = shown.partial ? [...shown.lines, shown.partial] : shown.lines
    let fresh: LogBuffer = EMPTY_BUFFER
    let joined = false
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      if (joined) {
        this.set({ buffer: appendChunk(this.view.buffer, value) })
        continue
      }
      // Until the tail has arrived its lines may repeat shown ones: join them without repeats.
      fresh = appendChunk(fresh, value)
      const merged = joinTail(base, fresh.lines)
      this.set({ buffer: { lines: merged.lines, partial: fresh.partial, dropped: shown.dropped + merged.dropped } })
      if (fresh.lines.length >= tail) joined = true
    }
  }
}

const sessions = new Map<string, LogSession>()
const MAX_SESSIONS = 20

/** Forgets the oldest logs no view shows once more than MAX_SESSIONS are kept. */
function evict() {
  for (const [key, session] of sessions) {
    if (sessions.size <= MAX_SESSIONS) return
    if (!session.watched) sessions.delete(key)
  }
}

/** The one session of a target for the signed-in user (another user never sees its lines). */
export function logSession(target: LogTarget): LogSession {
  const key = JSON.stringify([loadSession()?.username ?? '', target.server, target.pod, target.container])
  let found = sessions.get(key)
  if (!found) {
    found = new LogSession(target)
    sessions.set(key, found)
    evict()
  }
  return found
}

export type { LogSession }
