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
  /**
   * The production lock (`environment: production` or `auth.required`): a connection without a
   * verified identity may not publish over the socket and reads only public channels.
   */
  readonly locked: boolean
  /**
   * Whether an identity's permissions decide what it reads and writes (auth.required, with a
   * dialect whose tokens carry permissions: the envelope JWT). Flat tokens name an agent only.
   */
  readonly permissionsEnforced: boolean
  readonly allowClientPublish: boolean
  /** Whether `public_channels` names `channel`. */
  isPublic(channel: string): boolean
}

/**
 * May this connection subscribe to `channel`? Permissions default to deny (docs/protocol.md A.6,
 * docs/auth.md): private channels are readable only by their owner or an admin; an anonymous
 * connection reads every other channel unless the service is locked, then only public ones.
 */
export function canRead(ctx: AccessContext, channel: string, privateOwner: string | null): boolean {
  const id = ctx.identity
  if (privateOwner !== null) return id !== null && (id.userId === privateOwner || isAdmin(id, ctx.service))
  if (ctx.isPublic(channel)) return true
  if (id === null) return !ctx.locked
  if (!ctx.permissionsEnforced) return true
  return isAdmin(id, ctx.service) || id.permissions.includes(`${channelPrefix(channel)}:read`)
}

/**
 * May this connection publish to `channel` over the socket? A private channel takes
 * publications only from its owner or an admin, whatever allow_client_publish says: it is not
 * a mailbox for others (docs/protocol.md A.6). A locked service takes none from an anonymous one.
 */
export function canWrite(ctx: AccessContext, channel: string, privateOwner: string | null = null): boolean {
  const id = ctx.identity
  if (privateOwner !== null && (id === null || (id.userId !== privateOwner && !isAdmin(id, ctx.service)))) return false
  if (id === null) return ctx.allowClientPublish && !ctx.locked
  if (isAdmin(id, ctx.service) || id.permissions.includes(`${channelPrefix(channel)}:write`)) return true
  return ctx.allowClientPublish && !ctx.permissionsEnforced
}
