/** The embedded endpoint's process contract: ready line, clean exit on SIGTERM, refusal without the OpenSSL flag. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { removeDataDir, startObjectStoreServer } from '../../helpers/objectstore-server.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('objectstore/s3rver-main.ts', () => {
  it('prints one ready line with role, id, ports, pid and endpoint, and exits 0 on SIGTERM', async () => {
    const server = await startObjectStoreServer({ bucket: 'floe-main-test' });
    try {
      expect(server.readyLine).toEqual({
        event: 'ready',
        role: 'objectstore',
        id: 0,
        ports: { s3: server.port },
        pid: server.pid,
        endpoint: `http://127.0.0.1:${server.port}`,
        bucket: 'floe-main-test',
      });
      expect(server.port).toBeGreaterThan(0);
      expect(await server.stop()).toBe(0);
    } finally {
      await server.kill();
      removeDataDir(server.dataDir);
    }
  });

  it('refuses to start without --openssl-legacy-provider, saying why', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'objectstore/s3rver-main.ts', '--data-dir', path.join(repoRoot, 'node_modules', '.cache', 'unused')], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--openssl-legacy-provider/);
  });
});
