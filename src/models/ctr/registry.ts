/**
 * The CTR models, by name: each with its config schema (the shared keys of
 * {@link ctrBaseSchema} plus its own) and the head it puts on the field embeddings. CTR models
 * predict a click probability per impression rather than ranking a catalogue, so they have their
 * own registry next to the ranking one (src/models/registry.ts) with the same create/load shape.
 */
import { z } from 'zod';
import { AutoIntHead } from './autoint.ts';
import { DcnV2Head } from './dcnv2.ts';
import { DeepFmHead } from './deepfm.ts';
import { DinHead } from './din.ts';
import { FmHead } from './fm.ts';
import { LrHead } from './lr.ts';
import { CtrModel, ctrBaseSchema, type CtrModelEntry } from './model.ts';

const hidden = z.array(z.number().int().positive()).min(1);

const ENTRIES: CtrModelEntry[] = [
  { name: 'lr', description: 'logistic regression on one-hot features (+ a linear read-out of knowledge vectors)', configSchema: ctrBaseSchema.strict(), head: (ctx) => new LrHead(ctx) },
  { name: 'fm', description: 'factorization machine over field embeddings (Rendle 2010)', configSchema: ctrBaseSchema.strict(), head: (ctx) => new FmHead(ctx) },
  {
    name: 'deepfm',
    description: 'DeepFM: FM + MLP sharing the embeddings (Guo et al. 2017)',
    configSchema: ctrBaseSchema.extend({ hidden: hidden.default([200, 80]).describe('MLP widths') }).strict(),
    head: (ctx, c) => new DeepFmHead(ctx, c.hidden as number[]),
  },
  {
    name: 'dcnv2',
    description: 'DCN-V2: full-rank cross layers in parallel with an MLP (Wang et al. 2021)',
    configSchema: ctrBaseSchema.extend({ crossLayers: z.number().int().positive().default(2).describe('cross layers'), hidden: hidden.default([200, 80]).describe('MLP widths') }).strict(),
    head: (ctx, c) => new DcnV2Head(ctx, c.crossLayers as number, c.hidden as number[]),
  },
  {
    name: 'din',
    description: 'DIN: target attention over the behaviour sequence (Zhou et al. 2018)',
    configSchema: ctrBaseSchema.extend({ hidden: hidden.default([200, 80]).describe('MLP widths'), attentionHidden: z.number().int().positive().default(36).describe('activation unit width') }).strict(),
    head: (ctx, c) => new DinHead(ctx, c.hidden as number[], c.attentionHidden as number, c.maxHistory as number),
  },
  {
    name: 'autoint',
    description: 'AutoInt: multi-head self-attention across fields (Song et al. 2019)',
    configSchema: ctrBaseSchema.extend({ layers: z.number().int().positive().default(2).describe('interacting layers'), heads: z.number().int().positive().default(2).describe('attention heads (dim divisible by heads)') }).strict(),
    head: (ctx, c) => new AutoIntHead(ctx, c.layers as number, c.heads as number),
  },
];

const BY_NAME = new Map(ENTRIES.map((e) => [e.name, e]));

/** All CTR model kinds. */
export function listCtrModels(): CtrModelEntry[] {
  return [...ENTRIES];
}

/** The entry for `name`, or an error listing the known names. */
export function ctrModelEntry(name: string): CtrModelEntry {
  const e = BY_NAME.get(name.toLowerCase());
  if (!e) throw new Error(`unknown CTR model "${name}"; known CTR models: ${[...BY_NAME.keys()].join(', ')}`);
  return e;
}

/** A new untrained CTR model. */
export function createCtrModel(name: string, config: Record<string, unknown> = {}): CtrModel {
  return new CtrModel(ctrModelEntry(name), config);
}

/** Loads a saved CTR model (the name is in its model.json: `ctr:<name>`). */
export async function loadCtrModel(dir: string): Promise<CtrModel> {
  const { readCheckpointMeta } = await import('../checkpoint.ts');
  const meta = await readCheckpointMeta(dir);
  if (!meta.name.startsWith('ctr:')) throw new Error(`${dir}: "${meta.name}" is not a CTR model`);
  return CtrModel.load(ctrModelEntry(meta.name.slice(4)), dir);
}
