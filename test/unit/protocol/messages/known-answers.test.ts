/**
 * Known-answer tests: frames written out byte by byte from the protocol's layout (Kafka's
 * protocol guide and message JSON definitions), decoded with the codec and re-encoded to
 * the same bytes. The round-trip properties cannot catch a schema that is consistently
 * wrong on both sides; these can.
 */
import { describe, expect, it } from 'vitest';
import { decodeRequestFrame, decodeResponseFrame, encodeRequestFrame, encodeResponseFrame } from '../../../../src/protocol/api.ts';
import {
  ApiVersions,
  CreateTopics,
  DeleteTopics,
  Fetch,
  FindCoordinator,
  Heartbeat,
  JoinGroup,
  ListOffsets,
  Metadata,
  OffsetFetch,
  Produce,
  SyncGroup,
} from '../../../../src/protocol/messages/index.ts';
import { hex, join, withoutSize } from '../../../helpers/protocol-bytes.ts';

const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

describe('request frames', () => {
  it('ApiVersions v3 as librdkafka sends it: header v2, compact strings, tag sections', () => {
    const frame = hex(
      [
        '00000024', // size: 36 bytes follow
        '0012', // api_key 18
        '0003', // api_version 3
        '00000001', // correlation_id 1
        '0007' + ascii('rdkafka'), // client_id: a classic INT16 string even in header v2
        '00', // header tag section
        '0b' + ascii('librdkafka'), // client_software_name: compact string, length + 1
        '06' + ascii('2.0.2'), // client_software_version
        '00', // body tag section
      ].join(''),
    );
    const { header, body } = decodeRequestFrame(ApiVersions, withoutSize(frame));
    expect(header).toStrictEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka' });
    expect(body).toStrictEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
    expect(join(encodeRequestFrame(ApiVersions, 3, 1, 'rdkafka', body))).toStrictEqual(frame);
  });

  it('ApiVersions v0: header v1 and an empty body', () => {
    const frame = hex('0000000e 0012 0000 0000002a 0004' + ascii('kpy1'));
    const { header, body } = decodeRequestFrame(ApiVersions, withoutSize(frame));
    expect(header).toStrictEqual({ apiKey: 18, apiVersion: 0, correlationId: 42, clientId: 'kpy1' });
    expect(body).toStrictEqual({ clientSoftwareName: '', clientSoftwareVersion: '' });
    expect(join(encodeRequestFrame(ApiVersions, 0, 42, 'kpy1', body))).toStrictEqual(frame);
  });

  it('Metadata v1 with null topics (all topics) and a null client id', () => {
    const frame = hex('0000000e 0003 0001 00000007 ffff ffffffff');
    const { header, body } = decodeRequestFrame(Metadata, withoutSize(frame));
    expect(header).toStrictEqual({ apiKey: 3, apiVersion: 1, correlationId: 7, clientId: null });
    expect(body.topics).toBeNull();
    // Fields that v1 does not carry decode to their defaults.
    expect(body.allowAutoTopicCreation).toBe(true);
    expect(join(encodeRequestFrame(Metadata, 1, 7, null, body))).toStrictEqual(frame);
  });

  it('Metadata v0 cannot say null: a null topic list is written as the empty array (all topics in v0)', () => {
    const allTopics = decodeRequestFrame(Metadata, withoutSize(hex('0000000e 0003 0001 00000001 ffff ffffffff'))).body;
    expect(allTopics.topics).toBeNull();
    expect(join(encodeRequestFrame(Metadata, 0, 1, null, allTopics))).toStrictEqual(hex('0000000e 0003 0000 00000001 ffff 00000000'));
  });

  it('Metadata v9 (flexible) with two topics, auto-create off', () => {
    const frame = hex(
      [
        '00000018', // size 24
        '0003 0009 00000005',
        '0001' + ascii('c'), // client id "c"
        '00', // header tags
        '03', // topics: compact array of 2
        '02' + ascii('a') + '00', // name "a", struct tags
        '03' + ascii('bb') + '00', // name "bb", struct tags
        '00', // allow_auto_topic_creation false
        '00', // include_cluster_authorized_operations
        '01', // include_topic_authorized_operations
        '00', // body tags
      ].join(''),
    );
    const { body } = decodeRequestFrame(Metadata, withoutSize(frame));
    expect(body.topics).toStrictEqual([
      { topicId: Buffer.alloc(16), name: 'a' },
      { topicId: Buffer.alloc(16), name: 'bb' },
    ]);
    expect(body.allowAutoTopicCreation).toBe(false);
    expect(body.includeTopicAuthorizedOperations).toBe(true);
    expect(join(encodeRequestFrame(Metadata, 9, 5, 'c', body))).toStrictEqual(frame);
  });

  it('skips unknown tagged fields in the request header and body', () => {
    // Heartbeat v4 with a tag (id 7, 2 bytes) in the header and one in the body.
    const frame = hex(
      [
        '00000000', // size patched below
        '000c 0004 00000009 ffff',
        '01 07 02 abcd', // header tags: 1 tag
        '02' + ascii('g'), // group_id
        '00000003', // generation_id
        '02' + ascii('m'), // member_id
        '00', // group_instance_id null
        '01 00 01 ff', // body tags: tag 0 with 1 byte
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeRequestFrame(Heartbeat, withoutSize(frame));
    expect(body).toStrictEqual({ groupId: 'g', generationId: 3, memberId: 'm', groupInstanceId: null });
  });

  it('ListOffsets v0 carries max_num_offsets; v1 does not', () => {
    const v0 = hex(
      [
        '00000000',
        '0002 0000 00000001 ffff',
        'ffffffff', // replica_id -1
        '00000001 0001' + ascii('t'), // one topic "t"
        '00000001 00000000', // one partition, index 0
        'fffffffffffffffe', // timestamp -2 (earliest)
        '00000001', // max_num_offsets 1
      ].join(''),
    );
    v0.writeInt32BE(v0.length - 4, 0);
    const { body } = decodeRequestFrame(ListOffsets, withoutSize(v0));
    expect(body.topics[0]!.partitions[0]).toStrictEqual({ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2, maxNumOffsets: 1 });
    expect(join(encodeRequestFrame(ListOffsets, 0, 1, null, body))).toStrictEqual(v0);
    // At v1 the same body loses max_num_offsets (4 bytes) and gains nothing else.
    expect(join(encodeRequestFrame(ListOffsets, 1, 1, null, body)).length).toBe(v0.length - 4);
  });

  it('Produce v3 with one batch: transactional id, acks, timeout, records as bytes', () => {
    const batch = hex('00'.repeat(61));
    const frame = hex(
      [
        '00000000',
        '0000 0003 0000000b 0001' + ascii('p'),
        'ffff', // transactional_id null
        'ffff', // acks -1
        '00007530', // timeout_ms 30000
        '00000001 0001' + ascii('t'), // one topic
        '00000001 00000002', // one partition: 2
        '0000003d', // records: 61 bytes
        batch.toString('hex'),
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeRequestFrame(Produce, withoutSize(frame));
    expect(body.acks).toBe(-1);
    expect(body.transactionalId).toBeNull();
    expect(body.topicData[0]!.partitionData[0]!.index).toBe(2);
    expect(body.topicData[0]!.partitionData[0]!.records).toStrictEqual(batch);
    expect(join(encodeRequestFrame(Produce, 3, 11, 'p', body))).toStrictEqual(frame);
  });

  it('Fetch v11 (librdkafka, kcat): replica -1, read_committed, rack id', () => {
    const frame = hex(
      [
        '00000000',
        '0001 000b 00000003 0004' + ascii('kcat'),
        'ffffffff', // replica_id
        '000001f4', // max_wait_ms 500
        '00000001', // min_bytes 1
        '03200000', // max_bytes 52428800
        '01', // isolation_level read_committed
        '00000000', // session_id 0
        'ffffffff', // session_epoch -1
        '00000001 0001' + ascii('t'),
        '00000001', // one partition
        '00000000', // partition 0
        'ffffffff', // current_leader_epoch -1
        '0000000000000005', // fetch_offset 5
        'ffffffffffffffff', // log_start_offset -1
        '00100000', // partition_max_bytes 1 MiB
        '00000000', // forgotten topics: none
        '0000', // rack_id ""
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeRequestFrame(Fetch, withoutSize(frame));
    expect(body.isolationLevel).toBe(1);
    expect(body.topics[0]!.partitions[0]).toStrictEqual({
      partition: 0,
      currentLeaderEpoch: -1,
      fetchOffset: 5,
      lastFetchedEpoch: -1,
      logStartOffset: -1,
      partitionMaxBytes: 1048576,
    });
    expect(join(encodeRequestFrame(Fetch, 11, 3, 'kcat', body))).toStrictEqual(frame);
  });

  it('OffsetFetch v8: the groups array, with null topics meaning all', () => {
    const frame = hex(
      [
        '00000000',
        '0009 0008 00000004 ffff 00',
        '02', // groups: 1
        '03' + ascii('g1'),
        '00', // topics null
        '00', // group struct tags
        '00', // require_stable false
        '00', // body tags
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeRequestFrame(OffsetFetch, withoutSize(frame));
    expect(body.groups).toStrictEqual([{ groupId: 'g1', topics: null }]);
    expect(body.groupId).toBe('');
    expect(join(encodeRequestFrame(OffsetFetch, 8, 4, null, body))).toStrictEqual(frame);
  });

  it('FindCoordinator v4: coordinator keys instead of one key', () => {
    const frame = hex('00000000 000a 0004 00000001 ffff 00 00 03 02' + ascii('a') + '02' + ascii('b') + '00');
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeRequestFrame(FindCoordinator, withoutSize(frame));
    expect(body).toStrictEqual({ key: '', keyType: 0, coordinatorKeys: ['a', 'b'] });
    expect(join(encodeRequestFrame(FindCoordinator, 4, 1, null, body))).toStrictEqual(frame);
  });

  it('JoinGroup v5: group instance id and protocol metadata bytes', () => {
    const frame = hex(
      [
        '00000000',
        '000b 0005 00000002 ffff',
        '0001' + ascii('g'),
        '00002710', // session_timeout_ms 10000
        '0000ea60', // rebalance_timeout_ms 60000
        '0000', // member_id ""
        'ffff', // group_instance_id null
        '0008' + ascii('consumer'),
        '00000001',
        '0005' + ascii('range'),
        '00000002 abcd', // metadata: 2 bytes
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeRequestFrame(JoinGroup, withoutSize(frame));
    expect(body.protocols).toStrictEqual([{ name: 'range', metadata: hex('abcd') }]);
    expect(body.rebalanceTimeoutMs).toBe(60000);
    expect(join(encodeRequestFrame(JoinGroup, 5, 2, null, body))).toStrictEqual(frame);
  });
});

describe('response frames', () => {
  it('ApiVersions v3: response header v0 (no tag section) before a flexible body', () => {
    const frame = hex(
      [
        '00000000',
        '00000001', // correlation id, then straight into the body: no header tags
        '0000', // error_code
        '03', // api_keys: compact array of 2
        '0000 0000 0009 00', // Produce 0-9, entry tags
        '0012 0000 0003 00', // ApiVersions 0-3, entry tags
        '00000000', // throttle_time_ms
        '00', // body tags
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { correlationId, body } = decodeResponseFrame(ApiVersions, 3, withoutSize(frame));
    expect(correlationId).toBe(1);
    expect(body).toStrictEqual({
      errorCode: 0,
      apiKeys: [
        { apiKey: 0, minVersion: 0, maxVersion: 9 },
        { apiKey: 18, minVersion: 0, maxVersion: 3 },
      ],
      throttleTimeMs: 0,
    });
    expect(join(encodeResponseFrame(ApiVersions, 3, 1, body))).toStrictEqual(frame);
  });

  it('ApiVersions v0 answering UNSUPPORTED_VERSION with the entry for key 18', () => {
    // What a broker sends a client that asked for a version above 3: a v0 body.
    const frame = hex('00000010 00000009 0023 00000001 0012 0000 0003');
    const { correlationId, body } = decodeResponseFrame(ApiVersions, 0, withoutSize(frame));
    expect(correlationId).toBe(9);
    expect(body).toStrictEqual({ errorCode: 35, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }], throttleTimeMs: 0 });
    expect(join(encodeResponseFrame(ApiVersions, 0, 9, body))).toStrictEqual(frame);
  });

  it('Heartbeat v4: response header v1 carries a tag section after the correlation id', () => {
    const frame = hex(
      [
        '0000000c',
        '0000002a', // correlation id 42
        '00', // response header tags
        '00000000', // throttle_time_ms
        '001b', // error_code 27 REBALANCE_IN_PROGRESS
        '00', // body tags
      ].join(''),
    );
    const { correlationId, body } = decodeResponseFrame(Heartbeat, 4, withoutSize(frame));
    expect(correlationId).toBe(42);
    expect(body).toStrictEqual({ throttleTimeMs: 0, errorCode: 27 });
    expect(join(encodeResponseFrame(Heartbeat, 4, 42, body))).toStrictEqual(frame);
  });

  it('Heartbeat v0: response header v0 and no throttle time', () => {
    const frame = hex('00000006 0000002a 0019');
    const { body } = decodeResponseFrame(Heartbeat, 0, withoutSize(frame));
    expect(body).toStrictEqual({ throttleTimeMs: 0, errorCode: 25 });
    expect(join(encodeResponseFrame(Heartbeat, 0, 42, body))).toStrictEqual(frame);
  });

  it('Metadata v1: brokers with a null rack, controller id, internal flag', () => {
    const frame = hex(
      [
        '00000000',
        '00000001',
        '00000001', // one broker
        '00000001 0009' + ascii('localhost') + '00002384 ffff', // node 1, localhost:9092, rack null
        '00000001', // controller_id 1
        '00000001', // one topic
        '0000 0001' + ascii('t') + '00', // error 0, name "t", not internal
        '00000001', // one partition
        '0000 00000000 00000001', // error 0, index 0, leader 1
        '00000001 00000001', // replicas [1]
        '00000001 00000001', // isr [1]
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeResponseFrame(Metadata, 1, withoutSize(frame));
    expect(body.brokers).toStrictEqual([{ nodeId: 1, host: 'localhost', port: 9092, rack: null }]);
    expect(body.controllerId).toBe(1);
    expect(body.clusterId).toBeNull();
    expect(body.topics[0]!.partitions[0]!.leaderEpoch).toBe(-1);
    expect(join(encodeResponseFrame(Metadata, 1, 1, body))).toStrictEqual(frame);
  });

  it('Fetch v4: aborted transactions null, and absent before v4 decodes to null', () => {
    const frame = hex(
      [
        '00000000',
        '00000003',
        '00000000', // throttle
        '00000001 0001' + ascii('t'),
        '00000001',
        '00000000 0000', // partition 0, no error
        '000000000000000a', // high watermark 10
        '000000000000000a', // last stable offset 10
        'ffffffff', // aborted_transactions null
        '00000000', // records: empty, not null
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeResponseFrame(Fetch, 4, withoutSize(frame));
    const p = body.responses[0]!.partitions[0]!;
    expect(p.abortedTransactions).toBeNull();
    expect(p.records).toStrictEqual(Buffer.alloc(0));
    expect(join(encodeResponseFrame(Fetch, 4, 3, body))).toStrictEqual(frame);
    const v3 = decodeResponseFrame(Fetch, 3, withoutSize(join(encodeResponseFrame(Fetch, 3, 3, body))));
    expect(v3.body.responses[0]!.partitions[0]!.abortedTransactions).toBeNull();
  });

  it('ListOffsets v0: the old-style list of offsets', () => {
    const frame = hex(
      [
        '00000000',
        '00000001',
        '00000001 0001' + ascii('t'),
        '00000001 00000000 0000', // partition 0, no error
        '00000001 0000000000000007', // old_style_offsets [7]
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeResponseFrame(ListOffsets, 0, withoutSize(frame));
    expect(body.topics[0]!.partitions[0]).toStrictEqual({
      partitionIndex: 0,
      errorCode: 0,
      oldStyleOffsets: [7],
      timestamp: -1,
      offset: -1,
      leaderEpoch: -1,
    });
    expect(join(encodeResponseFrame(ListOffsets, 0, 1, body))).toStrictEqual(frame);
  });

  it('SyncGroup v4: flexible response header and a compact assignment', () => {
    const frame = hex('00000010 00000005 00 00000000 0000 04 000102 00');
    const { body } = decodeResponseFrame(SyncGroup, 4, withoutSize(frame));
    expect(body).toStrictEqual({ throttleTimeMs: 0, errorCode: 0, assignment: hex('000102') });
    expect(join(encodeResponseFrame(SyncGroup, 4, 5, body))).toStrictEqual(frame);
  });

  it('CreateTopics v5: skips the tagged topic_config_error_code', () => {
    const frame = hex(
      [
        '00000000',
        '00000001 00', // header v1
        '00000000', // throttle
        '02', // one topic
        '02' + ascii('t'),
        '0000', // error_code
        '00', // error_message null
        '00000003', // num_partitions 3
        '0001', // replication_factor 1
        '00', // configs null
        '01 00 02 0028', // topic tags: topic_config_error_code (tag 0) = 40
        '00', // body tags
      ].join(''),
    );
    frame.writeInt32BE(frame.length - 4, 0);
    const { body } = decodeResponseFrame(CreateTopics, 5, withoutSize(frame));
    expect(body.topics[0]).toStrictEqual({
      name: 't',
      topicId: Buffer.alloc(16),
      errorCode: 0,
      errorMessage: null,
      numPartitions: 3,
      replicationFactor: 1,
      configs: null,
    });
  });

  it('DeleteTopics v5: a null name is written as the empty string (null only from v6)', () => {
    const body = { throttleTimeMs: 0, responses: [{ name: null, topicId: Buffer.alloc(16), errorCode: 3, errorMessage: null }] };
    expect(join(encodeResponseFrame(DeleteTopics, 5, 1, body))).toStrictEqual(hex('00000010 00000001 00 00000000 02 01 0003 00 00 00'));
    expect(join(encodeResponseFrame(DeleteTopics, 6, 1, body))).toStrictEqual(
      hex('00000020 00000001 00 00000000 02 00' + '00'.repeat(16) + '0003 00 00 00'),
    );
  });
});
