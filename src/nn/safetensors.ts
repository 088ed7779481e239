/**
 * safetensors checkpoint I/O (the format PyTorch users load with `safetensors.torch.load_file`):
 * 8-byte little-endian header length, a JSON header mapping tensor names to dtype, shape and
 * byte offsets, then the raw little-endian tensor bytes. We write F32, F64, I32 and I64-free data.
 */
import { readFile, writeFile, rename } from 'node:fs/promises';

/** Typed arrays we store. */
export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array;

/** A named tensor: data plus shape (product of shape = data.length). */
export interface NamedTensor {
  data: TensorData;
  shape: number[];
}

const DTYPE_OF = (data: TensorData): string =>
  data instanceof Float32Array ? 'F32' : data instanceof Float64Array ? 'F64' : data instanceof Int32Array ? 'I32' : 'U8';

/** Serialises tensors (and optional string metadata) to safetensors bytes. Names are sorted for determinism. */
export function encodeSafetensors(tensors: Record<string, NamedTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const { data, shape } = tensors[name];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`safetensors: tensor "${name}" has ${data.length} values but shape [${shape}]`);
    header[name] = { dtype: DTYPE_OF(data), shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so tensor data starts 8-byte aligned.
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors[name];
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    pos += data.byteLength;
  }
  return out;
}

/** Parses safetensors bytes. Throws a clear error on a truncated or malformed file. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): {
  tensors: Record<string, NamedTensor>;
  metadata: Record<string, string>;
} {
  if (bytes.length < 8) throw new Error(`${source}: file too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (8 + headerLen > bytes.length) throw new Error(`${source}: header length ${headerLen} exceeds file size ${bytes.length}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString('utf8'));
  } catch (e) {
    throw new Error(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + headerLen;
  const tensors: Record<string, NamedTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [start, end] = data_offsets;
    if (base + end > bytes.length || start > end) throw new Error(`${source}: tensor "${name}" data out of bounds (truncated file?)`);
    // Copy so the result is aligned and independent of the input buffer.
    const raw = bytes.slice(base + start, base + end);
    let data: TensorData;
    if (dtype === 'F32') data = new Float32Array(raw.buffer, 0, raw.byteLength / 4);
    else if (dtype === 'F64') data = new Float64Array(raw.buffer, 0, raw.byteLength / 8);
    else if (dtype === 'I32') data = new Int32Array(raw.buffer, 0, raw.byteLength / 4);
    else if (dtype === 'U8') data = raw;
    else throw new Error(`${source}: tensor "${name}" has unsupported dtype ${dtype}`);
    tensors[name] = { data, shape };
  }
  return { tensors, metadata };
}

/** Writes a safetensors file atomically (temp file + rename: a crash never leaves half a checkpoint). */
export async function saveSafetensors(
  path: string,
  tensors: Record<string, NamedTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, encodeSafetensors(tensors, metadata));
  await rename(tmp, path);
}

/** Reads a safetensors file. */
export async function loadSafetensors(path: string): Promise<ReturnType<typeof decodeSafetensors>> {
  return decodeSafetensors(new Uint8Array(await readFile(path)), path);
}
