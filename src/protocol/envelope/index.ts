/** The `envelope` dialect's codecs, both directions (docs/protocol.md A). */
export { decodeEnvelope, envelopeServerCodec } from './server.js'
export { decodeEnvelopeServerFrame, envelopeClientCodec } from './client.js'
export { ENVELOPE_TYPES, envelopeFrame } from './frame.js'
