/**
 * TIGER-style generative retrieval as a Recommender (Rajput et al., "Recommender Systems with
 * Generative Retrieval", NeurIPS 2023): every item has a short code tuple (an ID table from
 * `reclab ids build`: RQ-VAE semantic IDs, random, sequential or collaborative ones); the network
 * (./tiger-net.ts) reads the user's recent items as code tokens and generates the next item's
 * codes; retrieval is beam search constrained to the trie of valid IDs (./trie.ts), so it only
 * ever returns items — including items with no training events (cold start), as long as the ID
 * table gives them an ID.
 *
 * Training: teacher forcing on (history → next item) pairs drawn uniformly from every training
 * position of every user (history = the up to `maxItems` items before it), cross-entropy of the
 * target's m codes. Scoring (`scoreUsers`): the beam's items get their log-probability, every
 * other item −3.4e38 — the model ranks only what it retrieves (top `beam`), as TIGER does.
 */
import { z } from 'zod';
import type { Interactions } from '../../data/types.ts';
import type { FitOptions, FitReport, SequentialRecommender } from '../recommender.ts';
import type { ModelEntry } from '../registry.ts';
import { EngineSequentialModel } from '../seq/engine-model.ts';
import { startTraining } from '../seq/resume.ts';
import { runEpochs } from '../seq/train-loop.ts';
import { Rng } from '../../util/rng.ts';
import { parseConfig } from '../../util/schema.ts';
import { loadIdTable, type IdTable } from './ids.ts';
import { TigerNet, tigerVocab, type TigerBatch } from './tiger-net.ts';
import { TigerDecoder, type DecoderState, type TigerMemory } from './tiger-infer.ts';
import { IdTrie, constrainedBeamSearch, levelLogSoftmax, type Retrieved } from './trie.ts';
import { BeamDecoder } from './beam.ts';

/** Hyperparameters (TIGER: d 128, 4 + 4 layers, 6 heads, MLP 1024, dropout 0.1, 20 items of history; smaller defaults for CPU). */
export const TigerConfigSchema = z.object({
  // Optional in the schema so `createModel('tiger')` and `reclab models tiger` work without a file;
  // the model cannot fit or score without one, and says so when it first needs it.
  ids: z.string().min(1).optional().describe('path of the ID table (JSON from `reclab ids build`); required to fit'),
  maxItems: z.number().int().positive().default(20).describe('history items read (the latest)'),
  hidden: z.number().int().positive().default(64).describe('model width d'),
  heads: z.number().int().positive().default(2).describe('attention heads'),
  ffn: z.number().int().positive().default(256).describe('feed-forward width'),
  encBlocks: z.number().int().nonnegative().default(2).describe('encoder blocks'),
  decBlocks: z.number().int().positive().default(2).describe('decoder blocks'),
  dropout: z.number().min(0).max(0.9).default(0.1).describe('dropout'),
  userBuckets: z.number().int().positive().default(2000).describe('hashed user tokens (TIGER: 2,000)'),
  lr: z.number().positive().default(1e-3).describe('AdamW learning rate'),
  beta2: z.number().min(0).max(1).default(0.98).describe('Adam β₂'),
  weightDecay: z.number().min(0).default(0.01).describe('decoupled weight decay'),
  batchSize: z.number().int().positive().default(256).describe('examples per step'),
  epochs: z.number().int().nonnegative().default(20).describe('epochs'),
  stepsPerEpoch: z.number().int().nonnegative().default(0).describe('steps per epoch; 0 = ⌈training positions / batchSize⌉ (one pass in expectation)'),
  beam: z.number().int().positive().default(20).describe('beam width at retrieval (items ranked per user)'),
  excludeHistory: z.boolean().default(true).describe('drop the user\'s history items from the beam (the full-ranking protocol filters them anyway)'),
  threads: z.number().int().nonnegative().default(0).describe('threads; 0 = the machine\'s cores'),
  lnEps: z.number().positive().default(1e-6).describe('layer-norm ε'),
}).strict();

/** TIGER hyperparameters with defaults filled in. */
export type TigerConfig = z.infer<typeof TigerConfigSchema>;

/**
 * Users per engine pass of the memory computation: the pass carves activation buffers for the
 * whole pass (≈ 2.4 MB per user of 20 history items), so a training-sized batch of 256 would
 * zero ≈ 600 MB the first time — more CPU than the pass itself. 32 users keep the GEMMs large.
 */
const MEMORY_CHUNK = 32;

/** The lowest finite float32: the score of items the beam did not retrieve. */
const NOT_RETRIEVED = -3.4e38;

/** Hash of a user id into a bucket (Knuth's multiplicative hash). */
function userBucket(u: number, buckets: number): number {
  return (Math.imul(u + 1, 2654435761) >>> 0) % buckets;
}

/** TIGER as a {@link SequentialRecommender}. */
export class Tiger extends EngineSequentialModel<TigerNet, TigerConfig> implements SequentialRecommender {
  readonly name = 'tiger';
  private table: IdTable | null = null;
  private trie: IdTrie | null = null;
  private decoder: { version: number; dec: TigerDecoder } | null = null;
  private beamDec: { version: number; dec: BeamDecoder } | null = null;

  /** @param config hyperparameters; `ids` is required */
  constructor(config: Record<string, unknown> = {}, table?: IdTable) {
    super(parseConfig('tiger', TigerConfigSchema, config));
    if (table) this.table = table;
  }

  /** The ID table in use (read from `config.ids` on first use unless given to the constructor). */
  get ids(): IdTable {
    if (!this.table && this.config.ids === undefined) {
      throw new Error('tiger config: key "ids": required — the path of an ID table made by `reclab ids build`');
    }
    this.table ??= loadIdTable(this.config.ids!);
    return this.table;
  }

  protected createNetwork(nItems: number): TigerNet {
    const t = this.ids;
    if (t.nItems !== nItems) throw new Error(`tiger: the ID table ${this.config.ids} has ${t.nItems} items, the data ${nItems}`);
    const c = this.config;
    const vocab = tigerVocab(t.cardinalities, c.userBuckets);
    return new TigerNet({
      hidden: c.hidden, heads: c.heads, ffn: c.ffn, encBlocks: c.encBlocks, decBlocks: c.decBlocks, dropout: c.dropout,
      lr: c.lr, beta2: c.beta2, weightDecay: c.weightDecay, lnEps: c.lnEps, threads: c.threads, maxEncLen: 1 + c.maxItems * vocab.m,
    }, vocab, nItems);
  }

  /** Encoder tokens of a user (hashed user token, then the codes of the last maxItems items). */
  encoderTokens(user: number, items: ArrayLike<number>, end = items.length): Int32Array {
    const t = this.ids, v = this.network.vocab, m = v.m;
    const start = Math.max(0, end - this.config.maxItems);
    const out = new Int32Array(1 + (end - start) * m);
    out[0] = v.codeTokens + userBucket(user, v.userBuckets);
    for (let i = start; i < end; i++) {
      const it = items[i];
      for (let l = 0; l < m; l++) out[1 + (i - start) * m + l] = v.levelOffset[l] + t.codes[it * m + l];
    }
    return out;
  }

  /** A batch from (user, position) examples of `train`: history = items before the position, target = the item at it. */
  makeBatch(train: Interactions, users: Int32Array, positions: Int32Array): TigerBatch {
    const v = this.network.vocab, m = v.m, t = this.ids;
    const n = users.length;
    const encs: Int32Array[] = [];
    const encOff = new Int32Array(n + 1);
    const decIds = new Int32Array(n * m), targets = new Int32Array(n * m);
    for (let s = 0; s < n; s++) {
      const a = train.offsets[users[s]];
      const items = train.items.subarray(a, train.offsets[users[s] + 1]);
      const e = this.encoderTokens(users[s], items, positions[s]);
      encs.push(e);
      encOff[s + 1] = encOff[s] + e.length;
      const target = items[positions[s]];
      for (let l = 0; l < m; l++) {
        const tok = v.levelOffset[l] + t.codes[target * m + l];
        targets[s * m + l] = tok;
        decIds[s * m + l] = l === 0 ? v.bos : targets[s * m + l - 1];
      }
    }
    const encIds = new Int32Array(encOff[n]), encPos = new Int32Array(encOff[n]);
    encs.forEach((e, s) => {
      encIds.set(e, encOff[s]);
      for (let i = 0; i < e.length; i++) encPos[encOff[s] + i] = i;
    });
    return { nSeq: n, encOff, encIds, encPos, decIds, targets };
  }

  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    const net = this.beginFit(train.nItems);
    const c = this.config;
    const rng = new Rng(options.seed);
    net.init(rng.fork());
    // every (user, position ≥ 1) of the training events is an example
    const exUsers: number[] = [], exPos: number[] = [];
    for (let u = 0; u < train.nUsers; u++) {
      const len = train.offsets[u + 1] - train.offsets[u];
      for (let p = 1; p < len; p++) {
        exUsers.push(u);
        exPos.push(p);
      }
    }
    if (exUsers.length === 0) throw new Error('tiger: no user has two or more training events');
    const steps = c.stepsPerEpoch || Math.ceil(exUsers.length / c.batchSize);
    const run = await startTraining({ model: this, net, rng, options, epochs: c.epochs, modelState: this.savedState() });
    const users = new Int32Array(c.batchSize), pos = new Int32Array(c.batchSize);
    const report = await runEpochs({
      name: 'tiger', run, options, epochs: c.epochs, steps, yieldEachStep: true, lossHint: 'lower lr',
      step: () => {
        for (let b = 0; b < c.batchSize; b++) {
          const e = rng.int(exUsers.length);
          users[b] = exUsers[e];
          pos[b] = exPos[e];
        }
        return net.trainStep(this.makeBatch(train, users, pos), c.lr, rng);
      },
    });
    this.endFit(report, options.seed, net.threads);
    return report;
  }

  protected override savedState(): Record<string, unknown> {
    const t = this.ids;
    return { idScheme: t.scheme, idLevels: t.levels, idCardinalities: t.cardinalities };
  }

  private jsDecoder(): TigerDecoder {
    const net = this.network;
    if (!this.decoder || this.decoder.version !== net.version) this.decoder = { version: net.version, dec: new TigerDecoder(net) };
    return this.decoder.dec;
  }

  private fastDecoder(): BeamDecoder {
    const net = this.network;
    this.trie ??= new IdTrie(this.ids);
    if (!this.beamDec || this.beamDec.version !== net.version) this.beamDec = { version: net.version, dec: new BeamDecoder(net, this.trie, this.ids.cardinalities) };
    return this.beamDec.dec;
  }

  /**
   * The top-`k` items of many users at once from their memories (batched incremental beam search
   * on the engine, ./beam.ts: the same items and scores as {@link retrieveFrom}, several times
   * faster); `exclude[u]` drops items at user u's leaves.
   */
  retrieveMany(mems: TigerMemory[], k: number, beam = this.config.beam, exclude?: ((item: number) => boolean)[]): Retrieved[][] {
    return this.fastDecoder().search(mems, k, beam, exclude);
  }

  /**
   * The top-`k` items for encoder tokens `enc` by beam search of width `beam` over the ID trie,
   * with log-probability scores; `exclude` drops items at the leaves.
   */
  retrieve(enc: ArrayLike<number>, k: number, beam = this.config.beam, exclude?: (item: number) => boolean): Retrieved[] {
    return this.retrieveFrom(this.jsDecoder().memory(enc), k, beam, exclude);
  }

  /**
   * {@link retrieve} from a user's memory already computed (by the JS decoder or by the engine in a
   * batch), one prefix at a time in scalar JS: the reference {@link retrieveMany} is tested against.
   */
  retrieveFrom(mem: TigerMemory, k: number, beam = this.config.beam, exclude?: (item: number) => boolean): Retrieved[] {
    const v = this.network.vocab, dec = this.jsDecoder();
    this.trie ??= new IdTrie(this.ids);
    const card = this.ids.cardinalities;
    // decoded prefixes by their codes: each beam extends its parent's cached rows by one token
    const states = new Map<string, DecoderState>();
    return constrainedBeamSearch(this.trie, beam, k, (beams, level) => beams.map((b) => {
      const parent = level === 0 ? null : states.get(b.codes.slice(0, -1).join(','))!;
      const token = level === 0 ? v.bos : v.levelOffset[level - 1] + b.codes[level - 1];
      const { logits, state } = dec.extend(mem, parent, token);
      states.set(b.codes.join(','), state);
      return levelLogSoftmax(logits, v.levelOffset[level], card[level]);
    }), exclude);
  }

  /** The memories of many users' encoder sequences, on the engine in passes of up to 32 users. */
  memoriesOf(encs: Int32Array[]): TigerMemory[] {
    const net = this.network, v = net.vocab, m = v.m;
    const out: TigerMemory[] = [];
    const chunk = Math.min(this.config.batchSize, MEMORY_CHUNK);
    for (let s0 = 0; s0 < encs.length; s0 += chunk) {
      const part = encs.slice(s0, s0 + chunk);
      const n = part.length;
      const encOff = new Int32Array(n + 1);
      part.forEach((e, s) => (encOff[s + 1] = encOff[s] + e.length));
      const encIds = new Int32Array(encOff[n]), encPos = new Int32Array(encOff[n]);
      part.forEach((e, s) => {
        encIds.set(e, encOff[s]);
        for (let i = 0; i < e.length; i++) encPos[encOff[s] + i] = i;
      });
      const decIds = new Int32Array(n * m).fill(v.bos); // any tokens: memory rows do not see them
      out.push(...net.memories({ nSeq: n, encOff, encIds, encPos, decIds, targets: new Int32Array(n * m) }));
    }
    return out;
  }

  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    const n = this.network.nItems;
    if (out.length < users.length * n) throw new Error(`tiger: out holds ${out.length} scores, need ${users.length}×${n}`);
    const hist = Array.from(users, (u) => history.items.subarray(history.offsets[u], history.offsets[u + 1]));
    const mems = this.memoriesOf(hist.map((items, r) => this.encoderTokens(users[r], items)));
    const seen = hist.map((items) => new Set(items));
    const top = this.retrieveMany(mems, this.config.beam, this.config.beam, this.config.excludeHistory ? seen.map((s) => (i: number) => s.has(i)) : undefined);
    top.forEach((rows, r) => this.fillRow(rows, out, r * n));
  }

  scoreSequence(sequence: Int32Array, out: Float32Array): void {
    const n = this.network.nItems;
    for (const it of sequence) if (!(it >= 0 && it < n)) throw new RangeError(`tiger: item ${it} outside 0..${n - 1}`);
    const seen = new Set(sequence);
    const mem = this.jsDecoder().memory(this.encoderTokens(-1, sequence));
    const [top] = this.retrieveMany([mem], this.config.beam, this.config.beam, this.config.excludeHistory ? [(i) => seen.has(i)] : undefined);
    this.fillRow(top, out, 0);
  }

  /** A score row: the retrieved items' log-probabilities, every other item {@link NOT_RETRIEVED}. */
  private fillRow(top: Retrieved[], out: Float32Array, off: number): void {
    out.fill(NOT_RETRIEVED, off, off + this.network.nItems);
    for (const r of top) out[off + r.item] = r.score;
  }

  /** Loads a model written by {@link save} (the ID table is read again from `config.ids`). */
  static async load(dir: string): Promise<Tiger> {
    return EngineSequentialModel.loadModel(dir, 'tiger', (config) => new Tiger(config));
  }
}

/** Registry entry (see registry.ts). */
export const tigerEntry: ModelEntry = {
  name: 'tiger',
  description: 'TIGER-style generative retrieval (Rajput et al. 2023): encoder–decoder over item code tokens, beam search constrained to the ID trie',
  configSchema: TigerConfigSchema,
  sequential: true,
  create: (config) => new Tiger(config),
  load: (dir) => Tiger.load(dir),
};
