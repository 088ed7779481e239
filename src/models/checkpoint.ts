/**
 * The on-disk shape of a saved model, shared by every model: `<dir>/model.json` (format tag,
 * format version, model name, config, small state) and `<dir>/weights.safetensors` (tensors).
 * A checkpoint written by one version loads in the next or fails with a clear message.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors, type NamedTensor } from '../nn/safetensors.ts';

/** Format tag written into every model.json. */
export const CHECKPOINT_FORMAT = 'reclab-model';
/** Current checkpoint format version; loaders accept this and older versions they know. */
export const CHECKPOINT_VERSION = 1;

/** The JSON sidecar of a checkpoint. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Registry name of the model (`ease`, `sasrec`, …). */
  name: string;
  config: Record<string, unknown>;
  nItems: number;
  /** Model-specific small state (no large arrays: those go in the safetensors file). */
  state?: Record<string, unknown>;
  /** Training record: epochs, seconds, metrics… */
  training?: Record<string, unknown>;
  savedAt: string;
}

/** Writes a checkpoint into `dir` (created if needed). The JSON is written last, atomically. */
export async function writeCheckpoint(
  dir: string,
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'savedAt'>,
  tensors: Record<string, NamedTensor>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveSafetensors(join(dir, 'weights.safetensors'), tensors, { format: CHECKPOINT_FORMAT, model: meta.name });
  const full: CheckpointMeta = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, savedAt: new Date().toISOString(), ...meta };
  const tmp = join(dir, `model.json.tmp-${process.pid}`);
  await writeFile(tmp, `${JSON.stringify(full, null, 2)}\n`);
  await rename(tmp, join(dir, 'model.json'));
}

/** Reads `<dir>/model.json`, checking format and version. */
export async function readCheckpointMeta(dir: string): Promise<CheckpointMeta> {
  const path = join(dir, 'model.json');
  if (!existsSync(path)) throw new Error(`${dir}: not a reclab model directory (no model.json)`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await readFile(path, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${path}: format is "${meta.format}", expected "${CHECKPOINT_FORMAT}"`);
  if (!(meta.version >= 1 && meta.version <= CHECKPOINT_VERSION)) {
    throw new Error(`${path}: checkpoint version ${meta.version} is newer than this reclab supports (${CHECKPOINT_VERSION}); upgrade reclab`);
  }
  return meta;
}

/** Reads a checkpoint's meta and tensors. */
export async function readCheckpoint(dir: string): Promise<{ meta: CheckpointMeta; tensors: Record<string, NamedTensor> }> {
  const meta = await readCheckpointMeta(dir);
  const { tensors } = await loadSafetensors(join(dir, 'weights.safetensors'));
  return { meta, tensors };
}
