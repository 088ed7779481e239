/**
 * The local path really runs: node-llama-cpp loads the tiny real GGUF model from ../shared/models
 * from its prebuilt CPU binary and, with the schema turned into a grammar, returns schema-valid
 * JSON with real token counts. (The model writes children's stories; only the plumbing is tested.)
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SHARED } from '../../test/shared.ts';
import { LLMClient } from './client.ts';
import { LlamaCppProvider } from './providers/llamacpp.ts';

const MODEL = join(SHARED, 'models', 'stories260K.gguf');
const present = existsSync(MODEL);
if (!present) console.warn(`[skip] ${MODEL} not found: the local GGUF test is skipped`);

describe.skipIf(!present)('local GGUF through node-llama-cpp', () => {
  it('loads stories260K and returns JSON valid against the schema, with token accounting', async () => {
    const provider = new LlamaCppProvider({ modelPath: MODEL, contextSize: 1024, threads: 1 });
    const client = new LLMClient(provider);
    try {
      const info = await provider.info();
      expect(info.architecture).toBe('llama');
      expect(info.contextSize).toBeLessThanOrEqual(1024);
      const schema = z.object({ verdict: z.enum(['A', 'B', 'tie']), reason: z.string().max(80) });
      const r = await client.json({ messages: [{ role: 'system', content: 'You compare two lists.' }, { role: 'user', content: 'Which list is better, A or B?' }], maxTokens: 60, tag: 'gguf-smoke@1' }, schema, 'verdict');
      expect(['A', 'B', 'tie']).toContain(r.value.verdict);
      expect(r.repaired).toBe(false); // grammar-constrained: valid on the first try
      const t = client.ledger.total();
      expect(t.calls).toBe(1);
      expect(t.estimatedCalls).toBe(0);
      expect(t.promptTokens).toBeGreaterThan(10);
      expect(t.completionTokens).toBeGreaterThan(3);
      expect(t.completionTokens).toBeLessThanOrEqual(60);
      // Plain chat without a schema also works (history + sequence reuse).
      const plain = await client.chat({ messages: [{ role: 'user', content: 'Once upon a time' }], maxTokens: 12 });
      expect(plain.text.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  }, 120_000);
});
