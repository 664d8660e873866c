/** The `flat` dialect's codecs, both directions (docs/protocol.md B). */
export { decodeFlat, flatServerCodec } from './server.js'
export { decodeFlatServerFrame, flatClientCodec } from './client.js'
