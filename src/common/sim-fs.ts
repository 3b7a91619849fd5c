/**
 * SimulatedFileSystem: an in-memory FileSystem for deterministic crash tests.
 *
 * Faults it models:
 *  - a crash (`crash()`): every byte not made durable by `datasync` is lost, and every
 *    create, rename or unlink not made durable by `syncDir` of its directory is undone;
 *    with a random source, a crash instead keeps a random prefix of each file's unsynced
 *    appended bytes (a torn write), which is what a real disk may leave behind;
 *  - a failing operation (`failNext('write' | 'datasync', …)`): the next such call
 *    rejects with EIO (and a failed write writes nothing);
 *  - a full disk (`capacityBytes`): a write that would grow the total size past it
 *    rejects with ENOSPC and writes nothing.
 * Handles opened before a crash are dead afterwards: every call on them rejects.
 */
import * as path from 'node:path';
import type { FileHandle, FileSystem, OpenMode } from './fs.ts';

interface SimFile {
  /** What reads see now. */
  data: Buffer;
  /** What survives a crash. */
  durable: Buffer;
}

function fsError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  err.code = code;
  return err;
}

export class SimulatedFileSystem implements FileSystem {
  /** Files as the running process sees them, by path. */
  private files = new Map<string, SimFile>();
  /** The directory entries that survive a crash: path → the file they name. */
  private durableLinks = new Map<string, SimFile>();
  private dirs = new Set<string>(['/']);
  private generation = 0;
  private readonly failures: { op: 'write' | 'datasync'; match: (p: string) => boolean }[] = [];
  capacityBytes = Infinity;

  failNext(op: 'write' | 'datasync', pathPart = ''): void {
    this.failures.push({ op, match: (p) => p.includes(pathPart) });
  }

  private takeFailure(op: 'write' | 'datasync', p: string): boolean {
    const i = this.failures.findIndex((f) => f.op === op && f.match(p));
    if (i < 0) return false;
    this.failures.splice(i, 1);
    return true;
  }

  usedBytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.data.length;
    return n;
  }

  /** Simulates power loss. `random` (in [0,1)) selects torn prefixes of unsynced appends. */
  crash(random?: () => number): void {
    this.generation++;
    const survivors = new Map<string, SimFile>();
    for (const [p, file] of this.durableLinks) {
      let data = file.durable;
      const appended = file.data.length > data.length && file.data.subarray(0, data.length).equals(data);
      if (random && appended) {
        const extra = Math.floor(random() * (file.data.length - data.length + 1));
        data = file.data.subarray(0, data.length + extra);
      }
      const copy = Buffer.from(data);
      survivors.set(p, { data: copy, durable: copy });
    }
    this.files = survivors;
    this.durableLinks = new Map(survivors);
    this.failures.length = 0;
  }

  open(file: string, mode: OpenMode): Promise<FileHandle> {
    const p = path.resolve(file);
    let f = this.files.get(p);
    if (!f) {
      if (mode === 'read') return Promise.reject(fsError('ENOENT', `no such file ${p}`));
      if (!this.dirs.has(path.dirname(p))) return Promise.reject(fsError('ENOENT', `no directory for ${p}`));
      f = { data: Buffer.alloc(0), durable: Buffer.alloc(0) };
      this.files.set(p, f);
    }
    return Promise.resolve(new SimFileHandle(this, p, f, this.generation));
  }

  /** @internal used by handles */
  checkAlive(generation: number, p: string): void {
    if (generation !== this.generation) throw fsError('EBADF', `handle to ${p} died in a crash`);
  }
  /** @internal */
  beforeWrite(p: string, growth: number): void {
    if (this.takeFailure('write', p)) throw fsError('EIO', `injected write failure on ${p}`);
    if (growth > 0 && this.usedBytes() + growth > this.capacityBytes) throw fsError('ENOSPC', `disk full writing ${p}`);
  }
  /** @internal */
  beforeSync(p: string): void {
    if (this.takeFailure('datasync', p)) throw fsError('EIO', `injected fsync failure on ${p}`);
  }

  readdir(dir: string): Promise<string[]> {
    const d = path.resolve(dir);
    if (!this.dirs.has(d)) return Promise.reject(fsError('ENOENT', `no directory ${d}`));
    const names = [...this.files.keys()].filter((p) => path.dirname(p) === d).map((p) => path.basename(p));
    for (const sub of this.dirs) if (sub !== d && path.dirname(sub) === d) names.push(path.basename(sub));
    return Promise.resolve(names.sort());
  }
  mkdirp(dir: string): Promise<void> {
    // Directories are modelled as always durable: floe creates them once, at start-up.
    for (let d = path.resolve(dir); !this.dirs.has(d); d = path.dirname(d)) this.dirs.add(d);
    return Promise.resolve();
  }
  unlink(file: string): Promise<void> {
    const p = path.resolve(file);
    if (!this.files.delete(p)) return Promise.reject(fsError('ENOENT', `no such file ${p}`));
    return Promise.resolve();
  }
  rename(from: string, to: string): Promise<void> {
    const a = path.resolve(from);
    const f = this.files.get(a);
    if (!f) return Promise.reject(fsError('ENOENT', `no such file ${a}`));
    this.files.delete(a);
    this.files.set(path.resolve(to), f);
    return Promise.resolve();
  }
  exists(file: string): Promise<boolean> {
    const p = path.resolve(file);
    return Promise.resolve(this.files.has(p) || this.dirs.has(p));
  }
  syncDir(dir: string): Promise<void> {
    const d = path.resolve(dir);
    for (const p of [...this.durableLinks.keys()]) if (path.dirname(p) === d) this.durableLinks.delete(p);
    for (const [p, f] of this.files) if (path.dirname(p) === d) this.durableLinks.set(p, f);
    return Promise.resolve();
  }
  readFile(file: string): Promise<Buffer> {
    const f = this.files.get(path.resolve(file));
    if (!f) return Promise.reject(fsError('ENOENT', `no such file ${file}`));
    return Promise.resolve(Buffer.from(f.data));
  }
  async writeFileAtomic(file: string, data: Buffer): Promise<void> {
    const tmp = `${file}.tmp`;
    const h = await this.open(tmp, 'write');
    await h.truncate(0);
    await h.write(data, 0);
    await h.datasync();
    await h.close();
    await this.rename(tmp, file);
    await this.syncDir(path.dirname(path.resolve(file)));
  }
}

/** Runs `fn` and turns a throw into a rejection, as a real async filesystem call would. */
function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

class SimFileHandle implements FileHandle {
  constructor(
    private readonly fs: SimulatedFileSystem,
    readonly path: string,
    private readonly file: SimFile,
    private readonly generation: number,
  ) {}

  write(data: Buffer | readonly Buffer[], position: number): Promise<number> {
    return attempt(() => {
      this.fs.checkAlive(this.generation, this.path);
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data);
      const end = position + bytes.length;
      this.fs.beforeWrite(this.path, Math.max(0, end - this.file.data.length));
      if (end > this.file.data.length) {
        const grown = Buffer.alloc(end);
        this.file.data.copy(grown);
        this.file.data = grown;
      } else {
        // Never mutate a buffer that `durable` may share.
        this.file.data = Buffer.from(this.file.data);
      }
      bytes.copy(this.file.data, position);
      return bytes.length;
    });
  }
  read(into: Buffer, offset: number, length: number, position: number): Promise<number> {
    return attempt(() => {
      this.fs.checkAlive(this.generation, this.path);
      const n = Math.max(0, Math.min(length, this.file.data.length - position));
      this.file.data.copy(into, offset, position, position + n);
      return n;
    });
  }
  datasync(): Promise<void> {
    return attempt(() => {
      this.fs.checkAlive(this.generation, this.path);
      this.fs.beforeSync(this.path);
      this.file.durable = this.file.data;
    });
  }
  truncate(length: number): Promise<void> {
    return attempt(() => {
      this.fs.checkAlive(this.generation, this.path);
      const next = Buffer.alloc(length);
      this.file.data.copy(next, 0, 0, Math.min(length, this.file.data.length));
      this.file.data = next;
    });
  }
  size(): Promise<number> {
    return attempt(() => {
      this.fs.checkAlive(this.generation, this.path);
      return this.file.data.length;
    });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
