/**
 * Checkpoint and best-epoch plumbing shared by the engine-trained sequential models (SASRec,
 * BERT4Rec, GRU4Rec, HSTU): each owns a network with a ParamSet, an Adam step counter and cached
 * derived tensors. Saving, loading, snapshot and restore are the same for all of them; only the
 * network's constructor and a few state fields differ.
 */
import type { ParamSet } from '../../nn/params.ts';
import type { NamedTensor } from '../../nn/safetensors.ts';
import { readCheckpoint, writeCheckpoint } from '../checkpoint.ts';

/** What the shared plumbing needs of a sequential model's network. */
export interface EngineNetwork {
  readonly nItems: number;
  readonly params: ParamSet;
  readonly adam: { t: number };
  /** Drops tensors derived from the weights (e.g. a transposed item table). */
  invalidate(): void;
}

/** Writes `net`'s weights and the model's config (+ model-specific state fields) to `dir`. */
export async function saveNetwork(
  dir: string,
  model: { name: string; config: object; record: Record<string, unknown> },
  net: EngineNetwork,
  extraState: Record<string, unknown> = {},
): Promise<void> {
  await writeCheckpoint(dir, {
    name: model.name,
    config: { ...model.config } as Record<string, unknown>,
    nItems: net.nItems,
    state: { paddingRow: 0, itemIdOffset: 1, ...extraState, adamSteps: net.adam.t },
    training: model.record,
  }, net.params.toTensors());
}

/**
 * Reads a checkpoint of model `name` and loads its weights into the network that `build`
 * makes from the saved config and catalogue size (after `migrate` has brought tensors of an
 * older layout up to date). Returns the network and the saved meta.
 */
export async function loadNetwork<N extends EngineNetwork>(
  dir: string,
  name: string,
  build: (config: Record<string, unknown>, nItems: number) => N,
  migrate?: (tensors: Record<string, NamedTensor>) => void,
): Promise<{ net: N; config: Record<string, unknown>; training: Record<string, unknown> }> {
  const { meta, tensors } = await readCheckpoint(dir);
  if (meta.name !== name) throw new Error(`${dir}: checkpoint is a "${meta.name}" model, not ${name}`);
  migrate?.(tensors);
  const net = build(meta.config, meta.nItems);
  net.params.fromTensors(tensors, `${dir}/weights.safetensors`);
  net.invalidate();
  return { net, config: meta.config, training: meta.training ?? {} };
}

/** A copy of the trainable state (weights + Adam step) for restoring the best epoch. */
export function snapshotNetwork(net: EngineNetwork): unknown {
  return { params: net.params.snapshot(), t: net.adam.t };
}

/** Restores a state from {@link snapshotNetwork}. */
export function restoreNetwork(net: EngineNetwork, state: unknown): void {
  const s = state as { params: Float32Array[]; t: number };
  net.params.restore(s.params);
  net.invalidate();
  net.adam.t = s.t;
}
