import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeZodError, parseConfig, schemaKeys } from './schema.ts';

const S = z
  .object({
    dim: z.number().int().positive().default(64).describe('factor dimension'),
    sampler: z.enum(['uniform', 'popularity']).default('uniform'),
    p: z.number().min(0).max(1).default(0.5),
    nested: z.object({ a: z.number().default(1) }).strict().default({ a: 1 }),
  })
  .strict();

describe('schema helpers', () => {
  it('parseConfig fills defaults and names the key and the reason', () => {
    expect(parseConfig('m', S, {})).toEqual({ dim: 64, sampler: 'uniform', p: 0.5, nested: { a: 1 } });
    expect(parseConfig('m', S, undefined).dim).toBe(64);
    expect(() => parseConfig('m', S, { dimm: 3 })).toThrow('m config: key "dimm": unknown key; known keys: dim, sampler, p, nested');
    expect(() => parseConfig('m', S, { nested: { b: 2 } })).toThrow('m config: key "nested.b": unknown key');
    expect(() => parseConfig('m', S, { dim: 0 })).toThrow(/^m config: key "dim": Too small/);
    expect(() => parseConfig('m', S, { dim: 1.5 })).toThrow(/^m config: key "dim": .*int/);
    expect(() => parseConfig('m', S, { sampler: 'hard' })).toThrow(/^m config: key "sampler": .*"uniform"\|"popularity"/);
    expect(() => parseConfig('m', S, { p: Infinity })).toThrow(/^m config: key "p": /);
  });

  it('schemaKeys reads types, defaults, ranges and descriptions', () => {
    const keys = schemaKeys(S);
    expect(keys.map((k) => [k.key, k.type, k.default, k.range])).toEqual([
      ['dim', 'integer', 64, '> 0'],
      ['sampler', 'uniform | popularity', 'uniform', ''],
      ['p', 'number', 0.5, '≥ 0, ≤ 1'],
      ['nested', 'object', { a: 1 }, ''],
    ]);
    expect(keys[0].description).toBe('factor dimension');
  });

  it('describeZodError lists issues with their paths', () => {
    const r = S.safeParse({ dim: -1, p: 2 });
    expect(r.success).toBe(false);
    expect(describeZodError(r.error!)).toMatch(/^dim: Too small.*; p: Too big/);
  });
});
