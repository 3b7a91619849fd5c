/**
 * WAL node addresses as given on command lines: `host:port,host:port,…` (IPv6 hosts in
 * brackets). Shared by every process that talks to the WAL (brokers, the controller).
 */
import type { WalEndpoint } from './connection.ts';
import { WalInvalidArgumentError } from './errors.ts';
import { nodesMax } from './limits.ts';

export function parseWalEndpoints(spec: string): WalEndpoint[] {
  const nodes = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const m = /^(.+):(\d{1,5})$/.exec(s);
      const port = Number(m?.[2]);
      if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) throw new WalInvalidArgumentError(`WAL node ${JSON.stringify(s)} is not host:port`);
      return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
    });
  if (nodes.length === 0 || nodes.length > nodesMax) throw new WalInvalidArgumentError(`give 1 to ${nodesMax} WAL nodes, got ${nodes.length}`);
  if (new Set(nodes.map((n) => `${n.host}:${n.port}`)).size !== nodes.length) throw new WalInvalidArgumentError(`WAL nodes are listed twice in ${spec}`);
  return nodes;
}
