import { sparklinePath } from '../lib/metrics'

/** A small line of a series' values (no axes; the figure beside it carries the meaning,
 * so screen readers skip it). */
export function Sparkline({ values, max, width = 120, height = 28 }: { values: readonly (number | null)[]; max?: number; width?: number; height?: number }) {
  const path = sparklinePath(values, width, height - 2, max)
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 -1 ${width} ${height}`} preserveAspectRatio="none" aria-hidden="true" focusable="false">
      <line x1={0} x2={width} y1={height - 2} y2={height - 2} className="baseline" />
      {path ? <path d={path} /> : null}
    </svg>
  )
}
