/** Pairwise judging: the Recommendation Arena, its statistics and its report. */
export * from './arena.ts';
export * from './stats.ts';
export * from './summary.ts';
export * from './panel.ts';
export * from './report.ts';
export * from './human.ts';
export { genreOverlapVerdict, genreShares } from './scripts.ts';
export * from './methods.ts';
export * from './pair.ts';
export * from './textmetrics.ts';
export * from './method-summary.ts';
