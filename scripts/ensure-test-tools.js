#!/usr/bin/env node
// Installs what the integration tests need beyond npm packages: kcat (librdkafka's CLI)
// from Debian's packages. Runs before `npm test`; does nothing when kcat is present.
import { spawnSync } from 'node:child_process';

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

if (have('kcat')) process.exit(0);

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const prefix = asRoot ? [] : have('sudo') ? ['sudo', '-n'] : null;
if (prefix === null || !have('apt-get')) {
  console.error('floe tests need kcat (librdkafka). Install it with: apt-get install -y kcat');
  process.exit(1);
}
console.error('installing kcat from Debian packages (once) ...');
const run = (args) => {
  const [cmd, ...rest] = [...prefix, ...args];
  const r = spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
};
if (!run(['apt-get', 'install', '-y', '-q', 'kcat'])) {
  if (!run(['apt-get', 'update', '-q']) || !run(['apt-get', 'install', '-y', '-q', 'kcat'])) {
    console.error('could not install kcat; install it with: apt-get install -y kcat');
    process.exit(1);
  }
}
if (!have('kcat')) {
  console.error('kcat is still missing after installing it');
  process.exit(1);
}
