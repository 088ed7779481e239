#!/usr/bin/python3
"""NumPy (OpenBLAS) peer for `npm run bench -- eval`, case fullrank-ials-ml-1m: full-ranking
evaluation of given factors, the work ../shared/peers/fullrank_numpy.py does but on the factors
and exclusions reclab's bench wrote (so both sides rank exactly the same scores).

Input folder (written by bench/eval.ts): meta.json {users, items, dim}; U.f32 [users x dim];
V.f32 [items x dim]; hist_off.i32 [users + 1] and hist.i32 (each user's items to exclude);
test.i32 [users]. Prints one JSON line with the median seconds over --repeat runs and HR/NDCG.
"""
import argparse, json, os, statistics, time
import numpy as np

p = argparse.ArgumentParser()
p.add_argument('--dir', required=True)
p.add_argument('--repeat', type=int, default=5)
p.add_argument('--block', type=int, default=1024)
a = p.parse_args()
meta = json.load(open(os.path.join(a.dir, 'meta.json')))
n_users, n_items, dim = meta['users'], meta['items'], meta['dim']
U = np.fromfile(os.path.join(a.dir, 'U.f32'), dtype=np.float32).reshape(n_users, dim)
V = np.fromfile(os.path.join(a.dir, 'V.f32'), dtype=np.float32).reshape(n_items, dim)
off = np.fromfile(os.path.join(a.dir, 'hist_off.i32'), dtype=np.int32)
hist = np.fromfile(os.path.join(a.dir, 'hist.i32'), dtype=np.int32)
test = np.fromfile(os.path.join(a.dir, 'test.i32'), dtype=np.int32)
hist_rows = np.repeat(np.arange(n_users), np.diff(off))

def evaluate():
    ranks = np.empty(n_users, dtype=np.int64)
    for s in range(0, n_users, a.block):
        e = min(s + a.block, n_users)
        S = U[s:e] @ V.T
        m = (hist_rows >= s) & (hist_rows < e)
        S[hist_rows[m] - s, hist[m]] = -np.inf
        t = S[np.arange(e - s), test[s:e]]
        ranks[s:e] = (S > t[:, None]).sum(1)
    hit = ranks < 10
    return {'hr@10': float(hit.mean()), 'ndcg@10': float(np.where(hit, 1 / np.log2(ranks + 2), 0).mean())}

evaluate()
times = []
for _ in range(a.repeat):
    t0 = time.perf_counter(); res = evaluate(); times.append(time.perf_counter() - t0)
print(json.dumps({"peer": "numpy", "bench": "fullrank-factors", "users": n_users, "items": n_items, "dim": dim,
                  "median_s": round(statistics.median(times), 4), **{k: round(v, 4) for k, v in res.items()}}))
