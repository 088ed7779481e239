/**
 * The one place where reclab's WebAssembly is set up: the SIMD/FMA probe, the V8 flags, the
 * thread count, and compiling the kernel module (built ahead of time from ./asm by
 * `npm run build:wasm`). Everything is decided once, on first use, and {@link kernelSetup}
 * reports the decisions (`--verbose` prints them).
 *
 * FMA. Core WebAssembly SIMD has no fused multiply-add: a multiply and an add are two
 * instructions, which halves the peak of every dot-product kernel against a BLAS that uses
 * vfmadd. The relaxed-SIMD proposal adds `f32x4.relaxed_madd` / `f64x2.relaxed_madd`, which V8
 * compiles to vfmadd on CPUs with FMA3. It ships enabled from V8 11.4 (Node 22); Node 20's V8
 * 11.3 has it behind `--experimental-wasm-relaxed-simd`, a feature flag read when a module is
 * validated, so turning it on before compiling is enough. The kernels are built twice
 * (kernels-fma.wasm with relaxed_madd, kernels.wasm with mul + add) and the probe picks one.
 * `relaxed_madd` may round once or twice depending on the hardware; both are within the error
 * analysis of the kernels (sums of products). RECLAB_WASM_FMA=0 forces the plain build.
 *
 * Tiering. V8 first compiles WebAssembly with its baseline compiler (Liftoff) and tiers hot
 * functions up later; our kernels run few, long calls, so they would stay on baseline code about
 * half as fast, and every timing would depend on warm-up. `--no-liftoff` compiles with the
 * optimising tier right away. It is read at compile time, and reclab's is the only WebAssembly
 * compiled through here, so it is set once and left on.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { defaultThreads } from '../util/threads.ts';

/** The parts of the WebAssembly JS API we use (this project's TS lib has no DOM/WebAssembly types). */
export interface WasmModule {
  readonly __wasmModule?: never;
}
/** A (shared) WebAssembly.Memory. */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
/** An instantiated module. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}
/** The runtime's WebAssembly namespace. */
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f64x2.relaxed_madd) */
const FMA_PROBE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x87, 0x02, 0x0b,
]);

/** What was decided at start-up. */
export interface KernelSetup {
  /** The kernel build in use (kernels-fma.wasm or kernels.wasm). */
  file: string;
  /** Fused multiply-adds (relaxed SIMD) in the kernels. */
  fma: boolean;
  /** Threads of the default engine (RECLAB_THREADS, else the machine's cores). */
  threads: number;
  /** V8 flags set for WebAssembly. */
  v8Flags: string[];
}

let setup: KernelSetup | null = null;
let compiled: WasmModule | null = null;

function probeFma(flags: string[]): boolean {
  if (process.env.RECLAB_WASM_FMA === '0') return false;
  try {
    if (Wasm.validate(FMA_PROBE)) return true;
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    flags.push('--experimental-wasm-relaxed-simd');
    return Wasm.validate(FMA_PROBE);
  } catch {
    return false;
  }
}

/** The start-up decisions (made on the first call). */
export function kernelSetup(): KernelSetup {
  if (!setup) {
    const v8Flags = ['--no-liftoff'];
    setFlagsFromString('--no-liftoff');
    const fma = probeFma(v8Flags);
    setup = { file: fma ? 'kernels-fma.wasm' : 'kernels.wasm', fma, threads: defaultThreads(), v8Flags };
  }
  return setup;
}

/** One line for `--verbose`. */
export function describeKernelSetup(): string {
  const s = kernelSetup();
  return `kernels: ${s.file} (${s.fma ? 'relaxed-SIMD FMA' : 'SIMD mul + add'}), ${s.threads} thread(s), V8 ${s.v8Flags.join(' ')}`;
}

/** The compiled kernel module (compiled once per thread; workers receive it, they never compile). */
export function kernelModule(): WasmModule {
  if (!compiled) {
    const { file } = kernelSetup();
    const url = new URL(`./${file}`, import.meta.url);
    let bytes: Buffer;
    try {
      bytes = readFileSync(url);
    } catch (e) {
      throw new Error(`${url.pathname}: the WebAssembly kernels are missing; run "npm run build:wasm" (${(e as Error).message})`);
    }
    compiled = new Wasm.Module(bytes);
  }
  return compiled;
}
