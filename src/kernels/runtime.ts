/**
 * Fused multiply-add for the run-time WebAssembly kernels (EASE's inverse, evaluation scoring).
 *
 * Core WebAssembly SIMD has no FMA: a multiply and an add are two instructions, which halves the
 * peak of every dot-product kernel against a BLAS that uses vfmadd. The relaxed-SIMD proposal adds
 * `f32x4.relaxed_madd` / `f64x2.relaxed_madd`, which V8 compiles to vfmadd on CPUs with FMA3.
 * It ships enabled from V8 11.4 (Node 22); Node 20's V8 11.3 has it behind
 * `--experimental-wasm-relaxed-simd`, a feature flag that V8 reads when a module is validated, so
 * turning it on at run time (before compiling) is enough. When the runtime refuses the probe
 * module either way, callers emit the plain mul + add code.
 *
 * `relaxed_madd` may round once (fused) or twice (separate mul and add) depending on the hardware;
 * both are within the error analysis of the kernels that use it (sums of products in f32/f64).
 * Set RECLAB_WASM_FMA=0 to force the plain code (for A/B measurements).
 */
import { setFlagsFromString } from 'node:v8';

/** SIMD opcodes (after prefix 0xFD) of the relaxed multiply-adds: a·b + c, lane-wise. */
export const F32X4_RELAXED_MADD = 0x105;
export const F64X2_RELAXED_MADD = 0x107;

interface WasmValidate {
  validate(bytes: Uint8Array): boolean;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmValidate }).WebAssembly;

/** (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f64x2.relaxed_madd) */
const PROBE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x87, 0x02, 0x0b,
]);

let state: boolean | undefined;

/**
 * True when kernels compiled from now on may use the relaxed multiply-adds. Turns the V8 feature
 * flag on the first time if the runtime needs it; false with RECLAB_WASM_FMA=0 or when the
 * runtime cannot validate the probe.
 */
export function relaxedSimdAvailable(): boolean {
  if (state !== undefined) return state;
  if (process.env.RECLAB_WASM_FMA === '0') return (state = false);
  try {
    if (!Wasm.validate(PROBE)) setFlagsFromString('--experimental-wasm-relaxed-simd');
    state = Wasm.validate(PROBE);
  } catch {
    state = false;
  }
  return state;
}
