/** A job's progress stream (`GET /status/{uuid}/events` of the download service): every
 * connection starts with a full snapshot, so reconnecting (after a drop or when the tab comes
 * back) never leaves stale progress. fetch, not EventSource: the request needs the token. */

import type { JobSnapshot } from '../api/client'
import { DOWNLOAD_BASE, notifyUnauthorized } from '../api/client'
import { errorFromResponse } from './errors'
import { isFinal } from './progress'
import { loadSession } from './session'
import { SseParser } from './sse'

export const MAX_RECONNECTS = 20
export const RECONNECT_DELAY_MS = 1_000
export const MAX_RECONNECT_DELAY_MS = 15_000

/** Wait before the nth reconnect (0-based): doubling from 1 s to 15 s (pure). */
export function reconnectDelay(attempt: number): number {
  return Math.min(MAX_RECONNECT_DELAY_MS, RECONNECT_DELAY_MS * 2 ** Math.max(0, attempt))
}

/** The snapshots in a chunk of the stream (`event: progress`, JSON data) (pure but for the parser). */
export function snapshotsOf(parser: SseParser, chunk: string): JobSnapshot[] {
  return parser
    .push(chunk)
    .filter((event) => event.event === 'progress')
    .map((event) => JSON.parse(event.data) as JobSnapshot)
}

/** One connection: calls `onSnapshot` for each event; resolves with the last phase seen. */
export async function readJobStream(modelUuid: string, onSnapshot: (job: JobSnapshot) => void, signal: AbortSignal): Promise<string | null> {
  const session = loadSession()
  const response = await fetch(`${DOWNLOAD_BASE}/status/${encodeURIComponent(modelUuid)}/events`, {
    headers: { Accept: 'text/event-stream', ...(session ? { Authorization: `Bearer ${session.token}` } : {}) },
    signal,
  })
  if (response.status === 401) notifyUnauthorized()
  if (!response.ok || !response.body) {
    throw await errorFromResponse(response)
  }
  const parser = new SseParser()
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let phase: string | null = null
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    for (const job of snapshotsOf(parser, value)) {
      phase = job.phase
      onSnapshot(job)
    }
  }
  return phase
}

/** Follows a job until its final phase, reconnecting with backoff (at most MAX_RECONNECTS
 * times in a row) and at once when the page becomes visible again. Returns a stop function. */
export function followJob(modelUuid: string, onSnapshot: (job: JobSnapshot) => void, onError: (error: unknown) => void): () => void {
  let stopped = false
  let controller = new AbortController()
  let failures = 0
  let wake: (() => void) | null = null

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = window.setTimeout(resolve, ms)
      wake = () => {
        window.clearTimeout(timer)
        resolve()
      }
    })

  const onVisible = () => {
    if (document.visibilityState !== 'visible') return
    failures = 0
    controller.abort()
    wake?.()
  }
  document.addEventListener('visibilitychange', onVisible)

  void (async () => {
    while (!stopped && failures <= MAX_RECONNECTS) {
      controller = new AbortController()
      try {
        const phase = await readJobStream(modelUuid, (job) => {
          failures = 0
          onSnapshot(job)
        }, controller.signal)
        if (phase && isFinal(phase)) break
      } catch (error) {
        if (stopped) break
        if (!controller.signal.aborted) {
          failures += 1
          onError(error)
        }
      }
      if (!stopped) await sleep(controller.signal.aborted ? 0 : reconnectDelay(failures))
    }
    document.removeEventListener('visibilitychange', onVisible)
  })()

  return () => {
    stopped = true
    controller.abort()
    wake?.()
    document.removeEventListener('visibilitychange', onVisible)
  }
}
