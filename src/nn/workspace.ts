/**
 * Per-thread activation memory: one engine block carved into named regions. A model describes
 * the regions a step needs (sizes depend on the shard's tokens and Σ L²); the block is
 * reallocated only when a step needs more than any step before, so steady-state training
 * allocates nothing.
 */
import type { Engine } from '../kernels/engine.ts';

/** Region sizes in 4-byte elements (float32 or int32), by name. */
export type Layout<K extends string> = Record<K, number>;

/** A growable block of engine memory, carved per step. */
export class Workspace {
  private block: { ptr: number; length: number; a: Float32Array } | null = null;

  /** `owner`: the block is freed when the owner is garbage-collected. */
  constructor(private readonly engine: Engine, private readonly owner?: object) {}

  /** Byte offsets of each region (16-byte aligned, 64 bytes of slack each), growing the block if needed. */
  carve<K extends string>(layout: Layout<K>): Record<K, number> {
    const offsets = {} as Record<K, number>;
    let pos = 0;
    for (const name of Object.keys(layout) as K[]) {
      offsets[name] = pos;
      pos += Math.ceil((layout[name] * 4 + 64) / 16) * 16;
    }
    if (!this.block || this.block.length * 4 < pos) {
      if (this.block) this.engine.freeBuf(this.block);
      // 25 % headroom so slowly growing shards do not reallocate every step
      this.block = this.engine.f32(Math.ceil((pos * 1.25) / 4), this.owner);
    }
    const base = this.block.ptr;
    for (const name of Object.keys(offsets) as K[]) offsets[name] += base;
    return offsets;
  }

  /** Bytes currently held. */
  get bytes(): number {
    return this.block ? this.block.length * 4 : 0;
  }

  /** Frees the block. */
  dispose(): void {
    if (this.block) this.engine.freeBuf(this.block);
    this.block = null;
  }
}
