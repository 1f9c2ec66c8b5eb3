/** Formatting and shaping for the dashboard and the GPUs page's live figures (pure). */

import { ApiError } from './errors'

export type Tone = 'good' | 'fair' | 'poor'

/** A health score's tone: 90 and above good, 70 and above fair, poor below. */
export function scoreTone(score: number): Tone {
  if (score >= 90) return 'good'
  if (score >= 70) return 'fair'
  return 'poor'
}

function trimmed(value: number, digits: number): string {
  return Number(value.toFixed(digits)).toString()
}

/** A number a person reads at a glance: 3 significant figures, none wasted. */
export function compact(value: number): string {
  const abs = Math.abs(value)
  if (abs === 0) return '0'
  if (abs >= 1_000_000) return `${trimmed(value / 1_000_000, 1)} M`
  if (abs >= 10_000) return `${trimmed(value / 1_000, 1)} k`
  if (abs >= 100) return trimmed(value, 0)
  if (abs >= 10) return trimmed(value, 1)
  if (abs >= 0.01) return trimmed(value, 2)
  return value.toExponential(1)
}

/** A panel value with its unit; null (no data) is an em dash. */
export function formatValue(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  switch (unit) {
    case 's':
      return value < 1 ? `${trimmed(value * 1000, 0)} ms` : `${trimmed(value, 2)} s`
    case 'ratio':
      return `${trimmed(value * 100, 0)} %`
    case '%':
      return `${trimmed(value, 0)} %`
    case 'requests':
      return trimmed(value, 0)
    default:
      return `${compact(value)} ${unit}`
  }
}

/** An SVG path through `values` scaled into width x height (0 at the bottom, the largest
 * value or `max` at the top); a null starts a new segment, and a point alone in its segment
 * is a zero-length stroke (a dot with round caps). Empty when nothing is drawn. */
export function sparklinePath(values: readonly (number | null)[], width: number, height: number, max?: number): string {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v))
  if (!finite.length) return ''
  const top = max ?? Math.max(...finite)
  const scale = top > 0 ? top : 1
  const dx = values.length > 1 ? width / (values.length - 1) : 0
  const segments: string[][] = [[]]
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      segments.push([])
      return
    }
    const y = height - (Math.min(Math.max(v, 0), scale) / scale) * height
    segments[segments.length - 1].push(`${trimmed(i * dx, 1)} ${trimmed(y, 1)}`)
  })
  return segments
    .filter((points) => points.length)
    .map((points) => (points.length === 1 ? `M${points[0]} h0` : `M${points.join(' L')}`))
    .join(' ')
}

export type MetricsState = 'ok' | 'not-configured' | 'unavailable' | 'forbidden' | 'error'

/** What a failed metrics request means to the page: the API answers 404 without
 * PROMETHEUS_URL, 503 when Prometheus does not answer, 403 for a non-admin. */
export function metricsState(error: unknown): MetricsState {
  if (!error) return 'ok'
  if (!(error instanceof ApiError)) return 'error'
  if (error.status === 404) return 'not-configured'
  if (error.status === 503) return 'unavailable'
  if (error.status === 403) return 'forbidden'
  return 'error'
}

export interface CardView {
  label: string
  utilization: string
  memory: string
  temperature: string
  power: string
  holder: string
}

interface LiveCard {
  index: number
  uuid?: string | null
  utilization_percent?: number | null
  memory_used_mib?: number | null
  memory_free_mib?: number | null
  temperature_c?: number | null
  power_w?: number | null
  holder?: { namespace: string; pod: string; server_uuid?: string | null } | null
}

function mib(value: number): string {
  return value >= 1024 ? `${trimmed(value / 1024, 1)} GiB` : `${trimmed(value, 0)} MiB`
}

/** One card's row on the GPUs page. Memory: used of the card's total (used + free, else
 * the node's label), else used alone. */
export function cardView(card: LiveCard, cardMemoryMib?: number | null): CardView {
  const used = card.memory_used_mib ?? null
  const total = used !== null && card.memory_free_mib != null ? used + card.memory_free_mib : (cardMemoryMib ?? null)
  let memory = '—'
  if (used !== null) memory = total ? `${mib(used)} of ${mib(total)}` : mib(used)
  const holder = card.holder
  return {
    label: `GPU ${card.index}${card.uuid ? ` · ${card.uuid.slice(0, 12)}` : ''}`,
    utilization: formatValue(card.utilization_percent, '%'),
    memory,
    temperature: card.temperature_c == null ? '—' : `${trimmed(card.temperature_c, 0)} °C`,
    power: card.power_w == null ? '—' : `${trimmed(card.power_w, 0)} W`,
    holder: holder ? (holder.server_uuid ? `server ${holder.server_uuid}` : `${holder.namespace}/${holder.pod}`) : 'free',
  }
}

/** The live line of a node on the GPUs page when it has no card figures. */
export function notReportedText(simulated: boolean, state: MetricsState): string {
  if (simulated) return 'not reported (simulated node)'
  if (state === 'not-configured') return 'not reported (metrics not configured)'
  if (state === 'unavailable') return 'not reported (Prometheus unavailable)'
  return 'not reported (no per-card GPU series from this node)'
}

/** Scored servers, lowest score first, then by model and uuid (a stable order to scan). */
export function lowestFirst<T extends { score: number; model: string; server_uuid: string }>(servers: readonly T[]): T[] {
  return [...servers].sort((a, b) => a.score - b.score || a.model.localeCompare(b.model) || a.server_uuid.localeCompare(b.server_uuid))
}
