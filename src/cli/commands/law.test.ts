import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/reclab.js', import.meta.url));

function reclab(args: string[]): string {
  return execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

describe('reclab law llm', () => {
  it('prints the published MMLU for Llama 3 8B as JSON', () => {
    const out = JSON.parse(reclab(['law', 'llm', '--layers', '32', '--hidden', '4096', '--ffn', '14336', '--tokens', '15', '--params', '8.03', '--json']));
    expect(out.mmlu).toBe(65.45);
    expect(out.inputs.gamma).toBe(1);
  });

  it('accepts --gamma and rejects a non-number with the flag name', () => {
    const out = JSON.parse(reclab(['law', 'llm', '--layers', '32', '--hidden', '4096', '--ffn', '11008', '--tokens', '2', '--params', '6.7', '--gamma', '1', '--json']));
    expect(out.mmlu).toBe(58.03);
    expect(() => execFileSync(process.execPath, [BIN, 'law', 'llm', '--layers', 'x', '--hidden', '1', '--ffn', '1', '--tokens', '1', '--params', '1'], { encoding: 'utf8', stdio: 'pipe' })).toThrow(/--layers/);
  });
});
