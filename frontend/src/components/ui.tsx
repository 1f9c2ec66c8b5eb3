import { Fragment, type ReactNode } from 'react'
import { errorMessage } from '../lib/errors'

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="page-header">
      <h1>{title}</h1>
      {children ? <div className="actions">{children}</div> : null}
    </header>
  )
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null
  return (
    <p className="note error" role="alert">
      {errorMessage(error)}
    </p>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>
}

export function Field({
  label,
  htmlFor,
  error,
  hint,
  children,
}: {
  label: string
  htmlFor: string
  error?: string
  hint?: string
  children: ReactNode
}) {
  return (
    <div className={`field${error ? ' invalid' : ''}`}>
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {hint && !error ? <small id={`${htmlFor}-hint`}>{hint}</small> : null}
      {error ? (
        <small className="field-error" id={`${htmlFor}-error`} role="alert">
          {error}
        </small>
      ) : null}
    </div>
  )
}

export function PhaseBadge({ phase }: { phase: string }) {
  return <span className={`badge phase-${phase.toLowerCase()}`}>{phase}</span>
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  return (
    <button type="button" className="secondary" onClick={() => void navigator.clipboard?.writeText(text)}>
      {label}
    </button>
  )
}

export interface Column<Row> {
  /** The header, and the cell's label on narrow screens (data-label). */
  label: string
  cell: (row: Row) => ReactNode
  className?: string
}

/** A table of rows with screen-reader caption, an optional actions column, and the empty and
 * error states every list page shows. Renders nothing until the rows arrive. */
export function DataTable<Row>({
  caption,
  rows,
  rowKey,
  columns,
  actions,
  empty,
  rowProps,
  expanded,
}: {
  caption: string
  rows: Row[] | undefined
  rowKey: (row: Row) => string
  columns: Column<Row>[]
  actions?: (row: Row) => ReactNode
  empty: ReactNode
  rowProps?: (row: Row) => Record<string, string>
  /** Content shown under a row across the whole table (a detail view), or null. */
  expanded?: (row: Row) => ReactNode
}) {
  if (!rows) return null
  if (rows.length === 0) return <Empty>{empty}</Empty>
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.label} scope="col">
                {c.label}
              </th>
            ))}
            {actions ? (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const detail = expanded?.(row)
            return (
              <Fragment key={rowKey(row)}>
                <tr {...rowProps?.(row)} className={detail ? 'open' : undefined}>
                  {columns.map((c) => (
                    <td key={c.label} data-label={c.label} className={c.className}>
                      {c.cell(row)}
                    </td>
                  ))}
                  {actions ? <td className="actions-cell">{actions(row)}</td> : null}
                </tr>
                {detail ? (
                  <tr className="detail-row">
                    <td colSpan={columns.length + (actions ? 1 : 0)}>{detail}</td>
                  </tr>
                ) : null}
              </Fragment>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

/** A form's error when no field claims it (field errors are shown under their fields). */
export function FormError({ error, fieldErrors }: { error: unknown; fieldErrors: Record<string, string> }) {
  return Object.keys(fieldErrors).length ? null : <ErrorNote error={error} />
}

/** A destructive row action, named for screen readers by what it acts on; `confirm` asks first. */
export function DangerButton({
  label,
  subject,
  onClick,
  disabled,
  confirm,
}: {
  label: string
  subject: string
  onClick: () => void
  disabled?: boolean
  confirm?: string
}) {
  return (
    <button
      type="button"
      className="danger"
      aria-label={`${label} ${subject}`}
      disabled={disabled}
      onClick={() => {
        if (!confirm || window.confirm(confirm)) onClick()
      }}
    >
      {label}
    </button>
  )
}

/** A success message announced to screen readers. */
export function StatusNote({ children }: { children: ReactNode }) {
  return (
    <p className="note" role="status">
      {children}
    </p>
  )
}

/** A form in a card, titled by its heading, validated by the app (noValidate), submitted
 * without a page load. */
export function FormCard({ id, title, onSubmit, children }: { id: string; title: string; onSubmit: () => void; children: ReactNode }) {
  return (
    <form
      className="card"
      onSubmit={(event) => {
        event.preventDefault()
        onSubmit()
      }}
      aria-labelledby={id}
      noValidate
    >
      <h2 id={id}>{title}</h2>
      {children}
    </form>
  )
}
