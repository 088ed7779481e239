/** LLM-based recommendation: catalogues, grounding, profiles, LLM ranking and the Beyond-Utility probes. */
export * from './catalogue.ts';
export * from './grounding.ts';
export * from './history.ts';
export * from './profile.ts';
export * from './rank.ts';
export * from './probes.ts';
export * from './candidates.ts';
export * from './compare.ts';
export * from './demographics.ts';
export { genreProfile, genreRanking } from './scripts.ts';
