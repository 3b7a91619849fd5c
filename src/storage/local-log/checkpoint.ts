/**
 * A one-number checkpoint file (log start offset, recovery point), replaced atomically
 * and durably with `writeFileAtomic`. The format is Kafka's in spirit, one partition per
 * file: a version line, then the offset.
 *
 *   0\n
 *   <offset>\n
 *
 * Writes of one checkpoint are serialized (two concurrent atomic writes of one file would
 * share its temp file) and a value equal to the one on disk is not written again.
 */
import type { FileSystem } from '../../common/fs.ts';

const VERSION = '0';

export function encodeCheckpoint(offset: number): Buffer {
  return Buffer.from(`${VERSION}\n${offset}\n`, 'utf8');
}

/** The offset in a checkpoint file, or null when the text is not a checkpoint. */
export function decodeCheckpoint(text: string): number | null {
  const m = /^0\n(\d{1,16})\n$/.exec(text);
  if (m === null) return null;
  const offset = Number(m[1]);
  return Number.isSafeInteger(offset) ? offset : null;
}

export type CheckpointRead = { kind: 'absent' } | { kind: 'invalid'; text: string } | { kind: 'ok'; offset: number };

export async function readCheckpoint(fs: FileSystem, file: string): Promise<CheckpointRead> {
  if (!(await fs.exists(file))) return { kind: 'absent' };
  const text = (await fs.readFile(file)).toString('utf8');
  const offset = decodeCheckpoint(text);
  return offset === null ? { kind: 'invalid', text: text.slice(0, 64) } : { kind: 'ok', offset };
}

export class Checkpoint {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly fs: FileSystem,
    readonly file: string,
    /** The value on disk, or null when unknown or absent. */
    private persisted: number | null,
  ) {}

  get value(): number | null {
    return this.persisted;
  }

  /** Durably replaces the checkpoint with `offset`; resolves once it is on disk. */
  write(offset: number): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.persisted === offset) return;
      await this.fs.writeFileAtomic(this.file, encodeCheckpoint(offset));
      this.persisted = offset;
    };
    const result = this.chain.then(run);
    // The chain continues past a failed write; the failure goes to this caller only.
    this.chain = result.catch(() => undefined);
    return result;
  }
}
