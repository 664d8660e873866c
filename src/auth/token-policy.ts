import type { Settings } from '../config/settings.js'
import { DEV_TOKEN_SECRET } from './hmac-token.js'

/** Production for the flat dialect: `environment: production` (NODE_ENV) or `auth.required`. */
export function tokenRequired(settings: Settings): boolean {
  return settings.environment === 'production' || settings.auth.required
}

/**
 * The settings check of every service that takes flat-dialect tokens: an empty secret is never
 * usable, and the seed's well-known development secret is refused in production.
 */
export function tokenSecretProblems(settings: Settings): string[] {
  const secret = settings.auth.token_secret
  if (secret.length === 0) return ['auth.token_secret: must not be empty (set WS_AUTH_SECRET or auth.token_secret)']
  if (secret === DEV_TOKEN_SECRET && tokenRequired(settings)) {
    return [
      `auth.token_secret: the development default "${DEV_TOKEN_SECRET}" is refused in production ` +
        '(NODE_ENV=production or auth.required); set WS_AUTH_SECRET or auth.token_secret',
    ]
  }
  return []
}
