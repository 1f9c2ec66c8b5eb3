/** Who may serve a registry model, as the Models page shows and edits it: the API's rule
 * (`inference_common.model_access`) is private to the owner and admins, shared with
 * namespaces, or public. */

export type Visibility = 'private' | 'shared' | 'public'

export const VISIBILITIES: readonly { value: Visibility; label: string; hint: string }[] = [
  { value: 'private', label: 'Private', hint: 'the owner and admins' },
  { value: 'shared', label: 'Shared', hint: 'anyone allowed to serve in the namespaces chosen' },
  { value: 'public', label: 'Public', hint: 'every signed-in user' },
]

export interface AccessFacts {
  owner_id: string | null
  visibility: Visibility
  shared_with: string[]
}

export interface Viewer {
  id: string
  role: string
}

export interface VisibilityUpdate {
  visibility: Visibility
  shared_with: string[]
}

/** Kubernetes namespace names (RFC 1123 labels), as the API checks them. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

export function visibilityText(model: Pick<AccessFacts, 'visibility' | 'shared_with'>): string {
  if (model.visibility === 'shared') return `Shared with ${model.shared_with.join(', ') || 'no namespace'}`
  return model.visibility === 'public' ? 'Public' : 'Private'
}

/** The owner as the viewer may know them: "you", a username when the viewer can list users
 * (admins), else "another user"; a model without an owner (the embedded default, or its
 * uploader deleted) says so. */
export function ownerText(ownerId: string | null, viewer: Viewer | undefined, usernames: ReadonlyMap<string, string>): string {
  if (ownerId === null) return 'no owner'
  if (viewer && ownerId === viewer.id) return 'you'
  return usernames.get(ownerId) ?? 'another user'
}

/** The owner and admins may change who may serve a model (the API answers 403 to others). */
export function canManage(ownerId: string | null, viewer: Viewer | undefined): boolean {
  if (!viewer) return false
  return viewer.role === 'admin' || (ownerId !== null && ownerId === viewer.id)
}

/** The namespaces offered as checkboxes: the caller's allowed ones and those the model is
 * already shared with (so none is dropped unseen), sorted. */
export function namespaceChoices(allowed: readonly string[] | null | undefined, current: readonly string[]): string[] {
  return [...new Set([...(allowed ?? []), ...current])].sort()
}

/** "team-a, team-b  team-c" → ["team-a", "team-b", "team-c"]: commas or spaces, duplicates
 * dropped. */
export function parseNamespaces(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))]
}

/** The PATCH body, or the reason it cannot be sent (shown under the field it is about). */
export function visibilityUpdate(
  visibility: Visibility,
  checked: readonly string[],
  typed: string,
): { body: VisibilityUpdate; error?: undefined } | { body?: undefined; error: string } {
  if (visibility !== 'shared') return { body: { visibility, shared_with: [] } }
  const extra = parseNamespaces(typed)
  const bad = extra.find((ns) => ns.length > 63 || !NAMESPACE.test(ns))
  if (bad) return { error: `${bad}: not a namespace name (lowercase letters, digits and '-')` }
  const namespaces = [...new Set([...checked, ...extra])].sort()
  if (!namespaces.length) return { error: 'choose at least one namespace to share with' }
  return { body: { visibility, shared_with: namespaces } }
}
