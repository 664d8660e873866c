#!/usr/bin/env node
// Reference server for the benchmarks (issue 6): Socket.IO v4 rooms over its websocket
// transport only, compression off: what many users would pick instead of roomcast.
//   emit('sub', C, ack) joins room C and acks;  emit('pub', C, d) → io.to(C).emit('m', d);
//   emit('req', ack) → ack('ok')
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { Server } from 'socket.io'

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
})

const http = createServer()
const io = new Server(http, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 1024 * 1024,
})

io.on('connection', (socket) => {
  socket.on('sub', (ch, ack) => {
    socket.join(ch)
    if (typeof ack === 'function') ack('ok')
  })
  socket.on('pub', (ch, d) => {
    io.to(ch).emit('m', d)
  })
  socket.on('req', (ack) => {
    if (typeof ack === 'function') ack('ok')
  })
})

http.listen(Number(values.port), values.host, () => {
  console.log(`listening ${http.address().port}`)
})
process.on('SIGTERM', () => process.exit(0))
