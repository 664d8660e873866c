import { verifyFlatClaims } from '../../src/auth/flat-verifier.js'
import { flatDialect } from '../../src/dialects/index.js'
import { tokenSecretProblems } from '../../src/auth/token-policy.js'

/**
 * The flat dialect of the context and workspace services: one HMAC token check for both
 * (docs/auth.md "HMAC tokens"), and, when the service is built or its settings loaded, the
 * development secret refused in production.
 */
export const hmacFlatDialect = flatDialect({ verifier: verifyFlatClaims, settingsProblems: tokenSecretProblems })
