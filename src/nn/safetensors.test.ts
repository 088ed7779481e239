import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';

describe('safetensors', () => {
  it('round-trips tensors and metadata with the documented layout', () => {
    const bytes = encodeSafetensors(
      { w: { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] }, ids: { data: new Int32Array([7, -1]), shape: [2] } },
      { model: 'test' },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString());
    // Names sorted: ids (8 bytes) first, then w.
    expect(header.ids).toEqual({ dtype: 'I32', shape: [2], data_offsets: [0, 8] });
    expect(header.w).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [8, 32] });
    expect((8 + headerLen) % 8).toBe(0);
    const back = decodeSafetensors(bytes);
    expect(Array.from(back.tensors.w.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(back.tensors.ids.data)).toEqual([7, -1]);
    expect(back.metadata).toEqual({ model: 'test' });
  });

  it('rejects a truncated file with a clear error', () => {
    const bytes = encodeSafetensors({ w: { data: new Float32Array(10), shape: [10] } });
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4), 'x.safetensors')).toThrow(/x.safetensors.*out of bounds/);
    expect(() => decodeSafetensors(bytes.subarray(0, 4), 'x.safetensors')).toThrow(/too short/);
  });
});
