import type { ReactNode } from 'react'
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
