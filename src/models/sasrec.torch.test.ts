/**
 * Checkpoint compatibility with PyTorch: a saved SASRec's weights.safetensors is loaded with
 * `load_state_dict(strict=True)` into the PyTorch module of ../shared/peers/sasrec_torch.py
 * (same classes and parameter names, re-declared below), and PyTorch's scores for a full-length
 * sequence (no padding, so the port's padding quirk cannot matter) must equal ours.
 * Skips when Debian's python3 with torch is not installed (../shared/peers/setup.sh).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SASRec } from './sasrec.ts';
import { fromSequences } from '../data/interactions.ts';

const PY = '/usr/bin/python3';
const hasTorch = existsSync(PY) && spawnSync(PY, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
if (!hasTorch) console.warn('[skip] /usr/bin/python3 with torch not found (run ../shared/peers/setup.sh): PyTorch checkpoint test skipped');

const SCRIPT = String.raw`
import json, math, sys
import numpy as np, torch
path, seq, d, blocks, heads, maxlen, n_items = sys.argv[1], json.loads(sys.argv[2]), *map(int, sys.argv[3:8])
raw = open(path, 'rb').read()
hlen = int.from_bytes(raw[:8], 'little')
header = json.loads(raw[8:8 + hlen])
state = {}
for name, e in header.items():
    if name == '__metadata__': continue
    a, b = e['data_offsets']
    state[name] = torch.from_numpy(np.frombuffer(raw[8 + hlen + a:8 + hlen + b], dtype=np.float32).reshape(e['shape']).copy())
# the peer's modules (../shared/peers/sasrec_torch.py), verbatim structure and names
class Block(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.ln1 = torch.nn.LayerNorm(d, eps=1e-8)
        s.att = torch.nn.MultiheadAttention(d, heads, dropout=0.2, batch_first=True)
        s.ln2 = torch.nn.LayerNorm(d, eps=1e-8)
        s.ff = torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.Dropout(0.2), torch.nn.ReLU(), torch.nn.Linear(d, d), torch.nn.Dropout(0.2))
    def forward(s, x, mask, pad):
        q = s.ln1(x)
        h, _ = s.att(q, x, x, attn_mask=mask, need_weights=False)
        x = q + h
        x = s.ln2(x)
        x = x + s.ff(x)
        return x * pad
class SASRec(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.item = torch.nn.Embedding(n_items + 1, d, padding_idx=0)
        s.pos = torch.nn.Embedding(maxlen, d)
        s.drop = torch.nn.Dropout(0.2)
        s.blocks = torch.nn.ModuleList(Block() for _ in range(blocks))
        s.ln = torch.nn.LayerNorm(d, eps=1e-8)
    def hidden(s, seq):
        pad = (seq != 0).unsqueeze(-1).float()
        x = s.item(seq) * math.sqrt(d) + s.pos.weight.unsqueeze(0)
        x = s.drop(x) * pad
        mask = ~torch.tril(torch.ones(maxlen, maxlen, dtype=torch.bool))
        for b in s.blocks:
            x = b(x, mask, pad)
        return s.ln(x)
m = SASRec()
m.load_state_dict(state, strict=True)
m.eval()
with torch.no_grad():
    F = m.hidden(torch.tensor([[i + 1 for i in seq]]))[0, -1]
    scores = (m.item.weight[1:] @ F).tolist()
print(json.dumps(scores))
`;

describe.skipIf(!hasTorch)('SASRec checkpoint in PyTorch', () => {
  it('loads with load_state_dict(strict=True) and scores a full-length sequence exactly like us', async () => {
    const n = 30;
    const seqs = Array.from({ length: 40 }, (_, u) => Array.from({ length: 12 }, (_, j) => (u * 7 + j * 3) % n));
    const model = new SASRec({ hidden: 16, blocks: 2, heads: 2, maxLen: 8, epochs: 3, batchSize: 16, threads: 1 });
    await model.fit(fromSequences(seqs, n), { seed: 4, progress: false });
    const seq = Int32Array.from([5, 9, 1, 28, 3, 3, 17, 0]); // exactly maxLen items: no padding anywhere
    const ours = new Float32Array(n);
    model.scoreSequence(seq, ours);
    const dir = mkdtempSync(join(tmpdir(), 'sasrec-torch-'));
    try {
      await model.save(dir);
      const script = join(dir, 'load.py');
      writeFileSync(script, SCRIPT);
      const r = spawnSync(PY, [script, join(dir, 'weights.safetensors'), JSON.stringify(Array.from(seq)), '16', '2', '2', '8', String(n)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const theirs = JSON.parse(r.stdout) as number[];
      expect(theirs.length).toBe(n);
      const scale = Math.max(...theirs.map(Math.abs));
      for (let i = 0; i < n; i++) expect(Math.abs(ours[i] - theirs[i]) / scale).toBeLessThan(1e-4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
