/**
 * The raw baseline of bench/produce-vs-raw.ts: a TCP server that appends every framed
 * message it receives (4-byte length + payload) to a file without fsync and answers each
 * with a 4-byte acknowledgement once its write completed — the least a broker must do.
 * Run as its own process: `node --import tsx bench/raw-sink.ts FILE`; prints its port.
 */
import { open } from 'node:fs/promises';
import * as net from 'node:net';

const file = process.argv[2];
if (!file) throw new Error('usage: raw-sink.ts FILE');
const fh = await open(file, 'w');
let position = 0;
// Writes are issued in arrival order and each acknowledged after it completes.
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let chunks: Buffer[] = [];
  let buffered = 0;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    buffered += chunk.length;
    let all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
    const writes: Buffer[] = [];
    while (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
      const size = all.readInt32BE(0);
      writes.push(all.subarray(4, 4 + size));
      all = all.subarray(4 + size);
    }
    chunks = all.length > 0 ? [all] : [];
    buffered = all.length;
    if (writes.length === 0) return;
    const at = position;
    const bytes = writes.reduce((n, w) => n + w.length, 0);
    position += bytes;
    fh.writev(writes, at).then(
      () => {
        const ack = Buffer.alloc(4 * writes.length);
        socket.write(ack);
      },
      (err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))),
    );
  });
  socket.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  void fh.close().then(() => process.exit(0));
});
