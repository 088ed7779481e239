/** The data layer: readers, preparation, splits, sequence views, statistics, registry, cache. */
export * from './types.ts';
export * from './interactions.ts';
export { DataError } from './errors.ts';
export { apen, datasetApen } from './apen.ts';
export { loadDataset, loadDatasetWithInfo, SYNTHETIC_DEFAULT } from './load.ts';
export type { DataSpec, LoadInfo, LoadOptions } from './load.ts';
export { prepare, prepareWithReport, normalizePrepare } from './prepare.ts';
export type { PrepareOptions, PrepareReport } from './prepare.ts';
export { splitDataset } from './split.ts';
export type { SplitOptions } from './split.ts';
export { truncateSequences, padSequences, sequenceLengths } from './sequences.ts';
export { describeDataset, formatStats, gini } from './stats.ts';
export type { DatasetStats, DescribeOptions } from './stats.ts';
export { generateSynthetic, syntheticEvents } from './synthetic.ts';
export type { SyntheticOptions } from './synthetic.ts';
export { CATALOG, fetchDataset, defaultCacheDir, datasetDir, FetchError } from './registry.ts';
export { readSource, detectFormat, FILE_FORMATS } from './readers/index.ts';
export { readCache, writeCache } from './cache.ts';
