#!/usr/bin/env node
// The `reclab` command. In a clone of the repository it runs the TypeScript sources through tsx,
// so the command is never out of date with the code you are editing. Installed as a package
// (under node_modules, where tsx — a devDependency — is absent) it runs the compiled dist/,
// which `prepare` builds on `npm pack` and on installs from git.
/* global URL */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const installed = root.split(/[\\/]/).includes('node_modules');
const sources = new URL('../src/cli/main.ts', import.meta.url);

let main;
if (!installed && existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
