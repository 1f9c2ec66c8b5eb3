/** Import progress made readable: percentages, transfer rate, time left, phases. */

import { formatBytes } from './validate'

export const FINAL_PHASES = ['Done', 'Failed', 'Cancelled'] as const

export function isFinal(phase: string): boolean {
  return (FINAL_PHASES as readonly string[]).includes(phase)
}

/** Whole percent of done over total, clamped to 0..100; 0 when the total is unknown. */
export function percent(done: number, total: number): number {
  if (!total || total <= 0) return 0
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)))
}

export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '—'
  return `${formatBytes(bytesPerSecond)}/s`
}

/** Seconds left as "45 s", "3 min 20 s", "2 h 05 min"; "—" when unknown. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—'
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}
