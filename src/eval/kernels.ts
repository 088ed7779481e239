/**
 * The evaluator's hot loops as generated WebAssembly SIMD kernels over one shared memory:
 *
 * - `dotScores`: a block of user embeddings × all item embeddings (a register-blocked 4 × 8 GEMM
 *   micro-kernel with the embedding loop fully unrolled for the model's dimension), writing
 *   scores straight into the evaluator's score block.
 * - `countAbove`: for each scored row, how many candidates score above and equal to the target —
 *   the target's rank under either tie rule — in one vectorised pass.
 *
 * Both work on a {@link KernelArena}: one `WebAssembly.Memory` (shared, so growing it never
 * detaches views held by JS) carved into named regions. JS code sees the regions as ordinary
 * Float32Array / Int32Array views, so the same buffers pass through `Recommender.scoreUsers`.
 */
import v8 from 'node:v8';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { encodeModule, F32, FnBuilder, I32, V128, Wasm, type WasmMemory, type WasmModule } from '../nn/wasm-writer.ts';
import { relaxedSimdAvailable } from '../nn/relaxed-simd.ts';

const PAGE = 65536;
const MAX_PAGES = 32768; // 2 GiB of address space, reserved lazily by the engine.

/** A named-region allocator over one shared wasm memory. Regions only grow; views never detach. */
export class KernelArena {
  readonly memory: WasmMemory;
  private readonly regions = new Map<string, { offset: number; bytes: number }>();
  private top = 64; // byte 0.. kept unused so a zero pointer is never a valid region.
  // Every SharedArrayBuffer object this memory has handed out (a grow yields a new object for
  // the same bytes), so views made before a grow are still recognised as ours.
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(initialPages = 16) {
    this.memory = new Wasm.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: true });
  }

  /**
   * Byte offset of region `name`, at least `bytes` long (16-byte aligned). A region asked for
   * again with a larger size moves to fresh space at the top (old contents are not kept).
   */
  region(name: string, bytes: number): number {
    const r = this.regions.get(name);
    if (r && r.bytes >= bytes) return r.offset;
    const offset = (this.top + 15) & ~15;
    const end = offset + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    this.regions.set(name, { offset, bytes });
    return offset;
  }

  /** The memory's current buffer, remembered as ours. */
  private buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  /** True when `buffer` is (a past or present view of) this arena's memory. */
  owns(buffer: ArrayBufferLike): boolean {
    return this.buffers.has(buffer) || buffer === this.memory.buffer;
  }

  /** A Float32Array view of `length` floats at byte `offset`. */
  f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.buffer(), offset, length);
  }

  /** An Int32Array view of `length` ints at byte `offset`. */
  i32(offset: number, length: number): Int32Array {
    return new Int32Array(this.buffer(), offset, length);
  }
}

let defaultArena: KernelArena | null = null;

/** The process-wide arena the evaluator and dot-product models share (so scores need no copy). */
export function sharedArena(): KernelArena {
  defaultArena ??= new KernelArena();
  return defaultArena;
}

/**
 * Micro-kernel shape: MR users × NV four-lane vectors of items (PANEL = 4·NV items). With fused
 * multiply-adds 4×3 (12 accumulators + 3 item vectors + 1 splat = the 16 vector registers V8
 * allocates) measured fastest on ML-1M (0.100 s against 0.112 s for 4×2, one thread); without
 * them the add latency favours 4×2 (0.124 s against 0.132 s).
 */
const [MR, NV] = (process.env.RECLAB_GEMM_SHAPE ?? (relaxedSimdAvailable() ? '4x3' : '4x2')).split('x').map(Number);
/** Items per micro-kernel panel. */
export const PANEL = 4 * NV;
/** Panels per cache block: the block's panels (PANEL × d floats each) stay in L2 while a user block streams by. */
const PANELS_PER_BLOCK = Math.max(1, Math.floor(256 / PANEL));
/** Embedding dimensions per inner-loop step (full unroll when ≥ d or not dividing d); 16 measured
 * slightly faster than a full unroll of d = 64, whose long body strains the decoded-instruction cache. */
const KU = 16;

type GemmFn = (uPtr: number, panelPtr: number, outPtr: number, nRows: number, nItems: number, stride: number, nPanels: number) => void;
type CountFn = (rowsPtr: number, nRows: number, nItems: number, targetsPtr: number, outPtr: number) => void;

/**
 * Generates the GEMM kernel for embedding size `d`: out[u, i] = Σ_k U[u, k] · V[i, k] for `nRows`
 * (a multiple of MR) consecutive user rows at `uPtr` (row-major, d floats each) and the items
 * packed by {@link packPanels} at `panelPtr`; row u of the output starts at `outPtr + u·stride·4`.
 * Loop order: panel block → MR users → panel → k (unrolled), with MR·NV vector accumulators.
 */
function buildGemm(d: number, fma = relaxedSimdAvailable()): FnBuilder {
  const f = new FnBuilder([I32, I32, I32, I32, I32, I32, I32], []);
  const [uPtr, pPtr, oPtr, nRows, nItems, stride, nPanels] = [0, 1, 2, 3, 4, 5, 6];
  const pb = f.local(I32);
  const pbEnd = f.local(I32);
  const u0 = f.local(I32);
  const p = f.local(I32);
  const up = f.local(I32);
  const pp = f.local(I32);
  const pOff = f.local(I32);
  const o = Array.from({ length: MR }, () => f.local(I32));
  const acc = Array.from({ length: MR * NV }, () => f.local(V128));
  const v = Array.from({ length: NV }, () => f.local(V128));
  const s = f.local(V128);
  const uk = f.local(I32);
  const pk = f.local(I32);
  const pkEnd = f.local(I32);
  f.i32(0).set(pb);
  f.block(() =>
    f.loop(() => {
      // pbEnd = min(pb + PANELS_PER_BLOCK, nPanels)
      f.get(pb).i32(PANELS_PER_BLOCK).add().set(pbEnd);
      f.get(pbEnd).get(nPanels).gtS().if(() => f.get(nPanels).set(pbEnd));
      f.i32(0).set(u0);
      f.loop(() => {
        f.get(uPtr).get(u0).i32(d * 4).mul().add().set(up);
        f.get(oPtr).get(u0).get(stride).mul().i32(4).mul().add().set(o[0]);
        for (let r = 1; r < MR; r++) f.get(o[r - 1]).get(stride).i32(4).mul().add().set(o[r]);
        f.get(pb).set(p);
        f.loop(() => {
          f.get(pPtr).get(p).i32(d * PANEL * 4).mul().add().set(pp);
          if (KU >= d || d % KU !== 0) {
            for (let k = 0; k < d; k++) {
              for (let c = 0; c < NV; c++) f.get(pp).v128Load((k * NV + c) * 16).set(v[c]);
              for (let r = 0; r < MR; r++) {
                f.get(up).load32Splat((r * d + k) * 4).set(s);
                for (let c = 0; c < NV; c++) {
                  const a = acc[r * NV + c];
                  if (k === 0) f.get(s).get(v[c]).f32x4Mul().set(a);
                  else if (fma) f.get(s).get(v[c]).get(a).f32x4RelaxedMadd().set(a);
                  else f.get(a).get(s).get(v[c]).f32x4Mul().f32x4Add().set(a);
                }
              }
            }
          } else {
            // k in steps of KU: a short loop body stays in the CPU's decoded-instruction cache.
            for (const a of acc) f.v128Zero().set(a);
            f.get(up).set(uk);
            f.get(pp).set(pk);
            f.get(pp).i32(d * PANEL * 4).add().set(pkEnd);
            f.loop(() => {
              for (let k = 0; k < KU; k++) {
                for (let c = 0; c < NV; c++) f.get(pk).v128Load((k * NV + c) * 16).set(v[c]);
                for (let r = 0; r < MR; r++) {
                  f.get(uk).load32Splat((r * d + k) * 4).set(s);
                  for (let c = 0; c < NV; c++) {
                    const a = acc[r * NV + c];
                    if (fma) f.get(s).get(v[c]).get(a).f32x4RelaxedMadd().set(a);
                    else f.get(a).get(s).get(v[c]).f32x4Mul().f32x4Add().set(a);
                  }
                }
              }
              f.get(uk).i32(KU * 4).add().set(uk);
              f.get(pk).i32(KU * PANEL * 4).add().tee(pk).get(pkEnd).ltS().brIf(0);
            });
          }
          f.get(p).i32(PANEL * 4).mul().set(pOff);
          // Full panel: NV vector stores per row. Last, partial panel: lane by lane.
          f.get(p).i32(PANEL).mul().i32(PANEL).add().get(nItems).leS().ifElse(
            () => {
              for (let r = 0; r < MR; r++) {
                for (let c = 0; c < NV; c++) f.get(o[r]).get(pOff).add().get(acc[r * NV + c]).v128Store(c * 16);
              }
            },
            () => {
              for (let lane = 0; lane < PANEL; lane++) {
                f.get(p).i32(PANEL).mul().i32(lane).add().get(nItems).ltS().if(() => {
                  for (let r = 0; r < MR; r++) {
                    f.get(o[r]).get(pOff).add().get(acc[r * NV + (lane >> 2)]).f32x4Lane(lane & 3).f32Store(lane * 4);
                  }
                });
              }
            },
          );
          f.get(p).i32(1).add().tee(p).get(pbEnd).ltS().brIf(0);
        });
        f.get(u0).i32(MR).add().tee(u0).get(nRows).ltS().brIf(0);
      });
      f.get(pb).i32(PANELS_PER_BLOCK).add().tee(pb).get(nPanels).ltS().brIf(0);
    }),
  );
  return f;
}

/**
 * Generates the rank-count kernel: for each of `nRows` score rows (`nItems` floats each, packed
 * back to back at `rowsPtr`) with target column `targets[row]`, writes to `out[2·row]` the number
 * of entries strictly above the target's score and to `out[2·row+1]` the number equal to it
 * (the target itself included). A NaN target gets 0 and 0 (the caller treats it as worst).
 */
function buildCount(): FnBuilder {
  const f = new FnBuilder([I32, I32, I32, I32, I32], []);
  const [rowsPtr, nRows, nItems, targetsPtr, outPtr] = [0, 1, 2, 3, 4];
  const row = f.local(I32);
  const base = f.local(I32);
  const ptr = f.local(I32);
  const end16 = f.local(I32);
  const end4 = f.local(I32);
  const end = f.local(I32);
  const gt = f.local(I32);
  const eq = f.local(I32);
  const t = f.local(F32);
  const x = f.local(F32);
  const tv = f.local(V128);
  const g = [f.local(V128), f.local(V128)];
  const e = [f.local(V128), f.local(V128)];
  const v = f.local(V128);
  const count = (vecLocal: number, gi: number): void => {
    f.get(g[gi]).get(vecLocal).get(tv).f32x4Gt().i32x4Sub().set(g[gi]);
    f.get(e[gi]).get(vecLocal).get(tv).f32x4Eq().i32x4Sub().set(e[gi]);
  };
  f.i32(0).set(row);
  f.get(nRows).i32(0).gtS().if(() =>
    f.loop(() => {
      f.get(rowsPtr).get(row).get(nItems).mul().i32(4).mul().add().set(base);
      f.get(base).get(targetsPtr).get(row).i32(4).mul().add().i32Load().i32(4).mul().add().f32Load().set(t);
      f.get(t).f32x4Splat().set(tv);
      for (const l of [...g, ...e]) f.v128Zero().set(l);
      f.get(base).set(ptr);
      f.get(base).get(nItems).i32(~15).op(0x71 /* i32.and */).i32(4).mul().add().set(end16);
      f.get(base).get(nItems).i32(~3).op(0x71).i32(4).mul().add().set(end4);
      f.get(base).get(nItems).i32(4).mul().add().set(end);
      // 16 floats per step, two independent accumulator pairs to hide latency.
      f.block(() =>
        f.loop(() => {
          f.get(ptr).get(end16).geS().brIf(1);
          for (let j = 0; j < 4; j++) {
            f.get(ptr).v128Load(j * 16).set(v);
            count(v, j & 1);
          }
          f.get(ptr).i32(64).add().set(ptr);
          f.br(0);
        }),
      );
      f.block(() =>
        f.loop(() => {
          f.get(ptr).get(end4).geS().brIf(1);
          f.get(ptr).v128Load().set(v);
          count(v, 0);
          f.get(ptr).i32(16).add().set(ptr);
          f.br(0);
        }),
      );
      f.get(g[0]).get(g[1]).i32x4Add().set(g[0]);
      f.get(e[0]).get(e[1]).i32x4Add().set(e[0]);
      f.get(g[0]).i32x4Lane(0).get(g[0]).i32x4Lane(1).add().get(g[0]).i32x4Lane(2).add().get(g[0]).i32x4Lane(3).add().set(gt);
      f.get(e[0]).i32x4Lane(0).get(e[0]).i32x4Lane(1).add().get(e[0]).i32x4Lane(2).add().get(e[0]).i32x4Lane(3).add().set(eq);
      f.block(() =>
        f.loop(() => {
          f.get(ptr).get(end).geS().brIf(1);
          f.get(ptr).f32Load().set(x);
          f.get(gt).get(x).get(t).f32Gt().add().set(gt);
          f.get(eq).get(x).get(t).f32Eq().add().set(eq);
          f.get(ptr).i32(4).add().set(ptr);
          f.br(0);
        }),
      );
      f.get(outPtr).get(row).i32(8).mul().add().get(gt).i32Store(0);
      f.get(outPtr).get(row).i32(8).mul().add().get(eq).i32Store(4);
      f.get(row).i32(1).add().tee(row).get(nRows).ltS().brIf(0);
    }),
  );
  return f;
}

interface Kernels {
  gemm: GemmFn;
  count: CountFn;
  module: WasmModule;
}

/** Instances are bound to one arena's memory: cache them per arena, then per embedding size. */
const compiled = new WeakMap<KernelArena, Map<number, Kernels>>();

/**
 * Compiles `bytes` straight with the optimising tier. Node 20's V8 first compiles wasm with its
 * baseline compiler (Liftoff) and tiers hot functions up later; our kernels run a handful of long
 * calls, so they would stay on baseline code that runs about half as fast. The flag is read at
 * compile time only, so it is switched back on right after.
 */
function compileOptimised(bytes: Uint8Array): WasmModule {
  v8.setFlagsFromString('--no-liftoff');
  try {
    return new Wasm.Module(bytes);
  } finally {
    v8.setFlagsFromString('--liftoff');
  }
}

function kernels(arena: KernelArena, d: number): Kernels {
  let byDim = compiled.get(arena);
  if (!byDim) compiled.set(arena, (byDim = new Map()));
  let k = byDim.get(d);
  if (!k) {
    const bytes = encodeModule({ gemm: buildGemm(d), count: buildCount() }, { minPages: 1, maxPages: MAX_PAGES });
    const module = compileOptimised(bytes);
    const instance = new Wasm.Instance(module, { env: { memory: arena.memory } });
    k = { ...(instance.exports as unknown as Omit<Kernels, 'module'>), module };
    byDim.set(d, k);
  }
  return k;
}

/**
 * Helper threads for the GEMM, built to degrade gracefully on a busy machine. Each worker
 * instantiates the same compiled module on the same shared memory and sleeps on a control block.
 * A job is cut into chunks of rows that the calling thread and the helpers claim with an atomic
 * counter, so a helper that the OS does not schedule in time simply gets no work: the caller
 * closes the job for it (compare-and-swap on the helper's state word) instead of waiting. At
 * worst the caller waits for one chunk a helper already started. `dotScores` thus stays
 * synchronous, as `Recommender.scoreUsers` requires. Workers are unref'd.
 *
 * Control block (Int32, shared): [0] job sequence number, [2..8] job parameters, [9] next chunk,
 * [10] rows per chunk, [16 + 2h] helper h's state = 4·seq + (0 open, 1 started, 2 closed),
 * [17 + 2h] the last seq helper h finished.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctlOff, h } = workerData;
const gemm = new WebAssembly.Instance(module, { env: { memory } }).exports.gemm;
const ctl = new Int32Array(memory.buffer, ctlOff, 64);
let seq = 0;
for (;;) {
  Atomics.wait(ctl, 0, seq);
  seq = Atomics.load(ctl, 0);
  if (Atomics.compareExchange(ctl, 16 + 2 * h, 4 * seq, 4 * seq + 1) !== 4 * seq) continue;
  const [uOff, pOff, oOff, rows, nItems, stride, nPanels] = [ctl[2], ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8]];
  const chunk = ctl[10];
  for (;;) {
    const start = Atomics.add(ctl, 9, 1) * chunk;
    if (start >= rows) break;
    gemm(uOff + start * workerData.d * 4, pOff, oOff + start * stride * 4, Math.min(chunk, rows - start), nItems, stride, nPanels);
  }
  Atomics.store(ctl, 17 + 2 * h, seq);
  Atomics.notify(ctl, 17 + 2 * h);
}`;

interface Helpers {
  ctl: Int32Array;
  count: number;
  seq: number;
}

/** Workers share one arena's memory: kept per arena, then per embedding size. */
const helpers = new WeakMap<KernelArena, Map<number, Helpers>>();

/**
 * Threads used by the GEMM: RECLAB_THREADS when set; otherwise min(2, cores). Rows are claimed in
 * small chunks, so a helper on a busy core only takes fewer of them: measured on the 2-core box
 * with a 2-thread training job running, 2 threads still beat 1 (0.129 s against 0.143 s for
 * ML-1M), and on the quiet box 0.060 s against 0.108 s.
 */
export function gemmThreads(): number {
  const env = Number(process.env.RECLAB_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.min(2, availableParallelism());
}

function helpersFor(arena: KernelArena, d: number, k: Kernels, n: number): Helpers {
  let byDim = helpers.get(arena);
  if (!byDim) helpers.set(arena, (byDim = new Map()));
  let hs = byDim.get(d);
  if (!hs) {
    const ctlOff = arena.region(`gemm-ctl-${d}`, 64 * 4);
    const ctl = arena.i32(ctlOff, 64);
    ctl.fill(0);
    hs = { ctl, count: 0, seq: 0 };
    byDim.set(d, hs);
  }
  while (hs.count < Math.min(n, 23)) {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: k.module, memory: arena.memory, ctlOff: hs.ctl.byteOffset, h: hs.count, d } });
    w.unref();
    hs.count++;
  }
  return hs;
}

/** Rows per claimed chunk (a multiple of MR): small enough that nobody waits long for a straggler. */
const CHUNK_ROWS = 32;

/** Runs the GEMM over `rows` (a multiple of MR) rows, shared by the calling thread and helpers. */
function gemmParallel(arena: KernelArena, d: number, k: Kernels, uOff: number, pOff: number, oOff: number, rows: number, nItems: number, nPanels: number): void {
  const threads = Math.min(gemmThreads(), Math.ceil(rows / CHUNK_ROWS));
  if (threads <= 1) {
    k.gemm(uOff, pOff, oOff, rows, nItems, nItems, nPanels);
    return;
  }
  const hs = helpersFor(arena, d, k, threads - 1);
  const ctl = hs.ctl;
  const seq = ++hs.seq;
  ctl[2] = uOff;
  ctl[3] = pOff;
  ctl[4] = oOff;
  ctl[5] = rows;
  ctl[6] = nItems;
  ctl[7] = nItems;
  ctl[8] = nPanels;
  ctl[10] = CHUNK_ROWS;
  Atomics.store(ctl, 9, 0);
  const nh = threads - 1;
  for (let h = 0; h < nh; h++) Atomics.store(ctl, 16 + 2 * h, 4 * seq);
  Atomics.store(ctl, 0, seq);
  Atomics.notify(ctl, 0);
  for (;;) {
    const start = Atomics.add(ctl, 9, 1) * CHUNK_ROWS;
    if (start >= rows) break;
    k.gemm(uOff + start * d * 4, pOff, oOff + start * nItems * 4, Math.min(CHUNK_ROWS, rows - start), nItems, nItems, nPanels);
  }
  for (let h = 0; h < nh; h++) {
    // Close the job for a helper that has not started; wait for one that has.
    if (Atomics.compareExchange(ctl, 16 + 2 * h, 4 * seq, 4 * seq + 2) === 4 * seq) continue;
    for (;;) {
      const done = Atomics.load(ctl, 17 + 2 * h);
      if (done === seq) break;
      Atomics.wait(ctl, 17 + 2 * h, done);
    }
  }
}

/** Item embeddings packed for {@link dotScores}: panels of 8 items, each d × 8 floats. */
export interface PackedItems {
  arena: KernelArena;
  /** Byte offset of the packed panels. */
  offset: number;
  nItems: number;
  dim: number;
}

/**
 * Packs item embeddings (`nItems × dim`, row-major) into panels of 8 items laid out k-major
 * (`panel[k][lane]`), so the GEMM micro-kernel reads each panel sequentially. Missing lanes of
 * the last panel are zero.
 */
export function packPanels(items: Float32Array, nItems: number, dim: number, arena: KernelArena = sharedArena(), name = `panels-${nItems}x${dim}-${Math.random()}`): PackedItems {
  if (items.length !== nItems * dim) throw new Error(`packPanels: expected ${nItems}×${dim} floats, got ${items.length}`);
  const nPanels = Math.ceil(nItems / PANEL);
  const offset = arena.region(name, nPanels * PANEL * dim * 4);
  const out = arena.f32(offset, nPanels * PANEL * dim);
  out.fill(0);
  for (let i = 0; i < nItems; i++) {
    const p = (i / PANEL) | 0;
    const lane = i % PANEL;
    const src = i * dim;
    const dst = p * PANEL * dim + lane;
    for (let k = 0; k < dim; k++) out[dst + k * PANEL] = items[src + k];
  }
  return { arena, offset, nItems, dim };
}

/**
 * Dot-product scores of `users.length` users against all packed items:
 * `out[r·nItems + i] = userEmb[users[r]] · item[i]`. When `out` lives in the packed items' arena
 * the kernel writes it in place; otherwise it computes in scratch and copies.
 */
export function dotScores(userEmb: Float32Array, users: Int32Array, items: PackedItems, out: Float32Array): void {
  const { arena, dim, nItems } = items;
  const n = users.length;
  if (out.length < n * nItems) throw new Error(`dotScores: out holds ${out.length} floats, need ${n * nItems}`);
  if (n === 0) return;
  const k = kernels(arena, dim);
  const rows = Math.max(n, MR);
  const uOff = arena.region('dot-users', rows * dim * 4);
  const inPlace = arena.owns(out.buffer);
  const oOff = inPlace ? out.byteOffset : arena.region('dot-out', rows * nItems * 4);
  const u = arena.f32(uOff, rows * dim);
  for (let r = 0; r < n; r++) u.set(userEmb.subarray(users[r] * dim, users[r] * dim + dim), r * dim);
  const nPanels = Math.ceil(nItems / PANEL);
  if (n >= MR) {
    const main = n - (n % MR);
    gemmParallel(arena, dim, k, uOff, items.offset, oOff, main, nItems, nPanels);
    // The last n mod 4 rows: rerun the final 4 rows (overlap recomputes identical values).
    if (main < n) k.gemm(uOff + (n - MR) * dim * 4, items.offset, oOff + (n - MR) * nItems * 4, MR, nItems, nItems, nPanels);
  } else {
    // Fewer than 4 users: pad with zero rows in scratch and copy the real rows out.
    u.fill(0, n * dim, MR * dim);
    const sOff = arena.region('dot-small', MR * nItems * 4);
    k.gemm(uOff, items.offset, sOff, MR, nItems, nItems, nPanels);
    out.set(arena.f32(sOff, n * nItems));
    return;
  }
  if (!inPlace) out.set(arena.f32(oOff, n * nItems));
}

/**
 * For each row r of `scores` (`nRows × nItems`, row-major) counts entries strictly greater than
 * and equal to `scores[r, targets[r]]`, writing them to `counts[2r]` and `counts[2r+1]` (the
 * equal count includes the target itself). Vectorised when `scores` lives in the arena.
 */
export function countAbove(scores: Float32Array, nRows: number, nItems: number, targets: Int32Array, counts: Int32Array, arena: KernelArena = sharedArena()): void {
  if (nRows === 0) return;
  if (!arena.owns(scores.buffer)) {
    countAboveJs(scores, nRows, nItems, targets, counts);
    return;
  }
  const k = kernels(arena, 0);
  const tOff = arena.region('count-targets', nRows * 4);
  const cOff = arena.region('count-out', nRows * 8);
  arena.i32(tOff, nRows).set(targets.subarray(0, nRows));
  k.count(scores.byteOffset, nRows, nItems, tOff, cOff);
  counts.set(arena.i32(cOff, nRows * 2));
}

/** Plain-JS version of {@link countAbove}, for scores outside the arena. */
export function countAboveJs(scores: Float32Array, nRows: number, nItems: number, targets: Int32Array, counts: Int32Array): void {
  for (let r = 0; r < nRows; r++) {
    const base = r * nItems;
    const t = scores[base + targets[r]];
    let gt = 0;
    let eq = 0;
    for (let i = 0; i < nItems; i++) {
      const s = scores[base + i];
      if (s > t) gt++;
      else if (s === t) eq++;
    }
    counts[2 * r] = gt;
    counts[2 * r + 1] = eq;
  }
}
