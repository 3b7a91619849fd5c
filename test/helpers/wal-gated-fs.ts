/**
 * FileSystem decorators for WAL tests. GatedFileSystem counts fdatasync calls and can hold
 * them until released (or delay them), so a test can look at the world while a write is on
 * its way to the disk but not yet durable, and crash the SimulatedFileSystem underneath at
 * exactly that moment. IncarnationFs stands for one life of a process: after kill() it
 * makes no more calls, as a killed process would not.
 */
import type { FileHandle, FileSystem, OpenMode } from '../../src/common/fs.ts';

export class GatedFileSystem implements FileSystem {
  datasyncs = 0;
  /**
   * When set, every datasync first waits this many turns of the event loop: nodes given
   * different random delays acknowledge the same entry at different moments, which is
   * where a crash exposes a writer that reports too early.
   */
  delayTurns: (() => number) | null = null;
  private held = false;
  private waiting: (() => void)[] = [];
  private syncListeners: (() => void)[] = [];

  constructor(readonly inner: FileSystem) {}

  /** Every later datasync waits until release(). */
  hold(): void {
    this.held = true;
  }

  /** Lets every held and future datasync proceed. */
  release(): void {
    this.held = false;
    for (const go of this.waiting.splice(0)) go();
  }

  heldSyncs(): number {
    return this.waiting.length;
  }

  /** Resolves when a datasync is waiting at the gate. */
  syncArrived(): Promise<void> {
    if (this.waiting.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.syncListeners.push(resolve));
  }

  /** @internal */
  async gate(): Promise<void> {
    this.datasyncs++;
    const turns = this.delayTurns?.() ?? 0;
    for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    if (!this.held) return;
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      for (const l of this.syncListeners.splice(0)) l();
    });
  }

  async open(file: string, mode: OpenMode): Promise<FileHandle> {
    return new GatedHandle(this, await this.inner.open(file, mode));
  }
  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir);
  }
  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir);
  }
  unlink(file: string): Promise<void> {
    return this.inner.unlink(file);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  exists(file: string): Promise<boolean> {
    return this.inner.exists(file);
  }
  syncDir(dir: string): Promise<void> {
    return this.inner.syncDir(dir);
  }
  readFile(file: string): Promise<Buffer> {
    return this.inner.readFile(file);
  }
  writeFileAtomic(file: string, data: Buffer): Promise<void> {
    return this.inner.writeFileAtomic(file, data);
  }
}

class GatedHandle implements FileHandle {
  constructor(
    private readonly fs: GatedFileSystem,
    private readonly inner: FileHandle,
  ) {}
  get path(): string {
    return this.inner.path;
  }
  write(data: Buffer | readonly Buffer[], position: number): Promise<number> {
    return this.inner.write(data, position);
  }
  read(into: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.inner.read(into, offset, length, position);
  }
  async datasync(): Promise<void> {
    await this.fs.gate();
    return this.inner.datasync();
  }
  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The filesystem as one incarnation of a node sees it. A killed process makes no further
 * calls; an aborted in-process store still might (a commit that was waiting), so after
 * kill() every new call fails instead of touching the files of the next incarnation.
 */
export class IncarnationFs implements FileSystem {
  private dead = false;
  constructor(private readonly inner: FileSystem) {}
  kill(): void {
    this.dead = true;
  }
  private check(): void {
    if (this.dead) throw Object.assign(new Error('EIO: this incarnation of the node was killed'), { code: 'EIO' });
  }
  async open(file: string, mode: OpenMode): Promise<FileHandle> {
    this.check();
    return this.inner.open(file, mode);
  }
  async readdir(dir: string): Promise<string[]> {
    this.check();
    return this.inner.readdir(dir);
  }
  async mkdirp(dir: string): Promise<void> {
    this.check();
    return this.inner.mkdirp(dir);
  }
  async unlink(file: string): Promise<void> {
    this.check();
    return this.inner.unlink(file);
  }
  async rename(from: string, to: string): Promise<void> {
    this.check();
    return this.inner.rename(from, to);
  }
  async exists(file: string): Promise<boolean> {
    this.check();
    return this.inner.exists(file);
  }
  async syncDir(dir: string): Promise<void> {
    this.check();
    return this.inner.syncDir(dir);
  }
  async readFile(file: string): Promise<Buffer> {
    this.check();
    return this.inner.readFile(file);
  }
  async writeFileAtomic(file: string, data: Buffer): Promise<void> {
    this.check();
    return this.inner.writeFileAtomic(file, data);
  }
}
