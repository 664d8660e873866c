/** The identity a verified credential attaches to a connection, whatever the dialect. */
export interface Identity {
  /** User id (envelope JWT `user_id`) or agent id (flat dialect). */
  readonly userId: string
  readonly permissions: readonly string[]
  /** Flat dialect: the session the agent works in, when it named one. */
  readonly sessionId?: string
  /** When the credential expires (ms since the epoch): its `exp`; absent for one without (development's bare agent_id). */
  readonly expiresAt?: number
}
