/** The browser-safe protocol module: both dialects' codecs, message types, codes, channel rules. */
export * from './envelope/index.js'
export * from './flat/index.js'
export type * from './messages.js'
export { AppError, CloseCode, CloseReason, CLOSE_CODES, ErrorCode, ERROR_CODES } from './codes.js'
export { channelProblem, compileChannel, matchChannel, MAX_CHANNEL_LENGTH, type ChannelMatch, type ChannelSpec, type CompiledChannel } from './channels.js'
export { MAX_DATA_DEPTH, MAX_JSON_DEPTH } from './json-depth.js'
