/** The engine's seeded generator is the project-wide one (src/util/rng.ts); re-exported for nn users. */
export { Rng } from '../util/rng.ts';
