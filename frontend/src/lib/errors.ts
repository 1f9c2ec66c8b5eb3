/** The platform's one error shape, {"error": {"type", "message", "detail"}}, made readable. */

export interface ApiErrorBody {
  error: { type: string; message: string; detail?: unknown }
}

export class ApiError extends Error {
  readonly status: number
  readonly type: string
  readonly detail: unknown

  constructor(status: number, type: string, message: string, detail?: unknown) {
    super(message)
    this.status = status
    this.type = type
    this.detail = detail
  }
}

export function isErrorBody(value: unknown): value is ApiErrorBody {
  if (!value || typeof value !== 'object' || !('error' in value)) return false
  const error = (value as { error: unknown }).error
  return !!error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string'
}

export function toApiError(status: number, body: unknown, fallback = 'request failed'): ApiError {
  if (isErrorBody(body)) return new ApiError(status, body.error.type, body.error.message, body.error.detail)
  if (typeof body === 'string' && body.trim()) return new ApiError(status, 'http_error', body.trim().slice(0, 500))
  return new ApiError(status, 'http_error', `${fallback} (HTTP ${status})`)
}

/** The ApiError of a failed response's text: the one error shape when it is JSON, else the text. */
export function errorFromText(status: number, text: string, fallback = 'request failed'): ApiError {
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    /* not JSON: the text is the message */
  }
  return toApiError(status, body, fallback)
}

/** The ApiError of a failed fetch response (its body read as text). */
export async function errorFromResponse(response: Response, fallback = 'request failed'): Promise<ApiError> {
  return errorFromText(response.status, await response.text().catch(() => ''), fallback)
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** Which form field an API error is about: a validation error's `loc`, or a message that
 * starts with the field's name ("runtime_params: --bogus: not an allowed llama.cpp flag"). */
export function fieldErrors(error: unknown, fields: readonly string[]): Record<string, string> {
  if (!(error instanceof ApiError)) return {}
  const found: Record<string, string> = {}
  if (Array.isArray(error.detail)) {
    for (const item of error.detail as { loc?: unknown[]; msg?: string }[]) {
      const loc = (item.loc ?? []).filter((part) => part !== 'body').join('.')
      const field = fields.find((f) => loc === f || loc.startsWith(`${f}.`))
      if (field && item.msg && !found[field]) found[field] = item.msg
    }
  }
  for (const field of fields) {
    const prefix = `${field}: `
    if (!found[field] && error.message.startsWith(prefix)) found[field] = error.message.slice(prefix.length)
  }
  return found
}
