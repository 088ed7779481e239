#!/usr/bin/env node
// The `reclab` command. Runs the TypeScript sources through tsx so the command is never
// out of date with the code; `npm run build` produces dist/ for library consumers.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
