#!/usr/bin/env node
// floe's command line. The code base is TypeScript run through tsx's loader (no build
// step); every process the launcher starts goes through this same entry point.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
