/**
 * Runs kcat (librdkafka 2.0.2) as a real client: produce lines from stdin, consume with a
 * format string, list metadata. Errors come back as rejected promises with kcat's stderr.
 */
import { spawn } from 'node:child_process';

export interface KcatResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export function kcat(args: string[], input?: string, timeoutMs = 60_000): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kcat ${args.join(' ')} timed out after ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** kcat that must succeed (exit 0). */
export async function kcatOk(args: string[], input?: string, timeoutMs?: number): Promise<string> {
  const r = await kcat(args, input, timeoutMs);
  if (r.code !== 0) throw new Error(`kcat ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
