/**
 * A minimal WebAssembly binary writer: just enough of the format (types, one imported memory,
 * functions, exports, structured control flow, i32/f32 arithmetic and 128-bit SIMD) to generate
 * hot kernels at run time, specialised for the shapes at hand — the evaluator's scoring GEMM and
 * rank counts (src/eval/kernels.ts, per embedding size) and EASE's rank-b update
 * (src/nn/linalg.ts). Generating code beats a checked-in .wasm blob here: constants become memory
 * offsets, loops unroll fully, and no build step or binary artefact is needed.
 *
 * Encoding follows the WebAssembly core spec §5 (binary format) and the fixed-width SIMD proposal
 * (opcode prefix 0xFD, merged into the spec in 2021; on by default in Node ≥ 16.4).
 */

import { F32X4_RELAXED_MADD, F64X2_RELAXED_MADD } from './relaxed-simd.ts';

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function utf8(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/**
 * Builds one function body instruction by instruction. Locals are declared with {@link local};
 * parameters are locals 0..nParams-1.
 */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(
    readonly params: number[],
    readonly results: number[],
  ) {}

  /** Declares a new local of type `type`, returning its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  /** Appends raw bytes. */
  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  get(i: number): this {
    return this.op(0x20, ...uleb(i));
  }
  set(i: number): this {
    return this.op(0x21, ...uleb(i));
  }
  tee(i: number): this {
    return this.op(0x22, ...uleb(i));
  }
  i32(n: number): this {
    return this.op(0x41, ...sleb(n));
  }
  f32(x: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    return this.op(0x43, ...b);
  }
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  shl(): this {
    return this.op(0x74);
  }
  shrS(): this {
    return this.op(0x75);
  }
  ltS(): this {
    return this.op(0x48);
  }
  geS(): this {
    return this.op(0x4e);
  }
  leS(): this {
    return this.op(0x4c);
  }
  /** block … end (result-less). */
  block(body: () => void): this {
    this.op(0x02, 0x40);
    body();
    return this.op(0x0b);
  }
  /** loop … end (result-less); `br 0` inside jumps back to the top. */
  loop(body: () => void): this {
    this.op(0x03, 0x40);
    body();
    return this.op(0x0b);
  }
  /** if … else … end on the i32 on the stack. */
  ifElse(then: () => void, otherwise: () => void): this {
    this.op(0x04, 0x40);
    then();
    this.op(0x05);
    otherwise();
    return this.op(0x0b);
  }
  gtS(): this {
    return this.op(0x4a);
  }
  /** f32.gt / f32.eq → i32 0 or 1. */
  f32Gt(): this {
    return this.op(0x5e);
  }
  f32Eq(): this {
    return this.op(0x5b);
  }
  /** if … end on the i32 on the stack. */
  if(body: () => void): this {
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.op(0x0d, ...uleb(depth));
  }
  /** f32.load with a constant byte offset. */
  f32Load(offset = 0): this {
    return this.op(0x2a, 2, ...uleb(offset));
  }
  f32Store(offset = 0): this {
    return this.op(0x38, 2, ...uleb(offset));
  }
  i32Load(offset = 0): this {
    return this.op(0x28, 2, ...uleb(offset));
  }
  i32Store(offset = 0): this {
    return this.op(0x36, 2, ...uleb(offset));
  }
  /** A SIMD instruction (0xFD prefix). */
  simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...imm);
  }
  v128Load(offset = 0): this {
    return this.simd(0x00, 4, ...uleb(offset));
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, 4, ...uleb(offset));
  }
  /** Loads one f32 and splats it to all four lanes. */
  load32Splat(offset = 0): this {
    return this.simd(0x09, 2, ...uleb(offset));
  }
  v128Zero(): this {
    return this.simd(0x0c, ...new Array(16).fill(0));
  }
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  /** a·b + c lane-wise (relaxed SIMD: one vfmadd where the CPU has FMA; see src/nn/relaxed-simd.ts). Stack: a, b, c. */
  f32x4RelaxedMadd(): this {
    return this.simd(F32X4_RELAXED_MADD);
  }
  /** a·b + c lane-wise on f64x2 (relaxed SIMD). Stack: a, b, c. */
  f64x2RelaxedMadd(): this {
    return this.simd(F64X2_RELAXED_MADD);
  }
  /** Loads one f64 and splats it to both lanes. */
  load64Splat(offset = 0): this {
    return this.simd(0x0a, 3, ...uleb(offset));
  }
  f64x2Add(): this {
    return this.simd(0xf0);
  }
  f64x2Sub(): this {
    return this.simd(0xf1);
  }
  f64x2Mul(): this {
    return this.simd(0xf2);
  }
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  f32x4Eq(): this {
    return this.simd(0x41);
  }
  i32x4Sub(): this {
    return this.simd(0xb1);
  }
  i32x4Add(): this {
    return this.simd(0xae);
  }
  f32x4Lane(lane: number): this {
    return this.simd(0x1f, lane);
  }
  i32x4Lane(lane: number): this {
    return this.simd(0x1b, lane);
  }

  /** The encoded body (locals + code + end). */
  encode(): number[] {
    const groups: number[][] = [];
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push([...uleb(j - i), this.localTypes[i]]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * Encodes a module importing one shared memory as `env.memory` (so every kernel and JS see the
 * same bytes and growing never detaches views) and exporting `functions` by name.
 */
export function encodeModule(functions: Record<string, FnBuilder>, memory: { minPages: number; maxPages: number }): Uint8Array {
  const names = Object.keys(functions);
  const fns = names.map((n) => functions[n]);
  const types = fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    // Import: module "env", name "memory", kind memory (2), limits flag 3 = shared with max.
    ...section(2, vec([[...utf8('env'), ...utf8('memory'), 0x02, 0x03, ...uleb(memory.minPages), ...uleb(memory.maxPages)]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(names.map((n, i) => [...utf8(n), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => f.encode()))),
  ];
  return Uint8Array.from(bytes);
}

/** The part of the WebAssembly JS API we use (TypeScript's ES libs do not declare it without DOM). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
/** A compiled module (opaque; cloneable to workers). */
export type WasmModule = object;
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
/** The global `WebAssembly` object, typed. */
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
