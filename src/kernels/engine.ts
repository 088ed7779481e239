/**
 * The numerical engine's runtime: one WebAssembly module of SIMD kernels (built from asm/ with
 * AssemblyScript), one shared WebAssembly.Memory holding every tensor, and a pool of
 * worker_threads that run kernels on the same memory.
 *
 * Design (argued): layers do not execute eagerly. A layer's forward and backward, written side by
 * side, *record* kernel calls into a {@link Program} — a flat list of (kernel, arguments) over
 * buffers that already live in the shared memory. A training step records one program per shard of
 * the batch (a contiguous group of whole sequences), sends each to a thread, and reduces the
 * per-thread gradients in a fixed order. This is a tape over coarse fused ops: no autograd graph,
 * no per-op allocation, no per-op dispatch cost worth measuring (a step is a few hundred calls),
 * and the kernels themselves (gemm, ragged attention, layer norm…) are the units of work. Since
 * each thread owns its sequences end to end, the only synchronisation is one barrier per step.
 *
 * Memory: every tensor is a {@link Buf} — a typed view at a byte offset of the shared memory,
 * handed out by a first-fit free-list allocator with 16-byte alignment and 64 bytes of slack
 * (SIMD tails may read a few floats past a row's end). Views stay valid when the memory grows
 * (shared memories are never detached).
 */
import { Worker } from 'node:worker_threads';
import { kernelModule, kernelSetup, Wasm, type WasmInstance, type WasmMemory } from './runtime.ts';

/** The kernels exported by the kernel module (./asm; pointers are byte offsets into the memory). */
export interface WasmKernels {
  gemm(C: number, A: number, B: number, M: number, N: number, K: number, lda: number, ldb: number, ldc: number,
    transA: number, accumulate: number, causal: number, alpha: number): void;
  transpose(Out: number, In: number, M: number, N: number, ldi: number, ldo: number): void;
  attn_fwd(Q: number, K: number, V: number, O: number, ldq: number, ldk: number, ldv: number, ldo: number,
    P: number, P2: number, seqOff: number, pOff: number, s0: number, s1: number, heads: number, dqk: number, dv: number,
    causal: number, kind: number, p: number, seed: number, seqIdBase: number, scratch: number,
    bias: number, biasLd: number, invN: number, scale: number): void;
  attn_bwd(Q: number, K: number, V: number, dO: number, dQ: number, dK: number, dV: number,
    ldq: number, ldk: number, ldv: number, ldo: number, P: number, P2: number, seqOff: number, pOff: number,
    s0: number, s1: number, heads: number, dqk: number, dv: number, causal: number, kind: number, p: number, seed: number,
    seqIdBase: number, scratch: number, maxL: number, biasLd: number, invN: number, dbias: number, scale: number): void;
  attn_last_fwd(Q: number, K: number, V: number, O: number, ldq: number, ldk: number, ldv: number, ldo: number,
    seqOff: number, s0: number, s1: number, heads: number, dh: number, kind: number, scratch: number): void;
  attn_beam_fwd(Q: number, ldq: number, O: number, ldo: number, n: number, heads: number, dh: number,
    MKV: number, memStart: number, memLen: number, CKV: number, anc: number, nAnc: number, ld: number, vOff: number, scratch: number): void;
  expf(x: number): number;
  dropout(Y: number, X: number, n: number, p: number, seed: number, base: number): void;
  relu_dropout_fwd(A: number, H: number, n: number, p: number, seed: number, base: number): void;
  relu_dropout_bwd(dH: number, dA: number, A: number, n: number, p: number): void;
  gelu_fwd(Y: number, X: number, n: number): void;
  gelu_bwd(dX: number, dY: number, X: number, n: number, accumulate: number): void;
  silu_fwd(Y: number, S: number, X: number, n: number): void;
  silu_bwd(dX: number, dY: number, Y: number, S: number, n: number, accumulate: number): void;
  relu_fwd(Y: number, X: number, n: number): void;
  relu_bwd(dX: number, dY: number, X: number, n: number, accumulate: number): void;
  copy(Y: number, X: number, n: number): void;
  zero(X: number, n: number): void;
  axpy(Y: number, X: number, n: number, alpha: number): void;
  add(Z: number, X: number, Y: number, n: number): void;
  mul(Z: number, X: number, Y: number, n: number, accumulate: number): void;
  l2norm_fwd(Y: number, X: number, rinv: number, M: number, d: number, eps: number): void;
  l2norm_bwd(dX: number, dY: number, Y: number, rinv: number, M: number, d: number, accumulate: number): void;
  sumsq(X: number, n: number): number;
  scale(X: number, n: number, alpha: number): void;
  add_bias(Y: number, b: number, M: number, N: number, ld: number): void;
  col_sum(db: number, dY: number, M: number, N: number, ld: number): void;
  add_bias_residual(Y: number, b: number, R: number, M: number, N: number): void;
  bias_dropout_residual(Y: number, b: number, R: number, M: number, N: number, p: number, seed: number, base: number): void;
  layernorm_fwd(Y: number, X: number, gamma: number, beta: number, mean: number, rstd: number, M: number, d: number, eps: number): void;
  layernorm_bwd(dX: number, dY: number, X: number, gamma: number, mean: number, rstd: number, dgamma: number, dbeta: number,
    M: number, d: number, accumulate: number): void;
  gated_norm_fwd(Y: number, X: number, U: number, ldu: number, mean: number, rstd: number, M: number, d: number, eps: number): void;
  gated_norm_bwd(dX: number, dU: number, dY: number, X: number, U: number, ldu: number, mean: number, rstd: number,
    M: number, d: number, accumulate: number): void;
  embed_fwd(X: number, E: number, ids: number, Pos: number, pos: number, T: number, d: number, scale: number): void;
  embed_bwd(dE: number, dPos: number, dX: number, ids: number, pos: number, T: number, d: number, scale: number): void;
  bce_neg_loss(H: number, E: number, pos: number, neg: number, T: number, nNeg: number, d: number, weight: number,
    beta: number, dH: number, dE: number, out: number): void;
  sampled_softmax_loss(H: number, E: number, pos: number, neg: number, T: number, nNeg: number, d: number, weight: number,
    tau: number, dH: number, dE: number, out: number, scratch: number): void;
  softmax_ce(Z: number, y: number, T: number, n: number, ld: number, weight: number, out: number): void;
  adam(P: number, G: number, M: number, V: number, n: number, lr: number, b1: number, b2: number, eps: number,
    wd: number, mode: number, bc1: number, bc2: number): void;
  adam_rows(P: number, G: number, M: number, V: number, rows: number, nRows: number, d: number, lr: number,
    b1: number, b2: number, eps: number, wd: number, mode: number, bc1: number, bc2: number): void;
  add_rows(Dst: number, Src: number, rows: number, nRows: number, d: number): void;
  zero_rows(X: number, rows: number, nRows: number, d: number): void;
  sumsq_rows(X: number, rows: number, nRows: number, d: number): number;
  scale_rows(X: number, rows: number, nRows: number, d: number, alpha: number): void;
  pack_panels(P: number, V: number, nItems: number, dims: number, ldv: number): void;
  score_panels(O: number, U: number, P: number, nRows: number, nItems: number, dims: number, ldo: number): void;
  rank_count(counts: number, U: number, P: number, V: number, targets: number, nRows: number, nItems: number, dims: number,
    excl: number, scratch: number): void;
  count_above(counts: number, S: number, nRows: number, nItems: number, targets: number): void;
  gram_rows(G: number, ldg: number, n: number, cols: number, colStart: number, rowStart: number, posIn: number, i0: number, i1: number, acc: number): void;
  rank_update_lower(C: number, m: number, b: number, W: number, U: number, i0: number, i1: number): void;
  panel_times(W: number, U: number, D: number, m: number, b: number): void;
  sweep_pack(U: number, A: number, m: number, k: number, b: number): void;
  sweep_unpack(A: number, W: number, m: number, k: number, b: number): void;
  neg_sym_from_lower(Out: number, A: number, n: number, m: number): void;
  gru_fwd(Hout: number, Gi: number, Gh: number, Hprev: number, Saved: number, B: number, H: number): void;
  gru_bwd(dGi: number, dGh: number, dHprev: number, dHout: number, Hprev: number, Saved: number, B: number, H: number): void;
}

/** Name of a kernel. */
export type KernelName = keyof WasmKernels;

/** A typed view of a region of the engine memory. `ptr` is its byte offset (for kernels). */
export interface Buf<T extends Float32Array | Int32Array = Float32Array> {
  readonly ptr: number;
  /** Number of elements. */
  readonly length: number;
  /** The view (valid for the engine's lifetime, also after the memory grows). */
  readonly a: T;
}

export type { WasmMemory } from './runtime.ts';

const PAGE = 65536;
const WORKER_TIMEOUT_MS = 15 * 60 * 1000;
const HEAP_BASE = 1 << 20; // static data of the module lives below 1 MiB (memoryBase 1024)
const SLACK = 64;
const MAX_PAGES = 65536; // 4 GiB of address space; only touched pages count as resident memory

/** Names of the exported functions, in module order: the op codes of a {@link Program}. */
function functionNames(instance: WasmInstance): string[] {
  return Object.keys(instance.exports).filter((k) => typeof instance.exports[k] === 'function');
}

/**
 * A recorded sequence of kernel calls. Recording is cheap (numbers pushed onto an array); the
 * program runs on any thread that has the engine's memory.
 */
export class Program {
  /** Flat encoding: [opcode, argc, ...args] per call. */
  readonly code: number[] = [];
  constructor(private readonly opcodes: Map<string, number>) {}

  /** Appends a call of kernel `name`. */
  call<K extends KernelName>(name: K, ...args: Parameters<WasmKernels[K]>): void {
    const op = this.opcodes.get(name);
    if (op === undefined) throw new Error(`Program: unknown kernel "${name}"`);
    this.code.push(op, args.length, ...(args as number[]));
  }

  /** Number of recorded calls. */
  get length(): number {
    let n = 0;
    for (let i = 0; i < this.code.length; i += 2 + this.code[i + 1]) n++;
    return n;
  }
}

/** Runs an encoded program against a function table (the worker runs this same function, from its source text). */
function runCode(fns: ((...a: number[]) => unknown)[], code: ArrayLike<number>): void {
  const args: number[] = [];
  for (let i = 0; i < code.length; ) {
    const fn = fns[code[i]];
    const argc = code[i + 1];
    args.length = argc;
    for (let j = 0; j < argc; j++) args[j] = code[i + 2 + j];
    fn(...args);
    i += 2 + argc;
  }
}

// The worker: instantiates the module on the shared memory, runs programs it is sent, and
// signals completion through an Int32 slot with Atomics (the main thread blocks on it).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, ctl, slot } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory } });
const fns = Object.keys(inst.exports).filter((k) => typeof inst.exports[k] === 'function').map((k) => inst.exports[k]);
${runCode.toString()}
parentPort.on('message', (code) => {
  let status = 1;
  try { runCode(fns, code); } catch (e) { status = 2; process.stderr.write('reclab kernel worker: ' + (e && e.stack || e) + '\\n'); }
  Atomics.store(ctl, slot, status);
  Atomics.notify(ctl, slot);
});
`;

/** Options of {@link Engine}. */
export interface EngineOptions {
  /** Threads used by {@link Engine.runParallel} (main thread included). Default: the thread policy (RECLAB_THREADS, else the cores). */
  threads?: number;
}

/**
 * One engine per process is usual ({@link defaultEngine}); each owns its memory and workers.
 */
export class Engine {
  readonly memory: WasmMemory;
  /** Kernels bound to the main thread's instance (for direct calls outside programs). */
  readonly k: WasmKernels;
  /** Threads used for parallel programs (main thread included). */
  readonly threads: number;
  private readonly fns: ((...a: number[]) => unknown)[];
  private readonly opcodes = new Map<string, number>();
  private readonly free: { ptr: number; bytes: number }[] = [];
  private top = HEAP_BASE;
  private workers: Worker[] = [];
  private ctl: Int32Array | null = null;
  private readonly tokens = new Map<number, object>();
  private readonly finalizer = new FinalizationRegistry<{ ptr: number; bytes: number }>((b) => {
    this.tokens.delete(b.ptr);
    this.release(b.ptr, b.bytes);
  });

  constructor(options: EngineOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.threads ?? kernelSetup().threads));
    this.memory = new Wasm.Memory({ initial: 32, maximum: MAX_PAGES, shared: true });
    const instance = new Wasm.Instance(kernelModule(), { env: { memory: this.memory } });
    const names = functionNames(instance);
    names.forEach((n, i) => this.opcodes.set(n, i));
    this.fns = names.map((n) => instance.exports[n] as (...a: number[]) => unknown);
    this.k = instance.exports as unknown as WasmKernels;
  }

  /** A new empty program for this engine. */
  program(): Program {
    return new Program(this.opcodes);
  }

  /** Runs a program on the calling (main) thread. */
  run(program: Program): void {
    runCode(this.fns, program.code);
  }

  /**
   * Runs `programs[i]` on thread i (program 0 on the main thread) and returns when all are done.
   * Callers decide how many programs (usually {@link threads}); workers start on demand. Throws if
   * any worker failed.
   */
  runParallel(programs: Program[]): void {
    if (programs.length === 1) return this.run(programs[0]);
    this.ensureWorkers(programs.length - 1);
    const ctl = this.ctl!;
    for (let w = 1; w < programs.length; w++) {
      Atomics.store(ctl, w, 0);
      this.workers[w - 1].postMessage(Float64Array.from(programs[w].code));
    }
    let failed = false;
    let timedOut = -1;
    try {
      this.run(programs[0]);
    } finally {
      for (let w = 1; w < programs.length; w++) {
        // A worker that died without signalling (e.g. out of memory) would block us forever;
        // no single program legitimately runs for WORKER_TIMEOUT_MS.
        const t0 = Date.now();
        while (Atomics.load(ctl, w) === 0 && timedOut < 0) {
          Atomics.wait(ctl, w, 0, 1000);
          if (Date.now() - t0 > WORKER_TIMEOUT_MS) timedOut = w;
        }
        if (Atomics.load(ctl, w) === 2) failed = true;
      }
    }
    if (timedOut >= 0) throw new Error(`runParallel: worker ${timedOut} did not finish within ${WORKER_TIMEOUT_MS / 1000} s`);
    if (failed) throw new Error('runParallel: a worker thread failed (see its message on stderr)');
  }

  private ensureWorkers(n: number): void {
    if (!this.ctl || this.ctl.length < n + 1) {
      if (this.workers.length > 0) throw new Error(`runParallel: ${n + 1} threads asked of an engine whose pool was sized for ${this.ctl!.length - 1}`);
      this.ctl = new Int32Array(new SharedArrayBuffer(4 * Math.max(64, n + 1)));
    }
    while (this.workers.length < n) {
      const slot = this.workers.length + 1;
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: kernelModule(), memory: this.memory, ctl: this.ctl, slot },
      });
      worker.unref(); // idle workers never keep the process alive
      this.workers.push(worker);
    }
  }

  /** Stops the worker threads (the engine can still run programs; workers restart on demand). */
  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }

  /** Allocates `n` float32 elements (zeroed). Freed when `owner` is garbage-collected, or by {@link freeBuf}. */
  f32(n: number, owner?: object): Buf<Float32Array> {
    const ptr = this.allocBytes(n * 4, owner);
    return { ptr, length: n, a: new Float32Array(this.memory.buffer, ptr, n) };
  }

  /** Allocates `n` int32 elements (zeroed). */
  i32(n: number, owner?: object): Buf<Int32Array> {
    const ptr = this.allocBytes(n * 4, owner);
    return { ptr, length: n, a: new Int32Array(this.memory.buffer, ptr, n) };
  }

  /** Allocates `n` float64 elements (zeroed); returns the byte offset and a view. */
  f64(n: number, owner?: object): { ptr: number; length: number; a: Float64Array } {
    const ptr = this.allocBytes(n * 8, owner);
    return { ptr, length: n, a: new Float64Array(this.memory.buffer, ptr, n) };
  }

  /** Returns a buffer to the allocator now (it must not be used afterwards). */
  freeBuf(buf: { ptr: number; length: number; a: { byteLength: number } }): void {
    const token = this.tokens.get(buf.ptr);
    if (token) {
      this.finalizer.unregister(token);
      this.tokens.delete(buf.ptr);
    }
    this.release(buf.ptr, roundBytes(buf.a.byteLength));
  }

  /** Bytes of the memory currently reserved (pages grown), for diagnostics. */
  get reservedBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private allocBytes(bytes: number, owner?: object): number {
    const size = roundBytes(bytes);
    let ptr = -1;
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i];
      if (f.bytes >= size) {
        ptr = f.ptr;
        if (f.bytes === size) this.free.splice(i, 1);
        else {
          f.ptr += size;
          f.bytes -= size;
        }
        break;
      }
    }
    if (ptr < 0) {
      ptr = this.top;
      this.top += size;
      const need = Math.ceil(this.top / PAGE) - this.memory.buffer.byteLength / PAGE;
      if (need > 0) {
        if (this.top > MAX_PAGES * PAGE) throw new RangeError(`engine memory exhausted: ${this.top} bytes requested`);
        this.memory.grow(need);
      }
    }
    new Uint8Array(this.memory.buffer, ptr, size).fill(0);
    if (owner) {
      const token = {};
      this.tokens.set(ptr, token);
      this.finalizer.register(owner, { ptr, bytes: size }, token);
    }
    return ptr;
  }

  private release(ptr: number, bytes: number): void {
    // Insert sorted and merge neighbours, so freed model-sized blocks are reusable.
    let i = 0;
    while (i < this.free.length && this.free[i].ptr < ptr) i++;
    this.free.splice(i, 0, { ptr, bytes });
    if (i + 1 < this.free.length && ptr + bytes === this.free[i + 1].ptr) {
      this.free[i].bytes += this.free[i + 1].bytes;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].ptr + this.free[i - 1].bytes === ptr) {
      this.free[i - 1].bytes += this.free[i].bytes;
      this.free.splice(i, 1);
    }
  }
}

function roundBytes(bytes: number): number {
  return Math.ceil((bytes + SLACK) / 16) * 16;
}

let shared: Engine | null = null;

/**
 * The process-wide engine: one memory, one allocator, one worker pool for every model, the
 * evaluator and linear algebra. Callers size their work by their own thread count (a model's
 * `threads` config) or {@link Engine.threads}; the engine runs as many programs as it is given.
 */
export function defaultEngine(): Engine {
  shared ??= new Engine();
  return shared;
}
