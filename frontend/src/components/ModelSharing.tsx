import { useEffect, useRef, useState } from 'react'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { api, unwrap, type Model } from '../api/client'
import { refreshAfterWrite } from '../queryClient'
import { ErrorNote, Field } from './ui'
import { fieldErrors } from '../lib/errors'
import { VISIBILITIES, namespaceChoices, visibilityText, visibilityUpdate, type Visibility } from '../lib/modelAccess'

/** The visibility as a badge, with the namespaces a shared model is shared with. */
export function VisibilityBadge({ model }: { model: Pick<Model, 'visibility' | 'shared_with'> }) {
  return (
    <span className="visibility">
      <span className={`badge visibility-${model.visibility}`}>{model.visibility}</span>
      {model.visibility === 'shared' ? (
        <>
          {' '}
          <span className="shared-with">
            <span className="sr-only">with </span>
            {model.shared_with.join(', ')}
          </span>
        </>
      ) : null}
    </span>
  )
}

/** The owner's (or an admin's) editor of who may serve `model`: private, shared with
 * namespaces (the caller's allowed ones as checkboxes; typed ones when `freeText`), or public.
 * The API's refusal is shown in the card. */
export function SharingEditor({
  model,
  allowedNamespaces,
  freeText,
  onDone,
}: {
  model: Model
  allowedNamespaces: readonly string[] | null
  freeText: boolean
  onDone: (message: string | null) => void
}) {
  const queryClient = useQueryClient()
  const heading = useRef<HTMLHeadingElement>(null)
  const [visibility, setVisibility] = useState<Visibility>(model.visibility)
  const [checked, setChecked] = useState<string[]>(model.shared_with)
  const [typed, setTyped] = useState('')
  const [invalid, setInvalid] = useState<string | null>(null)
  const choices = namespaceChoices(allowedNamespaces, model.shared_with)
  const save = useMutation({
    mutationFn: async (body: { visibility: Visibility; shared_with: string[] }) =>
      unwrap(await api.PATCH('/models/{model_uuid}', { params: { path: { model_uuid: model.uuid } }, body })),
    onSuccess: async (updated) => {
      await refreshAfterWrite(queryClient, ['models'])
      onDone(`${updated.name} is now ${visibilityText(updated).toLowerCase()}.`)
    },
  })

  const remote = fieldErrors(save.error, ['shared_with']).shared_with
  const namespaceError = invalid ?? remote

  useEffect(() => {
    heading.current?.scrollIntoView({ block: 'nearest' })
    heading.current?.focus()
  }, [model.uuid])

  function edited() {
    setInvalid(null)
    save.reset()
  }

  function submit() {
    const result = visibilityUpdate(visibility, checked, typed)
    setInvalid(result.error ?? null)
    save.reset()
    if (result.body) save.mutate(result.body)
  }

  const titleId = `sharing-${model.uuid}`
  return (
    <form
      className="card sharing"
      aria-labelledby={titleId}
      noValidate
      onSubmit={(event) => {
        event.preventDefault()
        submit()
      }}
    >
      <h2 id={titleId} ref={heading} tabIndex={-1}>
        Who may serve {model.name}
      </h2>
      <fieldset className="choices">
        <legend className="sr-only">Visibility</legend>
        {VISIBILITIES.map((v) => (
          <label key={v.value}>
            <input type="radio" name="visibility" value={v.value} checked={visibility === v.value} onChange={() => {
                edited()
                setVisibility(v.value)
              }} />
            <span>
              <strong>{v.label}</strong> <small>{v.hint}</small>
            </span>
          </label>
        ))}
      </fieldset>
      {visibility === 'shared' ? (
        <fieldset className="choices namespaces" aria-describedby={namespaceError ? 'sharing-namespaces-error' : undefined}>
          <legend>Namespaces</legend>
          {choices.length ? (
            choices.map((ns) => (
              <label key={ns}>
                <input
                  type="checkbox"
                  checked={checked.includes(ns)}
                  onChange={(e) => {
                    edited()
                    setChecked(e.target.checked ? [...checked, ns] : checked.filter((c) => c !== ns))
                  }}
                />
                <span className="mono">{ns}</span>
              </label>
            ))
          ) : freeText ? null : (
            <small>Your contract allows no namespace to share with.</small>
          )}
          {freeText ? (
            <Field label="Other namespaces" htmlFor="sharing-other" hint="Comma- or space-separated">
              <input id="sharing-other" value={typed} placeholder="e.g. team-a, team-b" onChange={(e) => {
                  edited()
                  setTyped(e.target.value)
                }} />
            </Field>
          ) : null}
          {namespaceError ? (
            <small className="field-error" id="sharing-namespaces-error" role="alert">
              {namespaceError}
            </small>
          ) : null}
        </fieldset>
      ) : null}
      {remote && visibility === 'shared' ? null : <ErrorNote error={save.error} />}
      <div className="button-row">
        <button type="submit" disabled={save.isPending}>
          Save
        </button>
        <button type="button" className="secondary" onClick={() => onDone(null)}>
          Cancel
        </button>
      </div>
    </form>
  )
}
