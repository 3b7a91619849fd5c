/**
 * The filesystem seam used by everything that persists (local log segments, WAL
 * segments, metadata files). Two implementations: NodeFileSystem (real files, real
 * fsync) and SimulatedFileSystem (sim-fs.ts), which keeps unsynced writes apart so that
 * a simulated crash drops them, and which can fail the next write or sync.
 *
 * Contract: `write` places bytes at a position (a list is written in order, as one
 * writev); nothing written is durable until `datasync` on that handle resolves. Creating,
 * renaming and deleting files is durable once `syncDir` on the parent resolves.
 */
import * as fsp from 'node:fs/promises';
import { constants } from 'node:fs';
import * as path from 'node:path';

export interface FileHandle {
  readonly path: string;
  /** Writes `data` at `position`; resolves with the bytes written (all of them). */
  write(data: Buffer | readonly Buffer[], position: number): Promise<number>;
  /** Reads up to `length` bytes at `position` into `into` at `offset`; resolves with bytes read. */
  read(into: Buffer, offset: number, length: number, position: number): Promise<number>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export type OpenMode = 'read' | 'write';

export interface FileSystem {
  /** 'read' opens an existing file; 'write' opens for reading and writing, creating it if absent. */
  open(file: string, mode: OpenMode): Promise<FileHandle>;
  readdir(dir: string): Promise<string[]>;
  mkdirp(dir: string): Promise<void>;
  unlink(file: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  exists(file: string): Promise<boolean>;
  syncDir(dir: string): Promise<void>;
  readFile(file: string): Promise<Buffer>;
  /** Replaces `file` atomically and durably: temp file, fsync, rename, fsync the directory. */
  writeFileAtomic(file: string, data: Buffer): Promise<void>;
}

class NodeFileHandle implements FileHandle {
  constructor(
    readonly path: string,
    private readonly fh: fsp.FileHandle,
  ) {}
  async write(data: Buffer | readonly Buffer[], position: number): Promise<number> {
    const list = Buffer.isBuffer(data) ? [data] : data;
    let written = 0;
    let pending = list.filter((b) => b.length > 0);
    // writev may write less than asked (rare, large writes): continue with the rest.
    while (pending.length > 0) {
      const { bytesWritten } = await this.fh.writev(pending, position + written);
      written += bytesWritten;
      let skip = bytesWritten;
      const rest: Buffer[] = [];
      for (const b of pending) {
        if (skip >= b.length) skip -= b.length;
        else {
          rest.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
      }
      pending = rest;
    }
    return written;
  }
  async read(into: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.fh.read(into, offset, length, position);
    return bytesRead;
  }
  datasync(): Promise<void> {
    return this.fh.datasync();
  }
  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }
  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

export class NodeFileSystem implements FileSystem {
  async open(file: string, mode: OpenMode): Promise<FileHandle> {
    const flags = mode === 'read' ? constants.O_RDONLY : constants.O_RDWR | constants.O_CREAT;
    return new NodeFileHandle(file, await fsp.open(file, flags, 0o644));
  }
  readdir(dir: string): Promise<string[]> {
    return fsp.readdir(dir);
  }
  async mkdirp(dir: string): Promise<void> {
    await fsp.mkdir(dir, { recursive: true });
  }
  unlink(file: string): Promise<void> {
    return fsp.unlink(file);
  }
  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  }
  async exists(file: string): Promise<boolean> {
    try {
      await fsp.access(file);
      return true;
    } catch {
      return false;
    }
  }
  async syncDir(dir: string): Promise<void> {
    const fh = await fsp.open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  readFile(file: string): Promise<Buffer> {
    return fsp.readFile(file);
  }
  async writeFileAtomic(file: string, data: Buffer): Promise<void> {
    const tmp = `${file}.tmp-${process.pid}`;
    const fh = await fsp.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
    await this.syncDir(path.dirname(file));
  }
}

export const nodeFileSystem: FileSystem = new NodeFileSystem();
