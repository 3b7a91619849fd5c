// Bad input over real TCP: every malformed or refused request gets Kafka's behaviour (an
// error code, or a closed connection where Kafka closes), other connections keep being
// served, and nothing acknowledged before is lost.
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { ErrorCode } from '../../../src/protocol/errors.ts';
import { Produce } from '../../../src/protocol/messages/00-produce.ts';
import { Fetch } from '../../../src/protocol/messages/01-fetch.ts';
import { Metadata } from '../../../src/protocol/messages/03-metadata.ts';
import { ApiVersions } from '../../../src/protocol/messages/18-api-versions.ts';
import { InitProducerId } from '../../../src/protocol/messages/22-init-producer-id.ts';
import { decodeResponseFrame } from '../../../src/protocol/api.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { readTopic } from '../../helpers/read-topic.ts';

let cluster: TestCluster;
let host: string;
let port: number;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, config: { 'max.message.bytes': '65536' } });
  const [h, p] = cluster.brokers[0]!.split(':');
  host = h!;
  port = Number(p);
  // Produce does not create topics; Metadata with auto-creation does, as in Kafka.
  const conn = await KafkaConnection.connect(host, port);
  await conn.request(Metadata, 9, {
    topics: ['bad-input', 'idem', 'pipelined'].map((name) => ({ topicId: Buffer.alloc(16), name })),
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  await conn.close();
});
afterAll(async () => {
  await cluster?.stop();
});

function produceBody(topic: string, partition: number, records: Buffer, acks = -1) {
  return { transactionalId: null, acks, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

async function produce(conn: KafkaConnection, topic: string, records: Buffer, acks = -1) {
  const res = await conn.request(Produce, 7, produceBody(topic, 0, records, acks));
  return res.responses[0]!.partitionResponses[0]!;
}

/** Sends raw bytes and resolves with what the broker did: closed the connection, or answered. */
function rawExchange(bytes: Buffer): Promise<{ closed: boolean; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      // One whole response frame is an answer: no need to wait for a close that will not come.
      if (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
        socket.destroy();
        resolve({ closed: false, data: all });
      }
    });
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(bytes));
    socket.on('close', () => resolve({ closed: true, data: Buffer.concat(chunks) }));
    setTimeout(() => {
      socket.destroy();
      if (chunks.length > 0) resolve({ closed: false, data: Buffer.concat(chunks) });
      else reject(new Error('the broker neither answered nor closed within 5 s'));
    }, 5000).unref();
  });
}

function frame(apiKey: number, version: number, body: Buffer): Buffer {
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(42, 4);
  header.writeInt16BE(-1, 8); // null client id
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return Buffer.concat([size, header, body]);
}

async function stillServes(): Promise<void> {
  const c = await KafkaConnection.connect(host, port);
  const res = await c.request(ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
  expect(res.errorCode).toBe(ErrorCode.NONE);
  await c.close();
}

describe('malformed frames', () => {
  it('closes on a negative frame size', async () => {
    const r = await rawExchange(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    expect(r.closed).toBe(true);
    expect(r.data.length).toBe(0);
    await stillServes();
  });

  it('closes on a frame size above the limit, before reading it', async () => {
    const size = Buffer.alloc(4);
    size.writeInt32BE(200 * 1024 * 1024);
    const r = await rawExchange(size);
    expect(r.closed).toBe(true);
    await stillServes();
  });

  it('closes on an unknown API key and on an unadvertised version', async () => {
    expect((await rawExchange(frame(999, 0, Buffer.alloc(0)))).closed).toBe(true);
    expect((await rawExchange(frame(3, 99, Buffer.alloc(0)))).closed).toBe(true);
    await stillServes();
  });

  it('closes on a request body that cannot be decoded', async () => {
    // Metadata v1 whose topic array claims a million entries in four bytes.
    const body = Buffer.alloc(4);
    body.writeInt32BE(1_000_000);
    expect((await rawExchange(frame(3, 1, body))).closed).toBe(true);
    await stillServes();
  });

  it('answers ApiVersions at an unknown higher version with UNSUPPORTED_VERSION and its own range', async () => {
    const r = await rawExchange(frame(18, 99, Buffer.alloc(0)));
    expect(r.closed).toBe(false);
    const res = decodeResponseFrame(ApiVersions, 0, r.data.subarray(4)).body;
    expect(res.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(res.apiKeys).toEqual([{ apiKey: 18, minVersion: 0, maxVersion: 3 }]);
  });
});

describe('refused produce requests', () => {
  it('answers each with its Kafka error code and loses nothing acknowledged', async () => {
    const conn = await KafkaConnection.connect(host, port);
    const good = encodeRecordBatch([{ value: Buffer.from('kept-1') }, { value: Buffer.from('kept-2') }]);
    expect((await produce(conn, 'bad-input', good)).errorCode).toBe(ErrorCode.NONE);

    const corrupt = encodeRecordBatch([{ value: Buffer.from('corrupt') }]);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    expect((await produce(conn, 'bad-input', corrupt)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);

    const truncated = encodeRecordBatch([{ value: Buffer.from('truncated') }]).subarray(0, 70);
    expect((await produce(conn, 'bad-input', truncated)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);

    const tooLarge = encodeRecordBatch([{ value: Buffer.alloc(70_000, 1) }]);
    expect((await produce(conn, 'bad-input', tooLarge)).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);

    expect((await produce(conn, 'bad-input', good, 5)).errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);

    const unknown = await conn.request(Produce, 7, produceBody('no-such-topic', 0, good));
    expect(unknown.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const noPartition = await conn.request(Produce, 7, produceBody('bad-input', 7, good));
    expect(noPartition.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    const oldVersion = await conn.request(Produce, 2, produceBody('bad-input', 0, good));
    expect(oldVersion.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);

    const fetchUnknown = await conn.request(Fetch, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'no-such-topic', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    expect(fetchUnknown.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    await conn.close();
    const read = await readTopic(cluster.bootstrap, 'bad-input');
    expect(read.map((r) => [r.offset, r.value])).toEqual([[0, 'kept-1'], [1, 'kept-2']]);
  });

  it('closes the connection of an acks=0 producer whose request fails, and keeps the data of others', async () => {
    const conn = await KafkaConnection.connect(host, port);
    const corrupt = encodeRecordBatch([{ value: Buffer.from('x') }]);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    const closed = new Promise<void>((resolve) => {
      const probe = setInterval(() => {
        if (conn.closed) {
          clearInterval(probe);
          resolve();
        }
      }, 10);
    });
    conn.send(Produce, 7, produceBody('bad-input', 0, corrupt, 0));
    // A request after it is never answered: the broker closed the connection instead.
    await expect(conn.request(Metadata, 1, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })).rejects.toThrow(/closed|ECONNRESET/);
    await closed;
    await stillServes();
  });

  it('enforces idempotent sequences and answers an exact resend with its original offset', async () => {
    const conn = await KafkaConnection.connect(host, port);
    const init = await conn.request(InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    expect(init.errorCode).toBe(ErrorCode.NONE);
    const pid = { producerId: init.producerId, producerEpoch: init.producerEpoch };
    const batch = (seq: number, n: number, epoch = pid.producerEpoch) =>
      encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`idem-${seq + i}`) })), { ...pid, producerEpoch: epoch, baseSequence: seq });

    const first = await produce(conn, 'idem', batch(0, 3));
    const second = await produce(conn, 'idem', batch(3, 2));
    expect([first.errorCode, first.baseOffset, second.errorCode, second.baseOffset]).toEqual([0, 0, 0, 3]);
    // An exact resend of an earlier batch: its original offset, nothing appended.
    const resend = await produce(conn, 'idem', batch(0, 3));
    expect([resend.errorCode, resend.baseOffset]).toEqual([ErrorCode.NONE, 0]);
    // A gap in the sequence.
    expect((await produce(conn, 'idem', batch(9, 1))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // A newer epoch must restart at 0; an older one is fenced.
    expect((await produce(conn, 'idem', batch(5, 1, 1))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const bumped = await produce(conn, 'idem', batch(0, 1, 1));
    expect([bumped.errorCode, bumped.baseOffset]).toEqual([ErrorCode.NONE, 5]);
    expect((await produce(conn, 'idem', batch(5, 1, 0))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    await conn.close();

    const read = await readTopic(cluster.bootstrap, 'idem');
    expect(read.map((r) => r.value)).toEqual(['idem-0', 'idem-1', 'idem-2', 'idem-3', 'idem-4', 'idem-0']);
  });

  it('keeps answering in request order when many requests are pipelined', async () => {
    const conn = await KafkaConnection.connect(host, port);
    const all = Array.from({ length: 200 }, (_, i) =>
      i % 2 === 0
        ? conn.request(Produce, 7, produceBody('pipelined', 0, encodeRecordBatch([{ value: Buffer.from(`p${i}`) }]))).then((r) => r.responses[0]!.partitionResponses[0]!.baseOffset)
        : conn.request(ApiVersions, 2, { clientSoftwareName: '', clientSoftwareVersion: '' }).then((r) => r.errorCode),
    );
    const results = await Promise.all(all);
    expect(results.filter((_, i) => i % 2 === 0)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await conn.close();
  });
});
