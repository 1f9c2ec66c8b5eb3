/** A followed log as lines (pure): the stream's chunks split into lines, the oldest dropped
 * past a cap, and a reconnect's tail joined to what is already shown without repeating it. */

export const DEFAULT_TAIL = 200
export const MORE_STEP = 1_000
export const MAX_LINES = 5_000
export const MAX_TAIL = 100_000 // the API's limit of `tail`

export interface LogBuffer {
  lines: string[]
  /** The start of a line whose end has not arrived yet. */
  partial: string
  /** Lines dropped from the start to keep at most MAX_LINES. */
  dropped: number
}

export const EMPTY_BUFFER: LogBuffer = { lines: [], partial: '', dropped: 0 }

/** The whole lines of `partial + chunk` and the unfinished rest (`\r\n` counts as one end). */
export function splitChunk(partial: string, chunk: string): { lines: string[]; partial: string } {
  const parts = (partial + chunk).split('\n')
  const rest = parts.pop() ?? ''
  return { lines: parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)), partial: rest }
}

/** `lines` with at most `max` kept: the newest; how many were dropped. */
export function trimLines(lines: string[], max: number): { lines: string[]; dropped: number } {
  if (lines.length <= max) return { lines, dropped: 0 }
  return { lines: lines.slice(lines.length - max), dropped: lines.length - max }
}

export function appendChunk(buffer: LogBuffer, chunk: string, max = MAX_LINES): LogBuffer {
  const split = splitChunk(buffer.partial, chunk)
  if (split.lines.length === 0) return { ...buffer, partial: split.partial }
  const trimmed = trimLines([...buffer.lines, ...split.lines], max)
  return { lines: trimmed.lines, partial: split.partial, dropped: buffer.dropped + trimmed.dropped }
}

/** How many lines at the end of `shown` are the first lines of `fetched` (the longest such
 * overlap: a reconnect's tail repeats the lines already shown). */
export function overlap(shown: string[], fetched: string[]): number {
  for (let size = Math.min(shown.length, fetched.length); size > 0; size--) {
    let same = true
    for (let i = 0; i < size && same; i++) same = shown[shown.length - size + i] === fetched[i]
    if (same) return size
  }
  return 0
}

/** `shown` followed by the lines of `fetched` it does not already end with. */
export function joinTail(shown: string[], fetched: string[], max = MAX_LINES): { lines: string[]; dropped: number } {
  return trimLines([...shown, ...fetched.slice(overlap(shown, fetched))], max)
}

/** Whether a scrolled box shows its end (within a few pixels), so new lines keep it there. */
export function atBottom(scrollTop: number, clientHeight: number, scrollHeight: number, slack = 24): boolean {
  return scrollHeight - (scrollTop + clientHeight) <= slack
}

export function nextTail(tail: number): number {
  return Math.min(MAX_TAIL, tail + MORE_STEP)
}
