import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { PROMPTS_DIR, loadPrompt, parsePrompt, renderPrompt } from './prompts.ts';

const T = `---
name: demo
version: 2
description: a demo
---
## system
You are {{role}}.
## user
History:
{{history}}
Pick one of {{ n }} items.
`;

describe('prompt templates', () => {
  it('parses sections and placeholders and renders them', () => {
    const t = parsePrompt(T, 'demo.v2.md');
    expect(t.id).toBe('demo@2');
    expect(t.variables).toEqual(['role', 'history', 'n']);
    expect(renderPrompt(t, { role: 'a judge', history: '1. A\n2. B', n: 3 })).toEqual([
      { role: 'system', content: 'You are a judge.' },
      { role: 'user', content: 'History:\n1. A\n2. B\nPick one of 3 items.' },
    ]);
    expect(() => renderPrompt(t, { role: 'x' })).toThrow(/prompt demo@2: no value for \{\{history\}\}, \{\{n\}\}/);
  });

  it('rejects malformed files with file and line', () => {
    expect(() => parsePrompt('no front matter', 'x.md')).toThrow(/x\.md:1:/);
    expect(() => parsePrompt('---\nname: x\nversion: 1\n---\nstray\n## user\nhi', 'x.md')).toThrow(/x\.md:5: text before/);
    expect(() => parsePrompt('---\nname: x\nversion: 0\n---\n## user\nhi', 'x.md')).toThrow(/version/);
  });

  it('every shipped template loads, and its file name matches its front matter', () => {
    const files = readdirSync(PROMPTS_DIR).filter((f) => f.endsWith('.md'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const [, name, v] = /^(.+)\.v(\d+)\.md$/.exec(f)!;
      expect(loadPrompt(name, Number(v)).id).toBe(`${name}@${v}`);
    }
    expect(() => loadPrompt('no-such-prompt')).toThrow(/not found/);
  });
});
