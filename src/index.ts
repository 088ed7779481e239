/**
 * reclab's public API: what `import … from 'reclab'` gives. Everything here is typed and
 * documented at its definition; docs/library.md walks through it with a worked example.
 *
 * The groups follow the path of data (../shared/ARCHITECTURE.md, docs/architecture.md): a source
 * becomes a `Dataset`, the dataset is split, models fit on the train view, evaluation scores them
 * under an explicit protocol, significance tests compare them, and the server serves them. What is
 * not exported here (kernels, the nn engine, CLI helpers, the experiment loop's internals) is
 * internal and may change between versions.
 */

// ── Data: datasets, readers, preparation, splits, statistics, registry and cache ────────────────
// `loadDataset({ source, format })` reads any supported source; `generateSynthetic` makes a
// realistic log offline; `prepare` dedups and k-cores; `splitDataset` makes train/valid/test views
// that record their protocol; `fetchDataset('ml-100k')` downloads (or takes `from`) a registry
// dataset, verified by SHA-256.
export * from './data/index.ts';

// ── Models: the Recommender interface, the registry, top-k ──────────────────────────────────────
// `createModel('ease', { lambda: 500 })` by registry name (`listModels()` lists them with their
// config defaults), `loadModel(dir)` for anything saved with `model.save(dir)`.
export type { Recommender, SequentialRecommender, DotProductModel, FitOptions, FitReport, EpochReport } from './models/recommender.ts';
export { isSequential, isDotProduct } from './models/recommender.ts';
/** Scoring on the kernel core: a dot-product model's packed item vectors, users × items scores. */
export { ItemPanels, scoreDot } from './kernels/score.ts';
export { createModel, loadModel, listModels, modelEntry, registerModel } from './models/registry.ts';
export type { ModelEntry } from './models/registry.ts';
// CTR: the view with feature fields, the click models, their metrics and the task of `reclab run`
export { buildCtrMovieLens100k, ctrSplitEvents, type CtrDataset } from './data/ctr.ts';
export { loadKnowledgeVectors, saveKnowledgeVectors, knowledgeTables, type KnowledgeVectors } from './data/ctr-knowledge.ts';
export { createCtrModel, loadCtrModel, listCtrModels, ctrModelEntry } from './models/ctr/registry.ts';
export { CtrModel } from './models/ctr/model.ts';
export { auc, gauc, logLoss, ctrMetrics, CTR_METRICS } from './eval/ctr-metrics.ts';
export { runCtrExperiment, loadCtrExperiment, type CtrExperimentConfig, type CtrExperimentResult } from './experiment/ctr.ts';
export { topK } from './models/topk.ts';
export type { TopK } from './models/topk.ts';

// ── Evaluation: metrics, protocols, the evaluator, significance, tables ─────────────────────────
// `evalViews(split)` gives the validation and test views under the one valid/test rule;
// `evaluate(model, views.test, { protocol: 'full', metrics: ['ndcg@10'] })` ranks and scores.
export { evaluate, rankRelevant, usersWithTargets } from './eval/evaluate.ts';
export type { EvalData, EvalOptions, EvalResult, ProtocolRecord, TieRule } from './eval/evaluate.ts';
export { evalViews, stageCandidates } from './experiment/data.ts';
export type { EvalViews, StageCandidates } from './experiment/data.ts';
export { parseProtocol, protocolName, sampleCandidates } from './eval/protocol.ts';
export type { Protocol, CandidateLists } from './eval/protocol.ts';
export { parseMetric, RANK_METRICS, LIST_METRICS, CATALOGUE_METRICS, FILE_METRICS } from './eval/metrics.ts';
export type { MetricSpec, ItemFeatures } from './eval/metrics.ts';
export { itemFeatures } from './eval/features.ts';
export { readRecommendations, evaluateLists } from './eval/recfile.ts';
export { pairedTTest, wilcoxon, bootstrapCI, bootstrapDiffCI, meanStd } from './eval/significance.ts';
export type { TestResult, Interval } from './eval/significance.ts';
export { binomialTest, fleissKappa, ksTest } from './eval/hypothesis.ts';
export type { BinomialTest, FleissKappa, KsTest } from './eval/hypothesis.ts';
export { toText, toMarkdown, toCsv } from './eval/table.ts';
export type { Table } from './eval/table.ts';

// ── Serving: the HTTP service (Gorse's API) on a trained bundle ─────────────────────────────────
// `trainBundle(dataset, { model, out })` fits on every event and saves a servable bundle;
// `startServer({ models: dir, db: 'sqlite:reclab.db', port, host })` serves it; `buildApp` gives the
// Fastify app for embedding in your own process.
export { buildApp } from './serve/app.ts';
export type { AppOptions, Service } from './serve/app.ts';
export { startServer, runServer } from './serve/server.ts';
export type { ServerOptions, RunningServer } from './serve/server.ts';
export { trainBundle } from './serve/train.ts';
export type { TrainOptions } from './serve/train.ts';
export { loadBundle, saveBundle, isBundleDir } from './serve/bundle.ts';
export type { BundleMeta, ServedModel } from './serve/bundle.ts';

// ── LLMs: the client (OpenAI-compatible, GGUF, replay, scripted), cache, accounting, embedder ───
// `createClient('openai:llama3.1:8b', { baseURL })` or `createClient('scripted:<name>')` offline.
export * from './llm/index.ts';
// LLM knowledge for recommenders: KAR extraction and LIBER lifelong profiles (docs/knowledge.md)
export { buildKnowledgeRequests, estimatePlan, runPlan, OfflineKnowledgeSource, LlmKnowledgeSource, MOVIE_FACTORS } from './knowledge/kar.ts';
export { buildKnowledge } from './knowledge/build.ts';
export { LiberProfiler, LlmLiberSource, OfflineLiberSource, fusePartitions, buildLiberKnowledge } from './knowledge/liber.ts';

// ── Performance laws: data quality, the recommendation law, its fit, the LLM performance law ────
export { dataQuality, popularityEntropy } from './laws/quality.ts';
export type { DataQuality, ApenOptions } from './laws/quality.ts';
export { lawValue, PARAM_NAMES } from './laws/law.ts';
export type { LawParams, ParamName } from './laws/law.ts';
export { fitLaw, predictLaw, bestSize, leaveOneConfigOut } from './laws/fit.ts';
export type { LawPoint, LawFit, FitOptions as LawFitOptions, LocoReport, LocoRow } from './laws/fit.ts';
export { readLawPoints } from './laws/records.ts';
export { predictWithInterval } from './laws/predict.ts';
export type { Prediction as LawPrediction, PredictOptions as LawPredictOptions } from './laws/predict.ts';
export { runSweep } from './laws/sweep.ts';
export type { SweepSpec, SweepPoint } from './laws/sweep.ts';
export { llmPerformanceLaw } from './laws/llm.ts';
export type { LlmShape, LlmPrediction } from './laws/llm.ts';

// ── Simulation: environment, policies, SPRec, SynAlign (docs/sim.md) ──────────────────────────
export { SimEnv, SIM_MODES, ENV_DEFAULTS, categoriesFromSide, categoriesFromLists, wouldQuit } from './sim/env.ts';
export type { SimMode, EnvConfig, ItemCategories, Observation as SimObservation, StepResult as SimStepResult } from './sim/env.ts';
export { fitRatingModel } from './sim/user-model.ts';
export type { RewardMatrix, RatingModel, RatingModelOptions } from './sim/user-model.ts';
export { RandomPolicy, PopularityPolicy, GreedyPolicy, EpsilonGreedyPolicy, LinUcbPolicy, LinUcbFeatures } from './sim/policies.ts';
export type { Policy as SimPolicy } from './sim/policies.ts';
export { DqnPolicy } from './sim/rl/dqn.ts';
export { A2cPolicy } from './sim/rl/a2c.ts';
export { StateBuilder } from './sim/rl/state.ts';
export { playEpisode, playEpisodes, summarize as summarizeEpisodes } from './sim/rollout.ts';
export type { Episode as SimEpisode, EpisodeSummary } from './sim/rollout.ts';
export { runSimExperiment, POLICY_NAMES } from './sim/experiment.ts';
export type { SimExperimentOptions, SimExperimentResult, PolicyResult } from './sim/experiment.ts';
export { runSprec, pairRecords, writePairsJsonl, validatePairsJsonl, DpoPairSchema } from './sim/sprec.ts';
export type { SprecOptions, SprecRound, DpoPairRecord } from './sim/sprec.ts';
export { runSprecSasrec, SPREC_SASREC_DEFAULTS } from './sim/sprec-sasrec.ts';
export type { SprecSasrecOptions, SprecSasrecRound } from './sim/sprec-sasrec.ts';
export { runSprecSasrecExperiment } from './sim/sprec-sasrec-experiment.ts';
export { mmd2, mmdProblem, mmdWeights, medianBandwidth2, projectSimplex, selectDemonstrations } from './sim/synalign.ts';
export { runSynAlignExperiment } from './sim/synalign-experiment.ts';

// ── Agents and judge methods: checked tool calls, step rewards, grounded chat (docs/agents.md) ──
export { runAgent, AgentAction, LAST_STEP_HINT, ToolSet, defineTool, RawId, checkCall, CallStats, ERROR_KINDS, scoreTrajectory, rankByReward, reclabTools, datasetIds, runTasks, managerTools, TASKS, rerankTask, ratingTask, explainTask, permutationProblem, rerankMetrics, ratingMetrics, writeTrajectories, ChatRecommender } from './agents/index.ts';
export type { AgentTask, AgentOptions, Role, Tool, IdResolver, CallError, CallErrorKind, Trajectory, Step as AgentStep, StepReward, TaskRun, TeamOptions, AgentData, ChatSession, ChatAnswer } from './agents/index.ts';
export { revisEval, crowdEval, pairwise, judgePair, stripVerdict, rougeL, bleu, JUDGE_METHODS } from './judge/index.ts';
export type { JudgeMethod, JudgeMethodName, PairResult } from './judge/index.ts';
