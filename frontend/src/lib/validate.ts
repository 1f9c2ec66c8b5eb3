/** Client-side checks of the serve form: only what the API's schema says for sure (the API
 * stays the judge of runtime flags and capacity; its message is shown inline). */

export interface ServeForm {
  model: string
  replicas: string
  gpuCount: string
  gpuProduct: string
  runtimeParams: string
}

export const MAX_REPLICAS = 64 // ServeRequest.replicas (the deployment may allow fewer: the API says so)
export const MAX_RUNTIME_PARAMS_LENGTH = 2000

function wholeNumber(value: string): number | null {
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : null
}

export function validateServeForm(form: ServeForm): Record<string, string> {
  const errors: Record<string, string> = {}
  if (!form.model) errors.model = 'Choose a model.'
  const replicas = wholeNumber(form.replicas)
  if (replicas === null || replicas < 1 || replicas > MAX_REPLICAS)
    errors.replicas = `Replicas must be a whole number from 1 to ${MAX_REPLICAS}.`
  const gpus = wholeNumber(form.gpuCount)
  if (gpus === null) errors['gpu.count'] = 'GPU count must be a whole number (0 for CPU).'
  if (form.gpuProduct && gpus === 0) errors['gpu.product'] = 'A GPU product needs a GPU count of at least 1.'
  if (form.runtimeParams.length > MAX_RUNTIME_PARAMS_LENGTH)
    errors.runtime_params = `At most ${MAX_RUNTIME_PARAMS_LENGTH} characters.`
  return errors
}

export function serveRequest(form: ServeForm) {
  const count = Number(form.gpuCount.trim())
  return {
    model_name: form.model,
    replicas: Number(form.replicas.trim()),
    runtime_params: form.runtimeParams.trim(),
    gpu: { count, ...(form.gpuProduct ? { product: form.gpuProduct } : {}) },
    visibility: 'private' as const, // the API's default; the owner can make it public later
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit += 1
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—'
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`
  return String(n)
}
