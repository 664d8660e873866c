import type { Identity } from './identity.js'

/** The prefix a permission names for a channel: the part before the first `:`, or the whole name. */
export function channelPrefix(channel: string): string {
  const i = channel.indexOf(':')
  return i === -1 ? channel : channel.slice(0, i)
}

function isAdmin(identity: Identity, service: string): boolean {
  return identity.permissions.includes('admin') || identity.permissions.includes(`${service}:admin`)
}

export interface AccessContext {
  readonly service: string
  /** null for an anonymous connection. */
  readonly identity: Identity | null
  /** Whether auth is required by this service (then every connection has an identity). */
  readonly authRequired: boolean
  readonly allowClientPublish: boolean
}

/**
 * May this connection subscribe to `channel`? Permissions default to deny (docs/protocol.md A.6):
 * anonymous connections (auth off) read every non-private channel; private channels are
 * readable only by their owner or an admin.
 */
export function canRead(ctx: AccessContext, channel: string, privateOwner: string | null): boolean {
  const id = ctx.identity
  if (privateOwner !== null) return id !== null && (id.userId === privateOwner || isAdmin(id, ctx.service))
  if (id === null) return !ctx.authRequired
  if (!ctx.authRequired) return true
  return isAdmin(id, ctx.service) || id.permissions.includes(`${channelPrefix(channel)}:read`)
}

/**
 * May this connection publish to `channel` over the socket? A private channel takes
 * publications only from its owner or an admin, whatever allow_client_publish says: it is not
 * a mailbox for others (docs/protocol.md A.6).
 */
export function canWrite(ctx: AccessContext, channel: string, privateOwner: string | null = null): boolean {
  const id = ctx.identity
  if (privateOwner !== null && (id === null || (id.userId !== privateOwner && !isAdmin(id, ctx.service)))) return false
  if (id !== null && (isAdmin(id, ctx.service) || id.permissions.includes(`${channelPrefix(channel)}:write`))) return true
  return ctx.allowClientPublish && !ctx.authRequired
}
