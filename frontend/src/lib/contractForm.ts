/** The contract editor's form: every field a string, empty meaning "inherit the default"
 * (sent as an explicit null, which resets the field), and back. */

export type FieldKind = 'count' | 'list'

export interface ContractField {
  key: string
  label: string
  kind: FieldKind
  userOnly?: boolean
}

export const CONTRACT_FIELDS: readonly ContractField[] = [
  { key: 'max_servers', label: 'Max servers', kind: 'count' },
  { key: 'max_replicas_per_server', label: 'Max replicas per server', kind: 'count' },
  { key: 'max_gpus', label: 'Max GPUs', kind: 'count' },
  { key: 'max_gpus_per_replica', label: 'Max GPUs per replica', kind: 'count' },
  { key: 'max_gpu_memory_gib', label: 'Max GPU memory (GiB)', kind: 'count' },
  { key: 'max_storage_bytes', label: 'Max storage (bytes)', kind: 'count' },
  { key: 'max_context_size', label: 'Max context size', kind: 'count' },
  { key: 'max_parallel', label: 'Max parallel', kind: 'count' },
  { key: 'allowed_namespaces', label: 'Allowed namespaces', kind: 'list', userOnly: true },
  { key: 'allowed_gpu_products', label: 'Allowed GPU products', kind: 'list' },
  { key: 'allowed_images', label: 'Allowed images', kind: 'list' },
]

export type Subject = 'user' | 'namespace'

export function fieldsFor(subject: Subject): ContractField[] {
  return CONTRACT_FIELDS.filter((field) => subject === 'user' || !field.userOnly)
}

export type ContractForm = Record<string, string>

function show(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (Array.isArray(value)) return value.join(', ')
  return String(value)
}

/** The stored contract as form values: null or absent (inherit) is the empty string (pure). */
export function formFromContract(stored: Record<string, unknown>, fields: readonly ContractField[]): ContractForm {
  return Object.fromEntries(fields.map((field) => [field.key, show(stored[field.key])]))
}

/** What an inherited field shows: the value that applies, marked as the default (pure). */
export function defaultHint(field: ContractField, effective: unknown): string {
  if (effective === null || effective === undefined) return field.kind === 'list' ? 'default: any' : 'default: no limit'
  return `default: ${show(effective) || 'none'}`
}

/** The PUT body (every field, empty → null to inherit) or the fields' errors (pure). */
export function contractBody(
  form: ContractForm,
  fields: readonly ContractField[],
): { body: Record<string, number | string[] | null>; errors: Record<string, string> } {
  const body: Record<string, number | string[] | null> = {}
  const errors: Record<string, string> = {}
  for (const field of fields) {
    const text = (form[field.key] ?? '').trim()
    if (!text) body[field.key] = null
    else if (field.kind === 'list') body[field.key] = text.split(',').map((part) => part.trim()).filter(Boolean)
    else if (/^\d+$/.test(text)) body[field.key] = Number(text)
    else errors[field.key] = 'A whole number (0 or more), or empty to inherit the default.'
  }
  return { body, errors }
}
