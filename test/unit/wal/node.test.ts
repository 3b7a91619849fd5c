import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { Registry } from 'prom-client';
import { SimulatedFileSystem } from '../../../src/common/sim-fs.ts';
import { startWalNode } from '../../../wal/node.ts';
import type { WalNodeServer } from '../../../wal/node.ts';
import { WalConnection } from '../../../wal/connection.ts';
import { systemClock } from '../../../src/common/clock.ts';
import { decodeError, decodeStateOk, encodeAppend, encodeFence, encodeState, Op, protocolVersion, Status } from '../../../wal/protocol.ts';
import { frameBytesMax } from '../../../wal/limits.ts';
import { GatedFileSystem } from '../../helpers/wal-gated-fs.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(registry = new Registry()): Promise<WalNodeServer> {
  const n = await startWalNode({ id: 5, dataDir: '/wal', fs: new SimulatedFileSystem(), registry });
  cleanups.push(() => n.close());
  return n;
}

async function connect(n: WalNodeServer): Promise<WalConnection> {
  const c = await WalConnection.connect({ host: '127.0.0.1', port: n.port }, { clock: systemClock, connectTimeoutMs: 2000, requestTimeoutMs: 5000 });
  cleanups.push(() => c.close());
  return c;
}

/** Opens a raw socket, writes `bytes`, resolves when the node closes the connection. */
function closedAfter(n: WalNodeServer, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: n.port }, () => s.write(bytes));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.on('data', () => reject(new Error('the node answered a malformed frame')));
  });
}

describe('WAL node server', () => {
  it('shakes hands with its id and answers pipelined requests by id', async () => {
    const n = await node();
    const c = await connect(n);
    expect(c.nodeId).toBe(5);
    const log = Buffer.from('l');
    const answers = await Promise.all([
      c.send((id) => encodeAppend(id, log, 1, 0, [Buffer.from('a')], 1)),
      c.send((id) => encodeAppend(id, log, 1, 1, [Buffer.from('b')], 1)),
      c.send((id) => encodeState(id, log)),
    ]);
    expect(answers.map((a) => a.status)).toEqual([Status.OK, Status.OK, Status.OK]);
    const fenced = await c.send((id) => encodeFence(id, log, 3));
    expect(decodeStateOk(fenced.body)).toMatchObject({ fenceEpoch: 3, endEntryId: 2, entryCount: 2 });
    const refused = await c.send((id) => encodeAppend(id, log, 2, 2, [Buffer.from('z')], 1));
    expect(refused.status).toBe(Status.FENCED);
    expect(decodeError(refused, 'n')).toMatchObject({ code: 'FLOE_ERR_WAL_FENCED', fenceEpoch: 3 });
  });

  it('answers an argument outside the limits with BAD_REQUEST and keeps the connection', async () => {
    const n = await node();
    const c = await connect(n);
    const r = await c.send((id) => encodeAppend(id, Buffer.from('l'), 1, 0, [Buffer.alloc(16 * 1024 * 1024 + 1)], 16 * 1024 * 1024 + 1));
    expect(r.status).toBe(Status.BAD_REQUEST);
    expect(decodeError(r, 'n').code).toBe('FLOE_ERR_WAL_PROTOCOL');
    expect((await c.send((id) => encodeState(id, Buffer.from('l')))).status).toBe(Status.OK);
  });

  it('closes a connection that sends an unknown op or an impossible frame length', async () => {
    const n = await node();
    const unknown = Buffer.from([0, 0, 0, 5, 99, 0, 0, 0, 1]);
    await closedAfter(n, unknown);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(frameBytesMax + 1, 0);
    await closedAfter(n, huge);
  });

  it('refuses a HELLO of another protocol version', async () => {
    const n = await node();
    const answer = await new Promise<Buffer>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: n.port }, () => {
        const hello = Buffer.alloc(11);
        hello.writeUInt32BE(7, 0);
        hello.writeUInt8(Op.HELLO, 4);
        hello.writeUInt32BE(1, 5);
        hello.writeUInt16BE(protocolVersion + 1, 9);
        s.write(hello);
      });
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d);
      });
    });
    expect(answer.readUInt8(9)).toBe(Status.BAD_REQUEST);
    expect(answer.toString('utf8')).toMatch(/protocol version 2 is not supported/);
  });

  it('counts appends, bytes, fsyncs and fenced appends in its registry', async () => {
    const registry = new Registry();
    const n = await node(registry);
    const c = await connect(n);
    const log = Buffer.from('l');
    await Promise.all([0, 1, 2].map((i) => c.send((id) => encodeAppend(id, log, 1, i, [Buffer.alloc(100)], 100))));
    await c.send((id) => encodeFence(id, log, 2));
    await c.send((id) => encodeAppend(id, log, 1, 3, [Buffer.alloc(1)], 1));
    const text = await registry.metrics();
    expect(text).toMatch(/floe_wal_append_entries_total 3/);
    expect(text).toMatch(/floe_wal_fenced_appends_total 1/);
    expect(text).toMatch(/floe_wal_fences_total 1/);
    expect(text).toMatch(/floe_wal_append_latency_seconds_count 3/);
    expect(text).toMatch(/floe_wal_fsync_latency_seconds_count [1-3]/);
    expect(Number(/floe_wal_append_bytes_total (\d+)/.exec(text)?.[1])).toBeGreaterThan(300);
  });

  it('finishes accepted appends, and answers them, before it closes', async () => {
    const gated = new GatedFileSystem(new SimulatedFileSystem());
    const n = await startWalNode({ id: 1, dataDir: '/wal', fs: gated });
    const c = await connect(n);
    gated.hold();
    const pending = [0, 1, 2, 3].map((i) => c.send((id) => encodeAppend(id, Buffer.from('l'), 1, i, [Buffer.from('x')], 1)));
    await gated.syncArrived();
    const closing = n.close();
    gated.release();
    await closing;
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([Status.OK, Status.OK, Status.OK, Status.OK]);
  });
});
