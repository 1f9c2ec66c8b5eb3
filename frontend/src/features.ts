/** Pages whose services do not exist yet: the routes are there, hidden from navigation and
 * answering "not available" until the flag turns on (issue 14: imports and quotas). */
export const FEATURES = {
  imports: false, // the download service (import from the quantization cluster)
  quotas: false, // the contract service (quotas and usage)
} as const
