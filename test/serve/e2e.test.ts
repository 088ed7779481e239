/** End-to-end scenario over the embedded SQLite store. */
import { describe } from 'vitest';
import { join } from 'node:path';
import { endToEndSuite } from './e2e-suite.ts';
import { tempDir } from './fixtures.ts';

describe('serve end to end (SQLite)', () => {
  endToEndSuite(async () => `sqlite:${join(tempDir(), 'reclab.db')}`);
});
