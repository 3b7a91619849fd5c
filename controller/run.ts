/**
 * Runs the controller without the `floe` CLI: `node --import tsx controller/run.ts --id 1
 * --data-dir D --port 0` (what the integration tests spawn). `floe controller` is the
 * same command.
 */
import { controllerCommand } from './main.ts';

controllerCommand()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`floe controller: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
