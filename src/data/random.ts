/**
 * The data layer's seeded generator (splits, synthetic data, candidate sampling): the
 * project-wide xoshiro128** stream of src/util/rng.ts, with the name the data layer uses.
 */
import { Rng } from '../util/rng.ts';

/** A seeded stream; `uint32()` is {@link Rng.nextUint32}. */
export class DataRng extends Rng {
  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    return this.nextUint32();
  }
}
